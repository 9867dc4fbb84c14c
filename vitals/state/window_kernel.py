"""One window's bucket statistics as one compiled loop over the rows (numba): count, mean, min, max, rate and the
p95 estimate from the histogram of each row's valid buckets, read straight from the ring arrays (no gathered
copies, no temporaries per statistic).

Bit for bit what the numpy formulation computes (kept as the oracle in ``tests/state/test_window_kernel.py``):
every product and quotient is the same IEEE operation on the same operands, and every sum over a row's buckets
is added in numpy's order (:func:`_row_sum`: numpy's pairwise summation of a contiguous row, 8 accumulators from
8 terms on, added to a 0.0 start), so the history and the view cache do not see a difference.

Imported by :mod:`vitals.state.window_stats` when a view is first rendered (numba is then loaded, and the
kernel read from numba's cache in ``__pycache__`` after its first compilation).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)
from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

# the columns of ``stats`` (float64, one row per row asked for)
S_COUNT, S_MEAN, S_MIN, S_MAX, S_RATE, S_P95 = range(6)
N_STATS = 6
_CELL_COUNT, _CELL_TOTAL, _CELL_LOW, _CELL_HIGH = 0, 1, 2, 3  # vitals.state.windows.COUNT ...


@nb.njit(cache=True, inline="always")
def _row_sum(a: npt.NDArray[np.float64], n: int) -> float:
    """``a[:n].sum()`` as numpy adds a contiguous row of at most 128 terms (pairwise_sum), plus its 0.0 start."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[i]
        return 0.0 + res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    whole = n - (n % 8)
    while i < whole:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return 0.0 + res


@nb.njit(cache=True, nogil=True)
def window_rows(
    tag: npt.NDArray[np.int32], cells: npt.NDArray[np.float32], hist: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64], heads: npt.NDArray[np.int64], off: int, buckets: int, bucket_s: float,
    grid_lo: npt.NDArray[np.float64], grid_width: npt.NDArray[np.float64], indicator: npt.NDArray[np.int64],
    percent: int, stats: npt.NDArray[np.float64],
) -> None:
    """For each ``rows[i]`` of the ring arrays (``tag`` (N, slots), ``cells`` (N, slots, 4), ``hist`` (N, slots,
    bins)), the window in slots ``off .. off + buckets`` as of head bucket ``heads[i]``: ``stats[:, i]`` (rows
    ``S_*``); the quantile from the bins of :class:`vitals.state.quantile.QuantileGrid` (``grid_lo``,
    ``grid_width`` by indicator code, ``indicator[i]`` the row's) as its ``quantile`` computes it."""
    scratch = _Scratch(buckets, hist.shape[2])
    for i in range(len(rows)):
        c = indicator[i]
        _row_window(tag, cells, hist, rows[i], heads[i], off, buckets, bucket_s, grid_lo[c], grid_width[c], percent,
                    stats, i, scratch)


@nb.njit(cache=True, nogil=True)
def windows_rows(
    tag: npt.NDArray[np.int32], cells: npt.NDArray[np.float32], hist: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64], heads: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64],
    buckets: npt.NDArray[np.int64], bucket_s: npt.NDArray[np.float64], grid_lo: npt.NDArray[np.float64],
    grid_width: npt.NDArray[np.float64], indicator: npt.NDArray[np.int64], percent: int,
    redo: npt.NDArray[np.bool_], stats: npt.NDArray[np.float64],
) -> None:
    """:func:`window_rows` of several windows in one pass over the rows (each row's ring read once): window ``w``
    (slots ``offsets[w] .. offsets[w] + buckets[w]``, buckets of ``bucket_s[w]`` seconds, head bucket
    ``heads[w, i]``) into ``stats[w, :, i]`` where ``redo[w, i]``; the other entries of ``stats`` are left as
    they are (a view's cached statistics)."""
    scratch = _Scratch(buckets.max() if len(buckets) else 1, hist.shape[2])
    for i in range(len(rows)):
        c = indicator[i]
        for w in range(len(offsets)):
            if redo[w, i]:
                _row_window(tag, cells, hist, rows[i], heads[w, i], offsets[w], buckets[w], bucket_s[w], grid_lo[c],
                            grid_width[c], percent, stats[w], i, scratch)


@nb.njit(cache=True, inline="always")
def _Scratch(buckets: int, bins: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                               npt.NDArray[np.float64], npt.NDArray[np.float64],
                                               npt.NDArray[np.int64]]:
    """Work arrays of one row's window (per bucket: count, total, mid time, a temporary; the merged histogram)."""
    return np.empty(buckets), np.empty(buckets), np.empty(buckets), np.empty(buckets), np.empty(bins, dtype=np.int64)


