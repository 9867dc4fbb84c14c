"""One window accumulator: offline window features (a whole history or training grid at once) and the streaming
ones (the flow's residual windows, the detector's raw windows) come from the same core and agree exactly on
random data cut into random batches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vitals.catalog import Catalog, SeasonalModel
from vitals.detectors import WindowFeatureModel
from vitals.detectors.window_forest import STATS, combine_runs, point_stats, window_features
from vitals.forecasting.grid import SeriesGrid
from vitals.scoring.city_window_model import grid_cells
from vitals.scoring.window_state import WindowAccumulator

NS = 10**9
START_NS = 1_767_225_600 * NS  # 2026-01-01 00:00 UTC


def _readings(catalog: Catalog, seed: int) -> tuple[np.ndarray, ...]:
    """Time-ordered readings of a few series at random times and cadences; rounded values repeat (cells that
    do not count) in some series."""
    rng = np.random.default_rng(seed)
    n_series = int(rng.integers(3, 12))
    series = rng.choice(catalog.n_series, n_series, replace=False)
    n = int(rng.integers(500, 4000))
    ts = START_NS + np.sort(rng.integers(0, int(rng.integers(6, 30)) * 3600, n)) * NS
    pick = series[rng.integers(0, n_series, n)]
    ind = pick // catalog.n_streets
    seasonal = SeasonalModel(catalog)
    value = seasonal.expected(ind, ts) + seasonal.noise[ind] * rng.normal(0.0, 1.0, n)
    value = np.clip(np.round(value, int(rng.integers(0, 3))), catalog.valid_min_array[ind],
                    catalog.valid_max_array[ind])  # valid readings only (the grid drops the others)
    return ind, pick % catalog.n_streets, ts, value, pick


def _cuts(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    cuts = np.sort(rng.choice(np.arange(1, n), int(rng.integers(0, min(60, n - 1))), replace=False))
    return list(zip(np.r_[0, cuts], np.r_[cuts, n], strict=True))


@pytest.mark.parametrize("seed", range(8))
def test_streaming_residual_windows_equal_the_offline_ones(small_catalog: Catalog, seed: int) -> None:
    ind, street, ts, value, series = _readings(small_catalog, seed)
    grid = SeriesGrid.from_readings(small_catalog, ind, street, ts, value, step_s=300)
    cells = grid_cells(grid, small_catalog, 3600, 3)
    _, key_w, raw = window_features(cells.indicator, cells.key, cells.residual)
    first = np.searchsorted(cells.key, key_w)
    offline = {(int(cells.series[i]), int(cells.window_start_ns[i])): raw[k] for k, i in enumerate(first)}

    acc = WindowAccumulator(np.arange(small_catalog.n_series) // small_catalog.n_streets)
    seasonal = SeasonalModel(small_catalog)
    streamed = {}
    for lo, hi in _cuts(np.random.default_rng(seed + 100), ts.size):
        closed = acc.update(seasonal, series[lo:hi], ts[lo:hi], value[lo:hi])
        for s, w, f in zip(closed.rows, closed.window_start_ns, closed.raw, strict=True):
            assert (int(s), int(w)) not in streamed  # a window closes once
            streamed[int(s), int(w)] = f
    assert streamed and streamed.keys() <= offline.keys()
    last_window = {int(s): int(t) // (3600 * NS) * 3600 * NS for s, t in zip(series, ts, strict=True)}
    for key in offline.keys() - streamed.keys():  # only a series' last window can still be open
        assert key[1] == last_window[key[0]], key
    for key, features in streamed.items():
        np.testing.assert_array_equal(features, offline[key], err_msg=str(key))


@pytest.mark.parametrize("seed", range(8))
def test_streaming_raw_windows_equal_the_offline_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_series = int(rng.integers(300, 3000)), int(rng.integers(1, 10))
    ts = START_NS + np.sort(rng.integers(0, 20 * 3600, n)) * NS
    series = rng.integers(0, n_series, n)
    value = np.round(rng.normal(10.0, 3.0, n), 2)
    model = WindowFeatureModel(window_s=3600, n_estimators=5, max_samples=32, min_count=3)
    model.fit(series, ts, value, n_series=n_series)
    model._allocate(n_series)  # fresh open windows
    got = {}
    for lo, hi in _cuts(rng, n):
        out = model.update(series[lo:hi], ts[lo:hi], value[lo:hi])
        got.update({(int(s), int(w)): f for s, w, f in zip(out.series, out.window_start_ns, out.features, strict=True)})
    window = ts // (3600 * NS)
    gs, gw, raw = window_features(series, window, value)
    x = model._standardize(gs, raw)  # the standardization update applies to the windows it closes
    _, counts = np.unique(series * (window.max() + 1) + window - window.min(), return_counts=True)
    last = {int(s): int(w) for s, w in zip(series, window, strict=True)}
    expected = {(int(s), int(w) * 3600 * NS): f for s, w, f, c in zip(gs, gw, x, counts, strict=True)
                if c >= 3 and w != last[int(s)]}  # a series' last window is still open
    assert got and got.keys() == expected.keys()
    for key, features in got.items():
        np.testing.assert_array_equal(features, expected[key], err_msg=str(key))


def test_combine_runs_adds_in_order_like_one_value_at_a_time() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(0, 1e6, 1000) * rng.choice([1e-9, 1.0, 1e9], 1000)
    start = rng.random(1000) < 0.05
    start[0] = True
    got = combine_runs(start, point_stats(values))
    bounds = np.r_[np.flatnonzero(start), values.size]
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        total = sumsq = 0.0
        for v in values[lo:hi]:
            total += v
            sumsq += v * v
        run = values[lo:hi]
        assert got[:, k].tolist() == [hi - lo, total, sumsq, run.min(), run.max(), run[0], run[-1]]
    assert got.shape == (len(STATS), start.sum())


@pytest.mark.parametrize("seed", range(6))
def test_few_cell_residuals_equal_cell_residuals(catalog: Catalog, seed: int) -> None:
    """The stream's residuals (expected values once per indicator and distinct cell end, gathered) are the
    elementwise ones, bit for bit: a batch's few grid steps, and as many distinct ends as cells (the plain path)."""
    from vitals.scoring.city_window_model import cell_residuals, few_cell_residuals

    rng = np.random.default_rng(seed)
    seasonal = SeasonalModel(catalog)
    n = 5000 if seed % 2 else 20
    ind = rng.integers(0, catalog.n_indicators, n)
    ends = START_NS + (rng.integers(0, 3 if seed % 2 else 10**6, n) + 1) * 300 * NS + seed * 86_400 * NS * 40
    value = seasonal.base[ind] + rng.normal(0, 3, n) * seasonal.noise[ind]
    got = few_cell_residuals(seasonal, ind, ends, value)
    assert got.tobytes() == cell_residuals(seasonal, ind, ends, value).tobytes()


