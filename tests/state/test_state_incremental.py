"""Incremental views equal full views bit for bit; snapshots (deepcopy, pickle, a fresh process) restore
working states that share one catalog; the building blocks of the fast update (ordering, duplicate ring,
histogram merge) equal plain oracles."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from state_oracle import NS, T0, random_stream

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.state import ShardState, VitalsView, split_by_shard
from vitals.state.dedup import DuplicateRing
from vitals.state.ordering import sort_by_row_then_time
from vitals.state.series import Groups


def _full_view(state: ShardState, now_ns: int | None) -> VitalsView:
    """The same state computed from scratch: a deep copy starts with an empty view cache."""
    return copy.deepcopy(state).view(now_ns)


def _assert_same(a: VitalsView, b: VitalsView) -> None:
    np.testing.assert_array_equal(a.series, b.series)
    assert a.columns.keys() == b.columns.keys() and a.now_s == b.now_s
    for name, column in a.columns.items():
        np.testing.assert_array_equal(column, b.columns[name], err_msg=name)


# ---- incremental views -------------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**32 - 1), n_shards=st.sampled_from([1, 3]),
       plan=st.lists(st.tuples(st.floats(0, 1), st.sampled_from([None, 0, 45, 700, 4000, 90_000])), max_size=10))
def test_incremental_views_equal_full_views(small_catalog: Catalog, seed: int, n_shards: int, plan):
    """Views between random batch cuts, at the clock or ahead of it (heads moving forward and back)."""
    stream = random_stream(small_catalog, np.random.default_rng(seed), n_series=10)
    states = [ShardState(small_catalog, k, n_shards) for k in range(n_shards)]
    cuts = sorted({int(c * len(stream.batch)) for c, _ in plan} | {len(stream.batch)})
    ahead = [a for _, a in plan] + [None]
    start = 0
    for cut, ahead_s in zip(cuts, ahead, strict=False):
        for k, part in split_by_shard(stream.batch.take(np.arange(start, cut)), small_catalog, n_shards):
            states[k].update(part)
        start = cut
        now = None if ahead_s is None else max(s.clock_ns for s in states) + ahead_s * NS
        for state in states:
            full = _full_view(state, now)
            _assert_same(state.view(now), full)


def test_a_view_recomputes_only_what_changed(small_catalog: Catalog):
    stream = random_stream(small_catalog, np.random.default_rng(4), n_series=12, max_span_s=20_000)
    state = ShardState(small_catalog)
    state.update(stream.batch)
    first = state.view()
    n_windows = len(state.windows)
    assert state._view_cache.computed_rows == len(first) * n_windows
    state.view()
    assert state._view_cache.computed_rows == 0
    row = int(first.series[0])
    ind, street = small_catalog.split_series_id(np.array([row]))
    state.update(ReadingBatch(np.array([state.clock_ns + 1]), ind.astype(np.int16), street.astype(np.int32),
                              np.array([1.0])))
    again = state.view()
    assert state._view_cache.computed_rows == n_windows  # the one written row, in every window
    _assert_same(again, _full_view(state, None))


def test_cached_statistics_survive_late_readings_expiry_and_new_series(small_catalog: Catalog):
    """The cache's statistics block, case by case: an unchanged view reuses the last block (no copy, no
    computing); a late reading into an older bucket recomputes its row only; windows moving with the clock and
    no reading (buckets expiring) recompute the rows whose valid buckets changed; a series with its first
    reading spreads the cached rows around it; each view equals a view computed from scratch, and the earlier
    views' columns never change (each view has its own block, read-only)."""
    stream = random_stream(small_catalog, np.random.default_rng(11), n_series=12, max_span_s=20_000)
    rows = np.unique(small_catalog.series_id(stream.batch.indicator, stream.batch.street))
    held_back = int(rows[-1])
    keep = small_catalog.series_id(stream.batch.indicator, stream.batch.street) != held_back
    state = ShardState(small_catalog)
    state.update(stream.batch.take(keep))
    first = state.view()
    kept = {name: column.copy() for name, column in first.columns.items()}
    again = state.view()
    assert state._view_cache.computed_rows == 0
    assert np.shares_memory(again.columns["mean_1h"], first.columns["mean_1h"])  # the same block, not a copy
    _assert_same(again, _full_view(state, None))
    # a late reading: an hour behind the clock, into a bucket still inside the 24 h window
    row = int(first.series[0])
    ind, street = small_catalog.split_series_id(np.array([row]))
    state.update(ReadingBatch(np.array([state.clock_ns - 3600 * NS]), ind.astype(np.int16),
                              street.astype(np.int32), np.array([2.5])))
    late = state.view()
    assert state._view_cache.computed_rows == len(state.windows)
    _assert_same(late, _full_view(state, None))
    # no reading, the clock moves on: buckets leave the windows
    for ahead_s in (300, 4000, 90_000):
        now = state.clock_ns + ahead_s * NS
        _assert_same(state.view(now), _full_view(state, now))
    assert 0 < state._view_cache.computed_rows <= len(first) * len(state.windows)
    # a new series (its first reading): the cached rows spread around its row
    new = stream.batch.take(~keep)
    state.update(new.take(np.arange(min(3, len(new)))))
    grown = state.view(state.clock_ns + 90_000 * NS)
    assert len(grown) == len(first) + 1
    _assert_same(grown, _full_view(state, state.clock_ns + 90_000 * NS))
    for name, column in first.columns.items():  # the first view is as it was
        np.testing.assert_array_equal(column, kept[name], err_msg=name)
        assert not column.flags.writeable