@nb.njit(cache=True, inline="always")
def _row_window(
    tag: npt.NDArray[np.int32], cells: npt.NDArray[np.float32], hist: npt.NDArray[np.uint8], r: int, head: int,
    off: int, k: int, bucket_s: float, grid_lo: float, grid_width: float, percent: int,
    stats: npt.NDArray[np.float64], i: int,
    scratch: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
                   npt.NDArray[np.float64], npt.NDArray[np.int64]],
) -> None:
    """One row's window (ring row ``r``, slots ``off .. off + k``, as of bucket ``head``) into ``stats[:, i]``."""
    n, s, mid, tmp, merged = scratch
    bins = hist.shape[2]
    newest = tag[r, off]
    for j in range(1, k):
        newest = max(newest, tag[r, off + j])
    lo = math.inf
    hi = -math.inf
    nonzero = 0
    for b in range(bins):
        merged[b] = 0
    for j in range(k):
        t = tag[r, off + j]
        valid = head - k < t <= head
        weight = 1.0 if valid else 0.0
        n[j] = np.float64(cells[r, off + j, _CELL_COUNT]) * weight
        s[j] = np.float64(cells[r, off + j, _CELL_TOTAL]) * weight
        mid[j] = (np.float64(np.int64(t) - np.int64(newest)) + 0.5) * bucket_s
        if n[j] != 0.0:
            nonzero += 1
        if valid:
            low = cells[r, off + j, _CELL_LOW]
            high = cells[r, off + j, _CELL_HIGH]
            if low < lo or math.isnan(low):
                lo = low if not math.isnan(lo) else lo
            if high > hi or math.isnan(high):
                hi = high if not math.isnan(hi) else hi
            for b in range(bins):
                merged[b] += hist[r, off + j, b]
    n_all = _row_sum(n, k)
    stats[S_COUNT, i] = n_all
    if n_all > 0:
        stats[S_MEAN, i] = _row_sum(s, k) / n_all
        stats[S_MIN, i] = np.float64(np.float32(lo))
        stats[S_MAX, i] = np.float64(np.float32(hi))
    else:
        stats[S_MEAN, i] = math.nan
        stats[S_MIN, i] = math.nan
        stats[S_MAX, i] = math.nan
    for j in range(k):
        tmp[j] = n[j] * mid[j]
    c_mean = _row_sum(tmp, k) / n_all if n_all != 0.0 else math.nan
    for j in range(k):
        dc = mid[j] - c_mean
        tmp[j] = (n[j] * dc) * dc
    sxx = _row_sum(tmp, k)
    for j in range(k):
        tmp[j] = (mid[j] - c_mean) * s[j]
    sxy = _row_sum(tmp, k)
    stats[S_RATE, i] = sxy / sxx if nonzero >= 2 and sxx > 0 else math.nan
    stats[S_P95, i] = _quantile(merged, grid_lo, grid_width, percent, stats[S_MIN, i], stats[S_MAX, i])


@nb.njit(cache=True, inline="always")
def _quantile(counts: npt.NDArray[np.int64], lo: float, width: float, percent: int, low: float, high: float
              ) -> float:
    """:meth:`vitals.state.quantile.QuantileGrid.quantile` of one row, the same operations in the same order."""
    bins = len(counts)
    total = np.int64(0)
    for b in range(bins):
        total += counts[b]
    if total <= 0:
        return math.nan
    rank = (percent * total + 99) // 100
    want = max(rank, 1)
    k = 0
    cum = np.int64(0)
    before = np.int64(0)
    for b in range(bins):
        if cum + counts[b] >= want:
            k = b
            before = cum
            break
        cum += counts[b]
    if rank >= total:
        return high
    in_bin = max(counts[k], 1)
    lower = lo + (k - 1) * width if k >= 1 else -math.inf
    upper = lo + k * width if k <= bins - 2 else math.inf
    lower = _nan_max(lower, low)
    upper = _nan_min(upper, high)
    return lower + (rank - before) / in_bin * (upper - lower)


@nb.njit(cache=True, inline="always")
def _nan_max(a: float, b: float) -> float:
    """``np.maximum`` of two floats (NaN if either is)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a >= b else b


@nb.njit(cache=True, inline="always")
def _nan_min(a: float, b: float) -> float:
    """``np.minimum`` of two floats (NaN if either is)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a <= b else b


@nb.njit(cache=True, nogil=True)
def stale_entries(
    tag: npt.NDArray[np.int32], rows: npt.NDArray[np.int64], stale: npt.NDArray[np.bool_],
    offsets: npt.NDArray[np.int64], buckets: npt.NDArray[np.int64], old_heads: npt.NDArray[np.int64],
    new_heads: npt.NDArray[np.int64], redo: npt.NDArray[np.bool_],
) -> int:
    """The (window, row) entries of a view to compute, into ``redo`` (windows, rows), and their count: every
    window of a ``stale`` row; in window ``w`` whose head bucket moved from ``old_heads[w]`` to ``new_heads[w]``,
    the rows holding a bucket that is inside the window as of one head and not the other
    (:func:`vitals.state.window_stats.valid_set_changed`, the reference)."""
    count = 0
    for w in range(len(offsets)):
        off, k = offsets[w], buckets[w]
        lo, hi = min(old_heads[w], new_heads[w]), max(old_heads[w], new_heads[w])
        moved = lo != hi
        for i in range(len(rows)):
            changed = stale[i]
            if not changed and moved:
                r = rows[i]
                for j in range(k):
                    t = tag[r, off + j]
                    if (lo - k < t <= hi - k) or (lo < t <= hi):
                        changed = True
                        break
            redo[w, i] = changed
            count += changed
    return count
