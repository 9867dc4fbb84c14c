"""Every statistic of the series state equals a pandas oracle, on random streams with gaps, duplicates and
out-of-order readings, for random batch splits and shard counts, over all default windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from state_oracle import apply_in_batches, oracle, random_stream, union_view

from vitals.catalog import Catalog
from vitals.state import DEFAULT_WINDOWS, ShardState, Window
from vitals.state.quantile import QuantileGrid

EXACT = ("readings", "last", "last_ts_s", "seconds_since_last", "stuck", "level", "raw_level")


def _run(catalog: Catalog, seed: int, n_shards: int, cuts: list[int], windows: tuple[Window, ...]):
    rng = np.random.default_rng(seed)
    stream = random_stream(catalog, rng)
    cut_at = [int(c * len(stream.batch)) for c in cuts]
    states = [ShardState(catalog, k, n_shards, windows) for k in range(n_shards)]
    dups = apply_in_batches(states, stream.batch, cut_at, catalog)
    return stream, union_view(states), dups


def _check(catalog: Catalog, stream, view, dups: int, windows) -> None:
    expected = oracle(catalog, stream, windows)
    assert dups == int(stream.duplicate.sum())
    np.testing.assert_array_equal(view.series, expected.index.to_numpy())
    for name in EXACT:
        np.testing.assert_allclose(view.column(name), expected[name].to_numpy(), rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(view.column("ewma"), expected["ewma"], rtol=1e-9, err_msg="ewma")
    np.testing.assert_allclose(view.column("dropout_ratio"), expected["dropout_ratio"], rtol=1e-9, atol=1e-12)
    scale = float(np.abs(stream.batch.value).max()) + 1.0
    grid = QuantileGrid(catalog)
    for w in windows:
        col = lambda s, w=w: view.column(f"{s}_{w.name}")  # noqa: E731
        exp = lambda s, w=w: expected[f"{s}_{w.name}"].to_numpy(dtype=float)  # noqa: E731
        np.testing.assert_array_equal(col("count"), exp("count"), err_msg=f"count_{w.name}")
        for stat in ("mean", "min", "max"):
            np.testing.assert_allclose(col(stat), exp(stat), rtol=2e-6, atol=scale * 1e-6, err_msg=f"{stat}_{w.name}")
        np.testing.assert_allclose(col("rate"), exp("rate"), rtol=1e-3, atol=scale * 1e-4 / w.bucket_s,
                                   err_msg=f"rate_{w.name}")
        _check_p95(grid, view, col, exp, scale)


def _check_p95(grid: QuantileGrid, view, col, exp, scale: float) -> None:
    """The estimate lies in the true value's bin, clamped to the window's min and max."""
    true, est = exp("p95"), col("p95")
    has = ~np.isnan(true)
    np.testing.assert_array_equal(np.isnan(est), ~has)
    lower, upper = grid.edges(view.indicator[has], grid.bins(view.indicator[has], true[has]))
    lower, upper = np.maximum(lower, col("min")[has]), np.minimum(upper, col("max")[has])
    tol = scale * 2e-6
    assert np.all(est[has] >= lower - tol) and np.all(est[has] <= upper + tol)
    small = has & (exp("count") < 20)  # rank N: the exact max
    np.testing.assert_allclose(est[small], col("max")[small], rtol=0)


@given(seed=st.integers(0, 2**32 - 1), n_shards=st.sampled_from([1, 2, 3]),
       cuts=st.lists(st.floats(0, 1), max_size=12))
def test_every_statistic_equals_the_oracle(small_catalog: Catalog, seed: int, n_shards: int, cuts: list[float]):
    stream, view, dups = _run(small_catalog, seed, n_shards, cuts, DEFAULT_WINDOWS)
    _check(small_catalog, stream, view, dups, DEFAULT_WINDOWS)


@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.floats(0, 1), max_size=6))
def test_custom_windows_equal_the_oracle(small_catalog: Catalog, seed: int, cuts: list[float]):
    windows = (Window("2m", 120, 4), Window("30m", 1800, 3), Window("6h", 21600, 6))
    stream, view, dups = _run(small_catalog, seed, 1, cuts, windows)
    _check(small_catalog, stream, view, dups, windows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_do_not_depend_on_batch_boundaries(small_catalog: Catalog, seed: int):
    whole = _run(small_catalog, seed, 1, [], DEFAULT_WINDOWS)[1]
    rng = np.random.default_rng(seed)
    split = _run(small_catalog, seed, 1, sorted(rng.random(40).tolist()), DEFAULT_WINDOWS)[1]
    for name, column in whole.columns.items():
        np.testing.assert_allclose(split.column(name), column, rtol=1e-6, equal_nan=True, err_msg=name)
