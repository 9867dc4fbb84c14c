"""The fast paths of a sparse feed's tiny pieces (one reading, or a few) against the general array forms they
stand for, bit for bit: the compiled ring update (``BucketRings.update`` vs ``update_arrays``), one reading's
scalars (``SeriesScalars.update_one`` vs ``update_arrays``), one time in the duplicate ring (``insert`` vs
``insert_arrays``), a few readings' level counts (``LevelRules._few`` vs the array counts), a few distinct
rows' hysteresis (``_apply_distinct`` vs ``_apply_in_sequence``) and the whole one-reading fold of a prepared batch
(``ShardState.update_one`` vs ``update``), with the rows a capture shows."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from state_oracle import random_stream

from vitals.catalog import Catalog
from vitals.health import hysteresis
from vitals.health.hysteresis import LevelRules
from vitals.state import ShardState, split_by_shard
from vitals.state.dedup import DuplicateRing
from vitals.state.ordering import sort_by_row_then_time
from vitals.state.quantile import QuantileGrid
from vitals.state.series import Groups, SeriesScalars
from vitals.state.windows import DEFAULT_WINDOWS, ORIGIN_NS, BucketRings

S = 1_000_000_000
T0 = ORIGIN_NS + 20 * 365 * 86_400 * S
N_ROWS = 5


def _batches(seed: int, n_batches: int, sparse: bool) -> list[tuple[np.ndarray, ...]]:
    """Batches of (rows, ts, values) sorted by (row, time), moving forward with some late readings; values
    include repeats, negative zero and (rarely) huge counts in one bucket (the histogram saturates)."""
    rng = np.random.default_rng(seed)
    out, clock = [], T0
    for _ in range(n_batches):
        n = int(rng.integers(1, 3 if sparse else 400))
        clock += int(rng.integers(0, 7_200 if sparse else 120)) * S
        ts = clock - rng.integers(0, 3_600 if rng.random() < 0.2 else 60, n) * S
        rows = rng.integers(0, N_ROWS, n).astype(np.int64)
        values = np.round(rng.normal(50, 30, n), 1)
        values[rng.random(n) < 0.05] = -0.0
        order = sort_by_row_then_time(rows, ts)
        out.append((rows[order], ts[order], values[order]))
    return out


@given(seed=st.integers(0, 10_000), sparse=st.booleans())
def test_compiled_ring_update_is_the_array_update(small_catalog: Catalog, seed: int, sparse: bool) -> None:
    grid = QuantileGrid(small_catalog)
    fast, ref = BucketRings(N_ROWS, DEFAULT_WINDOWS, grid), BucketRings(N_ROWS, DEFAULT_WINDOWS, grid)
    clock = 0
    indicator = np.zeros(1, dtype=np.int64)
    for rows, ts, values in _batches(seed, 40, sparse):
        clock = max(clock, int(ts.max()))
        bins = grid.bins(np.repeat(indicator, len(rows)), values)
        fast.update(rows, ts, values.astype(np.float32), bins, clock)
        ref.update_arrays(rows, ts, values.astype(np.float32), bins, clock)
        np.testing.assert_array_equal(fast.tag, ref.tag)
        assert fast.cells.tobytes() == ref.cells.tobytes()  # bit for bit (NaN, -0.0)
        np.testing.assert_array_equal(fast.hist, ref.hist)
    assert (ref.cells[:, 0] > 0).any()


def test_compiled_ring_update_saturates_like_the_arrays(small_catalog: Catalog) -> None:
    grid = QuantileGrid(small_catalog)
    fast, ref = BucketRings(2, DEFAULT_WINDOWS, grid), BucketRings(2, DEFAULT_WINDOWS, grid)
    rows = np.zeros(300, dtype=np.int64)
    ts = np.full(300, T0, dtype=np.int64)
    values = np.full(300, 42.0)
    bins = grid.bins(np.zeros(300, dtype=np.int64), values)
    for _ in range(2):  # 600 readings in one bucket: a bin past 255
        fast.update(rows, ts, values.astype(np.float32), bins, T0)
        ref.update_arrays(rows, ts, values.astype(np.float32), bins, T0)
    assert ref.hist.max() == 255
    np.testing.assert_array_equal(fast.hist, ref.hist)
    assert fast.cells.tobytes() == ref.cells.tobytes()


@given(seed=st.integers(0, 10_000))
def test_one_reading_scalars_are_the_array_update(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fast, ref = SeriesScalars(N_ROWS), SeriesScalars(N_ROWS)
    half_life = np.array([float(rng.choice([300e9, 3600e9, 1.5e11]))])
    for _ in range(60):
        row = np.array([rng.integers(0, N_ROWS)], dtype=np.int64)
        ts = np.array([T0 + int(rng.integers(0, 86_400)) * S], dtype=np.int64)  # in and out of order
        value = np.array([float(rng.choice([1.0, 2.5, -0.0, 0.0, np.round(rng.normal(), 3)]))])
        groups = Groups.of(row)
        fast.update(row, ts, value, half_life, groups)
        ref.update_arrays(row, ts, value, half_life, groups)
        for name in vars(ref):
            assert getattr(fast, name).tobytes() == getattr(ref, name).tobytes(), name
    assert (ref.readings > 0).any()


@given(seed=st.integers(0, 10_000))
def test_one_time_duplicate_ring_is_the_array_insert(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fast, ref = DuplicateRing(N_ROWS), DuplicateRing(N_ROWS)
    for _ in range(80):
        row = np.array([rng.integers(0, N_ROWS)], dtype=np.int64)
        ts = np.array([T0 + int(rng.integers(0, 200)) * S], dtype=np.int64)
        if fast.seen(row, ts)[0]:  # only accepted, not yet seen times are inserted
            continue
        groups = Groups.of(row)
        fast.insert(row, ts, groups)
        ref.insert_arrays(row, ts, groups)
        np.testing.assert_array_equal(fast.ts, ref.ts)
        np.testing.assert_array_equal(fast.head, ref.head)


@given(seed=st.integers(0, 10_000), n=st.integers(1, hysteresis.FEW_READINGS))
def test_few_level_counts_are_the_array_counts(small_catalog: Catalog, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    rules = LevelRules(small_catalog)
    indicator = rng.integers(0, len(small_catalog.indicators), n).astype(np.int16)
    th = rules.thresholds[indicator]
    pick = rng.integers(0, 4, n)
    badness = th[np.arange(n), pick] + rng.choice([-1e-9, 0.0, 1e-9, -5.0, 5.0], n)  # at and near thresholds
    badness[rng.random(n) < 0.2] = np.nan
    raw, lowered = rules._few(indicator, badness)
    many = np.tile(badness, hysteresis.FEW_READINGS + 1)  # the array path, then its first n
    raw_ref, lowered_ref = rules.raw_and_lowered(np.tile(indicator, hysteresis.FEW_READINGS + 1), many)
    np.testing.assert_array_equal(raw, raw_ref[:n])
    np.testing.assert_array_equal(lowered, lowered_ref[:n])
    assert raw.dtype == raw_ref.dtype == lowered.dtype


@given(seed=st.integers(0, 10_000))
def test_distinct_rows_hysteresis_is_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 5, N_ROWS).astype(np.int8)
    quiet = np.where(level > 0, rng.integers(0, 4, N_ROWS), 0).astype(np.int16)
    ref_level, ref_quiet = level.copy(), quiet.copy()
    for _ in range(30):
        n = int(rng.integers(1, N_ROWS + 1))
        rows = np.sort(rng.choice(N_ROWS, n, replace=False)).astype(np.int64)
        raw = rng.integers(0, 5, n).astype(np.int8)
        lowered = np.maximum(raw, rng.integers(0, 5, n)).astype(np.int8)
        occurrence = np.zeros(n, dtype=np.int64)
        hysteresis.apply_updates(level, quiet, rows, occurrence=occurrence, raw=raw, lowered=lowered, intervals=3)
        hysteresis._apply_in_sequence(ref_level, ref_quiet, copy.copy(rows), occurrence=occurrence, raw=raw,
                                      lowered=lowered, intervals=3)
        np.testing.assert_array_equal(level, ref_level)
        np.testing.assert_array_equal(quiet, ref_quiet)


@given(seed=st.integers(0, 10_000))
def test_one_reading_badness_is_the_array_badness(small_catalog: Catalog, seed: int) -> None:
    from vitals.health.levels import badness

    rng = np.random.default_rng(seed)
    n = len(small_catalog.indicators)
    indicator = rng.integers(0, n, 20).astype(np.int16)
    values = rng.choice([-0.0, 0.0, 1.5, -3.25, 1e6, np.nan], 20) + np.round(rng.normal(0, 50, 20), 2)
    ts = T0 + rng.integers(0, 86_400 * 7, 20) * S
    for i in range(20):  # one reading alone, and the same reading as the first of two (the array path)
        one = badness(small_catalog, indicator[i:i + 1], values[i:i + 1], ts[i:i + 1])
        two = badness(small_catalog, indicator[[i, 0]], values[[i, 0]], ts[[i, 0]])
        assert one.dtype == two.dtype and one.tobytes() == two[:1].tobytes()


@given(seed=st.integers(0, 10_000))
def test_one_held_score_is_the_picked_score(small_catalog: Catalog, seed: int) -> None:
    from vitals.scoring import ShardScorer

    rng = np.random.default_rng(seed)
    fast, ref = ShardScorer(small_catalog, 0, 1), ShardScorer(small_catalog, 0, 1)
    for _ in range(40):
        row = np.array([rng.integers(0, 4)], dtype=np.int64)
        ts = np.array([T0 + int(rng.integers(0, 86_400)) * S], dtype=np.int64)
        score = np.array([float(rng.choice([0.0, 0.3, 0.9, np.nan, float(rng.random())]))])
        fast._hold_into(fast.peak, fast.peak_ts, row, ts, score)
        # the same score through the pick of a batch: the row twice, its second score below every score
        ref._hold_into(ref.peak, ref.peak_ts, np.repeat(row, 2), np.repeat(ts, 2), np.append(score, -np.inf))
        assert fast.peak.tobytes() == ref.peak.tobytes()
        np.testing.assert_array_equal(fast.peak_ts, ref.peak_ts)
    assert (ref.peak > 0).any()


@given(seed=st.integers(0, 10_000))
def test_one_value_bin_is_the_array_bin(small_catalog: Catalog, seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = QuantileGrid(small_catalog)
    n = len(small_catalog.indicators)
    indicator = rng.integers(0, n, 30).astype(np.int16)
    span = grid.width[indicator] * grid.n_bins
    values = grid.lo[indicator] + span * rng.uniform(-0.2, 1.2, 30)  # under, inside and over the grid
    values[:3] = grid.lo[indicator[:3]] + grid.width[indicator[:3]] * np.array([0, 1, grid.n_bins - 2])  # edges
    for i in range(30):
        one = grid.bins(indicator[i:i + 1], values[i:i + 1])
        two = grid.bins(indicator[[i, 0]], values[[i, 0]])
        assert one.dtype == two.dtype and one[0] == two[0]


@given(seed=st.integers(0, 10_000), n_shards=st.sampled_from([1, 3]))
def test_one_reading_fold_is_the_update(small_catalog: Catalog, seed: int, n_shards: int) -> None:
    """``ShardState.update_one`` (a batch prepared once, then folded one reading at a time) leaves every array of
    the state and returns what ``update`` of each one-reading piece does: late readings, duplicates (of earlier
    pieces: rejected by ``update``), levels going up and down."""
    stream = random_stream(small_catalog, np.random.default_rng(seed), n_series=6, dup_share=0.1)
    for shard, part in split_by_shard(stream.batch, small_catalog, n_shards):
        fast, ref = ShardState(small_catalog, shard, n_shards), ShardState(small_catalog, shard, n_shards)
        prepared = fast.prepare(part)
        for at in range(len(part)):
            piece = part.slice(at, at + 1)
            got, want = fast.update_one(piece, prepared, at), ref.update(piece)
            assert (got.accepted, len(got.duplicates)) == (want.accepted, len(want.duplicates))
            np.testing.assert_array_equal(got.touched, want.touched)
            np.testing.assert_array_equal(got.accepted_batch.ts_ns, want.accepted_batch.ts_ns)
            # the rows a capture shows, cached between first readings, and its size per row
            np.testing.assert_array_equal(fast.rows_with_readings(), np.flatnonzero(ref.scalars.readings))
            snap = fast.capture(fast.clock_ns)
            assert fast.capture_bytes(len(snap)) == snap.nbytes
        assert fast.clock_ns == ref.clock_ns and fast.duplicates_total == ref.duplicates_total
        for name in ("level", "raw_level", "quiet", "_dirty"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name))
        for name, array in vars(ref.scalars).items():
            assert getattr(fast.scalars, name).tobytes() == array.tobytes(), name  # bit for bit (NaN, -0.0)
        assert fast.rings.cells.tobytes() == ref.rings.cells.tobytes()
        np.testing.assert_array_equal(fast.rings.tag, ref.rings.tag)
        np.testing.assert_array_equal(fast.rings.hist, ref.rings.hist)
        np.testing.assert_array_equal(fast.dups.ts, ref.dups.ts)
        np.testing.assert_array_equal(fast.dups.head, ref.dups.head)
