"""The compiled window statistics (vitals.state.window_kernel) equal the numpy formulation they replaced bit for
bit but for the sign of a zero (``_reference_window_stats`` below: main's code until the kernel), for random
states, row subsets, views ahead of and behind the clock, one time per row with copied ring rows, and sums whose
order matters."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from state_oracle import NS, random_stream

from vitals.catalog import Catalog
from vitals.state import ShardState, split_by_shard
from vitals.state.quantile import QuantileGrid
from vitals.state.window_kernel import N_STATS, S_COUNT, S_MEAN, S_P95, window_rows
from vitals.state.window_stats import STATS, copy_ring_rows, window_stats
from vitals.state.windows import COUNT, HIGH, LOW, TOTAL, BucketRings, bucket_numbers


# ---- the numpy reference ---------------------------------------------------------------------------------
def _bucket_stats(valid, count, total, *, low, high, tag, bucket_s):
    n = np.multiply(count, valid, dtype=np.float64)
    s = np.multiply(total, valid, dtype=np.float64)
    n_all = n.sum(axis=1)
    has = n_all > 0
    mid_s = (np.subtract(tag, tag.max(axis=1)[:, None], dtype=np.int64) + 0.5) * bucket_s
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(has, s.sum(axis=1) / n_all, np.nan)
        lo = np.where(has, np.min(low, axis=1, where=valid, initial=np.inf).astype(np.float64), np.nan)
        hi = np.where(has, np.max(high, axis=1, where=valid, initial=-np.inf).astype(np.float64), np.nan)
        c_mean = (n * mid_s).sum(axis=1) / n_all
        dc = mid_s - c_mean[:, None]
        ndc = n * dc
        sxx = (ndc * dc).sum(axis=1)
        sxy = (dc * s).sum(axis=1)
        rate = np.where((np.count_nonzero(n, axis=1) >= 2) & (sxx > 0), sxy / sxx, np.nan)
    return {"mean": mean, "min": lo, "max": hi, "rate": rate, "count": n_all}


def _reference_window_stats(rings: BucketRings, rows, indicator, as_of_ns, grid: QuantileGrid, *, copied=None):
    if copied is None:
        copied = copy_ring_rows(rings, rows)
    tags, cells_all, hists = copied
    per_row = np.ndim(as_of_ns) > 0
    out = {}
    for k, w in enumerate(rings.windows):
        off = int(rings.offsets[k])
        sl = slice(off, off + w.buckets)
        heads = bucket_numbers(np.asarray(as_of_ns, dtype=np.int64).reshape(-1), w.bucket_ns)
        head = heads[:, None] if per_row else int(heads[0])
        tag = tags[:, sl]
        valid = (tag > head - w.buckets) & (tag <= head)
        cells = cells_all[:, sl, :]
        stats = _bucket_stats(valid, cells[:, :, COUNT], cells[:, :, TOTAL], low=cells[:, :, LOW],
                              high=cells[:, :, HIGH], tag=tag, bucket_s=w.bucket_s)
        merged = (hists[:, sl, :].astype(np.int64) * valid[:, :, None]).sum(axis=1)
        with np.errstate(invalid="ignore"):
            stats["p95"] = grid.quantile(indicator, merged, stats["min"], stats["max"])
        out.update({f"{name}_{w.name}": stats[name] for name in STATS})
    return out


def _assert_bits(got: dict[str, npt.NDArray[np.float64]], expected: dict[str, npt.NDArray[np.float64]]) -> None:
    """Bit for bit, but for the sign of a zero: numpy's vectorized min/max reductions pick either of 0.0 and
    -0.0 (equal numbers) in an order of their own."""
    assert got.keys() == expected.keys()
    for name, column in expected.items():
        np.testing.assert_array_equal(got[name], column, err_msg=name)  # NaN where NaN
        nonzero = column != 0
        np.testing.assert_array_equal(got[name][nonzero].view(np.int64), column[nonzero].view(np.int64), err_msg=name)


# ---- the kernel against it -------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_shards=st.sampled_from([1, 3]),
       ahead_s=st.sampled_from([0, 45, 700, 4000, 90_000, -1_000, -20_000]), share=st.floats(0.05, 1.0))
def test_window_stats_equal_the_numpy_formulation_bit_for_bit(small_catalog: Catalog, seed: int, n_shards: int,
                                                              ahead_s: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    stream = random_stream(small_catalog, rng, n_series=12)
    states = [ShardState(small_catalog, k, n_shards) for k in range(n_shards)]
    for k, part in split_by_shard(stream.batch, small_catalog, n_shards):
        states[k].update(part)
    for state in states:
        rows = np.flatnonzero(state.scalars.readings > 0)
        rows = np.sort(rng.choice(rows, size=max(1, int(share * len(rows))), replace=False)) if len(rows) else rows
        ind, _ = small_catalog.split_series_id(rows * n_shards + state.shard)
        as_of = state.clock_ns + ahead_s * NS
        _assert_bits(window_stats(state.rings, rows, ind, as_of, state.grid),
                     _reference_window_stats(state.rings, rows, ind, as_of, state.grid))
        # one time per row, from copied rows (a batch's captured snapshots rendered together)
        times = as_of - rng.integers(0, 7200, len(rows)) * NS
        copied = copy_ring_rows(state.rings, rows)
        _assert_bits(window_stats(state.rings, rows, ind, times, state.grid, copied=copied),
                     _reference_window_stats(state.rings, rows, ind, times, state.grid, copied=copied))


def test_sums_are_added_in_numpy_order(small_catalog: Catalog) -> None:
    """Totals of wildly different magnitudes (and signed zeros) in 5, 12 and 24 buckets, all valid: the mean
    depends on the order of the additions; it is numpy's pairwise order. Full histograms: the p95 as the grid's."""
    rng = np.random.default_rng(7)
    n, bins = 4000, 24
    grid = QuantileGrid(small_catalog, bins)
    for k in (5, 12, 24):
        tag = np.tile(np.arange(100, 100 + k, dtype=np.int32), (n, 1))
        cells = np.zeros((n, k, 4), dtype=np.float32)
        cells[:, :, COUNT] = 1
        total = rng.standard_normal((n, k)) * 10.0 ** rng.integers(-20, 20, (n, k))
        total[rng.random((n, k)) < 0.2] = -0.0
        cells[:, :, TOTAL] = total.astype(np.float32)
        cells[:, :, LOW], cells[:, :, HIGH] = cells[:, :, TOTAL], cells[:, :, TOTAL]
        hist = rng.integers(0, 256, (n, k, bins), dtype=np.uint8)
        stats = np.empty((N_STATS, n))
        window_rows(tag, cells, hist, np.arange(n, dtype=np.int64), np.full(n, 100 + k - 1, dtype=np.int64), 0, k,
                    60.0, grid.lo, grid.width, np.zeros(n, dtype=np.int64), 95, stats)
        expected = _bucket_stats(np.ones((n, k), bool), cells[:, :, COUNT], cells[:, :, TOTAL], low=cells[:, :, LOW],
                                 high=cells[:, :, HIGH], tag=tag, bucket_s=60)
        np.testing.assert_array_equal(stats[S_MEAN].view(np.int64), expected["mean"].view(np.int64))
        np.testing.assert_array_equal(stats[S_COUNT], expected["count"])
        merged = hist.astype(np.int64).sum(axis=1)
        with np.errstate(invalid="ignore"):
            p95 = grid.quantile(np.zeros(n, dtype=np.int64), merged, expected["min"], expected["max"])
        np.testing.assert_array_equal(stats[S_P95].view(np.int64), p95.view(np.int64))
        in_order = np.cumsum(cells[:, :, TOTAL].astype(np.float64), axis=1)[:, -1] / k  # one by one
        assert (stats[S_MEAN] != in_order).any() == (k >= 8)  # numpy adds fewer than 8 terms one by one
