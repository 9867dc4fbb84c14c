"""The window accumulator's compiled walk (:mod:`vitals.scoring.cells_kernel`) against its former numpy
implementation in rounds (``window_rounds_oracle.py``): random batches cut at random places, the same closed
windows (rows, starts, closing times, features, order) and the same state after every batch, bit for bit; the state
pickles (arrays only) and a state pickled by the former implementation restores and goes on identically."""

from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from window_rounds_oracle import RoundsAccumulator

from vitals.catalog import Catalog, SeasonalModel
from vitals.scoring.window_state import ClosedWindows, WindowAccumulator

NS = 10**9
START_NS = 1_767_225_600 * NS  # 2026-01-01 00:00 UTC
STATE = ("cell", "pending", "last", "window", "acc")
GEOMETRY = ((300, 3600, 3), (60, 300, 2), (300, 300, 1), (300, 1800, 4))  # step_s, window_s, min_count


@st.composite
def streams(draw: st.DrawFn) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """(geometry, rows, event times, values, cuts): a few rows; times mostly forward in steps of a few seconds to
    hours, sometimes back (late readings, some older than the row's pending cell); values from a few levels (repeated
    values do not count) with an occasional NaN; a value at or below -0.0 is never drawn (see cells_kernel)."""
    geometry = draw(st.sampled_from(GEOMETRY))
    n = draw(st.integers(1, 300))
    n_rows = draw(st.integers(1, 6))
    rows = np.array(draw(st.lists(st.integers(0, n_rows - 1), min_size=n, max_size=n)), dtype=np.int64)
    steps = draw(st.lists(st.sampled_from([0, 1, 7, 60, 250, 299, 300, 900, 3600, 4000, -30, -400, -4000]),
                          min_size=n, max_size=n))
    ts = START_NS + np.maximum(np.cumsum(steps), 0).astype(np.int64) * NS
    levels = draw(st.lists(st.floats(0.5, 200.0, width=32) | st.just(np.nan), min_size=1, max_size=4))
    values = np.array([levels[k] for k in draw(st.lists(st.integers(0, len(levels) - 1), min_size=n, max_size=n))])
    values += np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 1e-3, 7.25]), min_size=n, max_size=n)))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=12))))
    return geometry, rows, ts, values, [c for c in cuts if c < n]


def _batches(n: int, cuts: list[int]) -> list[slice]:
    bounds = [0, *cuts, n]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _same(got: ClosedWindows, want: ClosedWindows) -> None:
    for field in ("rows", "window_start_ns", "closed_ns"):
        assert np.array_equal(getattr(got, field), getattr(want, field)), field
    assert got.raw.shape == want.raw.shape and np.array_equal(got.raw, want.raw, equal_nan=True)


def _same_state(a: WindowAccumulator, b: WindowAccumulator) -> None:
    for name in STATE:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), name


@settings(max_examples=100, deadline=None)
@given(streams())
def test_the_walk_closes_what_the_rounds_close(small_catalog: Catalog, stream: tuple) -> None:
    (step_s, window_s, min_count), rows, ts, values, cuts = stream
    seasonal = SeasonalModel(small_catalog)
    indicator = np.arange(6) % small_catalog.n_indicators
    walk = WindowAccumulator(indicator, step_s=step_s, window_s=window_s, min_count=min_count)
    rounds = RoundsAccumulator(indicator, step_s=step_s, window_s=window_s, min_count=min_count)
    for part in _batches(rows.size, cuts):
        _same(walk.update(seasonal, rows[part], ts[part], values[part]),
              rounds.update(seasonal, rows[part], ts[part], values[part]))
        _same_state(walk, rounds)


@pytest.mark.parametrize("seed", range(6))
def test_a_shard_of_the_city_closes_what_the_rounds_close(small_catalog: Catalog, seed: int) -> None:
    """Hundreds of rows at a 1-minute cadence in time order with late readings and repeated values, cut into
    random batches: thousands of windows closed, the same as the rounds close (a random stream of the walk above
    may close none)."""
    rng = np.random.default_rng(seed)
    n_rows, minutes = 300, 6 * 60
    rows = np.tile(np.arange(n_rows), minutes)
    ts = START_NS + (np.repeat(np.arange(minutes), n_rows) * 60 + rng.integers(0, 60, rows.size)) * NS
    late = rng.random(rows.size) < 0.02
    ts[late] -= rng.integers(1, 900, late.sum()) * NS
    values = np.round(rng.normal(50.0, 5.0, rows.size), int(rng.integers(0, 2)))
    seasonal = SeasonalModel(small_catalog)
    indicator = rng.integers(0, small_catalog.n_indicators, n_rows)
    walk, rounds = WindowAccumulator(indicator), RoundsAccumulator(indicator)
    closed = 0
    cuts = np.sort(rng.choice(np.arange(1, rows.size), 200, replace=False)).tolist()
    for part in _batches(rows.size, cuts):
        got = walk.update(seasonal, rows[part], ts[part], values[part])
        _same(got, rounds.update(seasonal, rows[part], ts[part], values[part]))
        closed += got.rows.size
    _same_state(walk, rounds)
    assert closed > 4 * n_rows