def test_expected_values_kept_across_batches_are_the_elementwise_ones(catalog: Catalog) -> None:
    """A stream's batches share grid steps: the expected values of an end computed for one batch serve the next ones
    (per seasonal model, the newest few hundred ends), bit for bit the elementwise residuals, including after the
    kept ends are dropped and computed again, and with the distinct ends given by the caller."""
    from vitals.scoring.city_window_model import _COLUMNS, _MAX_COLUMNS, cell_residuals, few_cell_residuals

    rng = np.random.default_rng(11)
    seasonal = SeasonalModel(catalog)
    n = 4000
    for batch in range(40):
        first = batch * 20 - (300 if batch == 30 else 0)  # batch 30 goes back to ends dropped since
        ind = rng.integers(0, catalog.n_indicators, n)
        ends = START_NS + (first + rng.integers(0, 3 if batch % 3 else 90, n)) * 300 * NS
        value = seasonal.base[ind] + rng.normal(0, 3, n) * seasonal.noise[ind]
        want = cell_residuals(seasonal, ind, ends, value).tobytes()
        assert few_cell_residuals(seasonal, ind, ends, value).tobytes() == want
        distinct, at = np.unique(ends, return_inverse=True)
        order = rng.permutation(distinct.size)  # any order of the distinct ends
        assert few_cell_residuals(seasonal, ind, ends, value, ends=(distinct[order], np.argsort(order)[at])
                                  ).tobytes() == want
        assert len(_COLUMNS[seasonal]) <= _MAX_COLUMNS + 90