def test_one_pass_over_all_windows_equals_one_window_at_a_time(small_catalog: Catalog):
    """The kernel of a view (every window in one pass, where ``redo`` says) writes what the one-window kernel
    computes there, and leaves every other entry as it was."""
    from vitals.state.window_kernel import N_STATS, window_rows, windows_rows
    from vitals.state.windows import bucket_numbers

    stream = random_stream(small_catalog, np.random.default_rng(12), n_series=40, max_span_s=100_000)
    state = ShardState(small_catalog)
    state.update(stream.batch)
    rings = state.rings
    tag = rings.tag.reshape(rings.n_rows, rings.n_slots)
    cells = rings.cells.reshape(rings.n_rows, rings.n_slots, 4)
    hist = rings.hist.reshape(rings.n_rows, rings.n_slots, rings.n_bins)
    rows = np.flatnonzero(state.scalars.readings > 0).astype(np.int64)
    ind = small_catalog.split_series_id(rows)[0].astype(np.int64)
    rng = np.random.default_rng(3)
    times = state.clock_ns + rng.integers(-20_000, 20_000, len(rows)) * NS  # a time per row
    heads = np.stack([bucket_numbers(times, w.bucket_ns) for w in rings.windows])
    redo = rng.random(heads.shape) < 0.6
    out = np.full((len(rings.windows), N_STATS, len(rows)), -7.0)
    windows_rows(tag, cells, hist, rows, heads, np.asarray(rings.offsets, dtype=np.int64),
                 np.array([w.buckets for w in rings.windows], dtype=np.int64),
                 np.array([float(w.bucket_s) for w in rings.windows]), state.grid.lo, state.grid.width, ind, 95,
                 redo, out)
    for k, w in enumerate(rings.windows):
        one = np.empty((N_STATS, len(rows)))
        window_rows(tag, cells, hist, rows, heads[k], int(rings.offsets[k]), w.buckets, float(w.bucket_s),
                    state.grid.lo, state.grid.width, ind, 95, one)
        np.testing.assert_array_equal(out[k][:, redo[k]].view(np.int64), one[:, redo[k]].view(np.int64))
        assert (out[k][:, ~redo[k]] == -7.0).all()


def test_stale_entries_are_the_dirty_rows_and_the_moved_valid_sets(small_catalog: Catalog):
    """The compiled pass finding what a view computes: every window of a stale row, and in each window whose head
    moved (forward or back, by a bucket or many) the rows whose valid buckets changed, as the numpy reference
    (``valid_set_changed``) finds them."""
    from vitals.state.window_kernel import stale_entries
    from vitals.state.window_stats import valid_set_changed
    from vitals.state.windows import bucket_numbers

    stream = random_stream(small_catalog, np.random.default_rng(13), n_series=30, max_span_s=100_000)
    state = ShardState(small_catalog)
    state.update(stream.batch)
    rings = state.rings
    rows = np.flatnonzero(state.scalars.readings > 0).astype(np.int64)
    rng = np.random.default_rng(5)
    for shift_s in (0, 60, 299, 300, 3600, 5000, -3600, 90_000, -200_000):
        old = [int(bucket_numbers(np.array([state.clock_ns]), w.bucket_ns)[0]) for w in rings.windows]
        new = [int(bucket_numbers(np.array([state.clock_ns + shift_s * NS]), w.bucket_ns)[0])
               for w in rings.windows]
        stale = rng.random(len(rows)) < 0.2
        redo = np.empty((len(old), len(rows)), dtype=bool)
        count = stale_entries(rings.tag.reshape(rings.n_rows, rings.n_slots), rows, stale,
                              np.asarray(rings.offsets, dtype=np.int64),
                              np.array([w.buckets for w in rings.windows], dtype=np.int64),
                              np.array(old, dtype=np.int64), np.array(new, dtype=np.int64), redo)
        for k in range(len(old)):
            np.testing.assert_array_equal(redo[k], stale | valid_set_changed(rings, rows, k, old[k], new[k]))
        assert count == redo.sum()
        assert shift_s == 0 or not (redo == stale).all()  # some valid set moved: the comparison means something