def test_windows_come_in_the_order_of_rounds_of_one_reading_per_row(small_catalog: Catalog) -> None:
    """A batch where one row's window closes at its second reading and another row's at its first, later in the
    batch: the rounds' order (the other row first) is kept, not batch order."""
    seasonal = SeasonalModel(small_catalog)
    acc = WindowAccumulator(np.zeros(2, dtype=np.int64), step_s=300, window_s=3600, min_count=1)
    oracle = RoundsAccumulator(np.zeros(2, dtype=np.int64), step_s=300, window_s=3600, min_count=1)
    t = START_NS + np.array([0, 600, 1200, 0, 600, 1200], dtype=np.int64) * NS
    first = (np.array([0, 0, 0, 1, 1, 1]), t, np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0]))
    # row 0: a reading in the open window, then one in the next hour (closes); row 1: one in the next hour (closes)
    later = (np.array([0, 0, 1]), START_NS + np.array([1500, 3600, 3650]) * NS, np.array([5.0, 6.0, 5.0]))
    for batch in (first, later):
        got = acc.update(seasonal, *batch)
        _same(got, oracle.update(seasonal, *batch))
    assert got.rows.tolist() == [1, 0] and got.closed_ns.tolist() == (later[1][[2, 1]]).tolist()


@settings(max_examples=40, deadline=None)
@given(streams(), st.integers(0, 12))
def test_state_pickles_and_a_former_pickle_restores(small_catalog: Catalog, stream: tuple, at: int) -> None:
    """Cut the stream at a batch boundary: the walk's state through pickle, and the rounds implementation's state
    pickled as a ``WindowAccumulator`` (what the former code wrote), both go on like the rounds."""
    (step_s, window_s, min_count), rows, ts, values, cuts = stream
    seasonal = SeasonalModel(small_catalog)
    indicator = np.arange(6) % small_catalog.n_indicators
    walk = WindowAccumulator(indicator, step_s=step_s, window_s=window_s, min_count=min_count)
    rounds = RoundsAccumulator(indicator, step_s=step_s, window_s=window_s, min_count=min_count)
    parts = _batches(rows.size, cuts)
    for part in parts[:at]:
        walk.update(seasonal, rows[part], ts[part], values[part])
        rounds.update(seasonal, rows[part], ts[part], values[part])
    blob = pickle.dumps(walk)
    assert all(isinstance(v, (np.ndarray, int)) for v in vars(walk).values())  # arrays (and the geometry) only
    former = copy.copy(rounds)
    former.__class__ = WindowAccumulator  # pickled under the class name the former code had
    restored = [pickle.loads(blob), pickle.loads(pickle.dumps(former))]
    assert all(type(r) is WindowAccumulator for r in restored)
    for part in parts[at:]:
        want = rounds.update(seasonal, rows[part], ts[part], values[part])
        for acc in restored:
            _same(acc.update(seasonal, rows[part], ts[part], values[part]), want)
            _same_state(acc, rounds)


def test_a_batch_of_many_grid_steps(small_catalog: Catalog) -> None:
    """More distinct committed cells in one batch than the walk lists (a sparse feed's long batch): the residuals'
    ends are found by ``np.unique`` instead, the same windows."""
    seasonal = SeasonalModel(small_catalog)
    rng = np.random.default_rng(3)
    n = 2000
    rows = rng.integers(0, 3, n)
    ts = START_NS + np.sort(rng.integers(0, 200 * 3600, n)) * NS
    values = rng.normal(10.0, 2.0, n)
    walk, rounds = WindowAccumulator(np.arange(3)), RoundsAccumulator(np.arange(3))
    for part in (slice(0, 10), slice(10, n)):
        got = walk.update(seasonal, rows[part], ts[part], values[part])
        _same(got, rounds.update(seasonal, rows[part], ts[part], values[part]))
    _same_state(walk, rounds)
    assert got.rows.size > 300