def test_view_columns_are_read_only_float64(small_catalog: Catalog):
    state = ShardState(small_catalog)
    state.update(random_stream(small_catalog, np.random.default_rng(2)).batch)
    view = state.view()
    assert {c.dtype for c in view.columns.values()} == {np.dtype(np.float64)}  # the VitalsView contract
    with pytest.raises(ValueError, match="read-only"):
        view.column("mean_5m")[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        view.column("last")[0] = 0.0


# ---- snapshots ---------------------------------------------------------------------------------------------
def _half_and_half(catalog: Catalog, restore) -> tuple[VitalsView, VitalsView]:
    stream = random_stream(catalog, np.random.default_rng(8), n_series=8)
    half = len(stream.batch) // 2
    a = ShardState(catalog)
    a.update(stream.batch.take(np.arange(half)))
    a.view()
    b = restore(a)
    for s in (a, b):
        s.update(stream.batch.take(np.arange(half, len(stream.batch))))
    return a.view(), b.view()


def test_deepcopy_copies_the_arrays_and_shares_the_catalog(small_catalog: Catalog):
    a = ShardState(small_catalog)
    a.update(random_stream(small_catalog, np.random.default_rng(1)).batch)
    b = copy.deepcopy(a)
    assert b.catalog is a.catalog and b.grid is a.grid and b.seasonal is a.seasonal
    assert not np.shares_memory(a.rings.cells, b.rings.cells)
    assert not np.shares_memory(a.scalars.last, b.scalars.last)
    _assert_same(*_half_and_half(small_catalog, copy.deepcopy))


def test_pickled_states_restore_and_share_one_catalog(small_catalog: Catalog):
    _assert_same(*_half_and_half(small_catalog, lambda s: pickle.loads(pickle.dumps(s))))
    states = [ShardState(small_catalog, k, 2) for k in range(2)]
    blobs = [pickle.dumps(s) for s in states]
    first, second = (pickle.loads(b) for b in blobs)
    assert first.catalog is second.catalog  # one catalog in the process, not a copy per shard
    assert first.catalog.n_series == small_catalog.n_series


def test_a_pickled_state_restores_in_a_fresh_process(small_catalog: Catalog):
    """What Bytewax does after a crash: unpickle a snapshot in a new interpreter, then keep going."""
    stream = random_stream(small_catalog, np.random.default_rng(6), n_series=6)
    state = ShardState(small_catalog)
    state.update(stream.batch)
    expected = state.view()
    code = ("import pickle, sys; s = pickle.loads(sys.stdin.buffer.read()); v = s.view(); "
            "sys.stdout.buffer.write(pickle.dumps((v.series, dict(v.columns), s.catalog.n_streets)))")
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(state), capture_output=True,
                          check=True, timeout=120)
    series, columns, n_streets = pickle.loads(done.stdout)
    assert n_streets == small_catalog.n_streets
    _assert_same(expected, VitalsView(series, expected.indicator, expected.street, columns, expected.now_s))


# ---- building blocks ---------------------------------------------------------------------------------------
@given(rows=st.lists(st.integers(0, 300_000), min_size=1, max_size=60), seed=st.integers(0, 2**16))
def test_ordering_equals_a_stable_lexsort(rows: list[int], seed: int):
    rng = np.random.default_rng(seed)
    r = np.asarray(rows, dtype=np.int64)
    ts = T0 + rng.integers(0, 5, len(r)) * NS  # many ties
    np.testing.assert_array_equal(sort_by_row_then_time(r, ts), np.lexsort((np.arange(len(r)), ts, r)))


@given(seed=st.integers(0, 2**32 - 1), depth=st.sampled_from([1, 3, 8]))
def test_duplicate_ring_keeps_the_largest_times_of_each_row(seed: int, depth: int):
    rng = np.random.default_rng(seed)
    ring = DuplicateRing(5, depth)
    kept: dict[int, set[int]] = {r: set() for r in range(5)}
    for _ in range(int(rng.integers(1, 8))):
        rows = rng.integers(0, 5, int(rng.integers(1, 15)))
        ts = rng.integers(0, 40, len(rows))
        order = np.lexsort((ts, rows))
        rows, ts = rows[order], ts[order]
        fresh = ~ring.seen(rows, ts)
        for r, t, new in zip(rows.tolist(), ts.tolist(), fresh.tolist(), strict=True):
            assert new == (t not in kept[r])
        fresh[1:] &= (rows[1:] != rows[:-1]) | (ts[1:] != ts[:-1])  # repeats inside the batch
        rows, ts = rows[fresh], ts[fresh]
        if len(rows):
            ring.insert(rows, ts, Groups.of(rows))
        for r, t in zip(rows.tolist(), ts.tolist(), strict=True):
            kept[r] = set(sorted(kept[r] | {t})[-depth:])
        for r in range(5):
            stored = ring.ts[r][ring.ts[r] != np.iinfo(np.int64).min]
            assert set(stored.tolist()) == kept[r]
            newest = ring.ts[r, (int(ring.head[r]) - 1) % depth]
            assert not kept[r] or newest == max(kept[r])
