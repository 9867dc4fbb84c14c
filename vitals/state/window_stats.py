"""Window statistics (mean, min, max, p95, rate, count) of the bucket rings, for any subset of rows.

Everything a window's statistics depend on is the set of its *valid* buckets (those inside the window as of
the view's time) and the ring's contents; in particular the rate is computed against bucket times relative
to the row's newest bucket, not to the view's time. So the statistics of a row whose ring did not change and
whose valid buckets are the same as at an earlier view are bit for bit the ones computed then, which is what
lets :class:`vitals.state.view_cache.ViewCache` reuse them.

The p95 sketch needs each row's histogram summed over its valid buckets (:func:`merged_histograms`).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from vitals.state.quantile import QuantileGrid
from vitals.state.windows import COUNT, HIGH, LOW, TOTAL, BucketRings, bucket_numbers

STATS: tuple[str, ...] = ("mean", "min", "max", "p95", "rate", "count")
_MAX_EXACT_BUCKETS = 2**24 // 255  # float32 holds every sum of that many uint8 counts exactly
_T = TypeVar("_T", bound=np.generic)
_DENSE_SHARE = 0.75  # compute on the whole arrays (no gather) when at least this share of rows is asked for
# some rows of the ring arrays, copied: tag (rows, slots), cells (rows, slots, 4), hist (rows, slots, bins)
RingCopy = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.uint8]]


class RingRows:
    """The ring arrays of some rows: views of the whole arrays, or gathered copies for a small subset."""

    def __init__(self, rings: BucketRings, rows: npt.NDArray[np.int64], copied: RingCopy | None = None) -> None:
        self.pick: npt.NDArray[np.int64] | None = None  # rows to pick from whole-array results
        self.tag: npt.NDArray[np.int32]
        self.cells: npt.NDArray[np.float32]
        self.hist: npt.NDArray[np.uint8]
        if copied is not None:  # rows copied out of the ring earlier (:func:`copy_ring_rows`)
            self.tag, self.cells, self.hist = copied
            return
        n_rows, n_slots = rings.n_rows, rings.n_slots
        self.tag = rings.tag.reshape(n_rows, n_slots)
        self.cells = rings.cells.reshape(n_rows, n_slots, 4)
        self.hist = rings.hist.reshape(n_rows, n_slots, rings.n_bins)
        if len(rows) >= _DENSE_SHARE * n_rows:
            self.pick = rows
        else:
            self.tag = np.take(self.tag, rows, axis=0)
            self.cells = np.take(self.cells, rows, axis=0)
            self.hist = np.take(self.hist, rows, axis=0)

    def select(self, column: npt.NDArray[_T]) -> npt.NDArray[_T]:
        return column if self.pick is None else column[self.pick]


def copy_ring_rows(rings: BucketRings, rows: npt.NDArray[np.int64]) -> RingCopy:
    """The ring arrays of ``rows``, copied (the statistics of these rows can be computed later, after the ring
    moved on, with ``window_stats(..., copied=...)``)."""
    n_rows, n_slots = rings.n_rows, rings.n_slots
    return (np.take(rings.tag.reshape(n_rows, n_slots), rows, axis=0),
            np.take(rings.cells.reshape(n_rows, n_slots, 4), rows, axis=0),
            np.take(rings.hist.reshape(n_rows, n_slots, rings.n_bins), rows, axis=0))


def window_stats(
    rings: BucketRings, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.integer],
    as_of_ns: int | npt.NDArray[np.int64], grid: QuantileGrid, *, windows: list[int] | None = None,
    copied: RingCopy | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """``<stat>_<window>`` columns as of ``as_of_ns`` for ``rows`` (local rows; ``indicator`` per row), for the
    windows with the given indices (default: all). ``as_of_ns`` may be one time per row, and ``copied`` ring rows
    copied earlier (:func:`copy_ring_rows`, one per row) stand for the ring's own: the snapshots of many moments
    computed in one pass. Every statistic is computed row by row, so a row's result does not depend on the
    other rows asked for with it."""
    part = RingRows(rings, rows, copied)
    per_row = np.ndim(as_of_ns) > 0
    out: dict[str, npt.NDArray[np.float64]] = {}
    for k in range(len(rings.windows)) if windows is None else windows:
        w, off = rings.windows[k], int(rings.offsets[k])
        sl = slice(off, off + w.buckets)
        heads = bucket_numbers(np.asarray(as_of_ns, dtype=np.int64).reshape(-1), w.bucket_ns)
        head: int | npt.NDArray[np.int64] = heads[:, None] if per_row else int(heads[0])
        tag = part.tag[:, sl]
        valid = (tag > head - w.buckets) & (tag <= head)
        cells = part.cells[:, sl, :]
        stats = _bucket_stats(valid, cells[:, :, COUNT], cells[:, :, TOTAL], low=cells[:, :, LOW],
                              high=cells[:, :, HIGH], tag=tag, bucket_s=w.bucket_s)
        stats = {name: part.select(col) for name, col in stats.items()}
        merged = part.select(merged_histograms(part.hist[:, sl, :], valid))
        with np.errstate(invalid="ignore"):
            stats["p95"] = grid.quantile(indicator, merged, stats["min"], stats["max"])
        out.update({f"{name}_{w.name}": stats[name] for name in STATS})
    return out


def valid_set_changed(
    rings: BucketRings, rows: npt.NDArray[np.int64], window: int, head_a: int, head_b: int,
) -> npt.NDArray[np.bool_]:
    """True for rows holding a bucket that is inside window ``window`` as of one head bucket and not the other."""
    w, off = rings.windows[window], int(rings.offsets[window])
    tag = rings.tag.reshape(rings.n_rows, rings.n_slots)[:, off:off + w.buckets]
    tag = tag[rows] if len(rows) < _DENSE_SHARE * rings.n_rows else tag
    lo, hi = sorted((head_a, head_b))
    # valid as of a head h: h - K < tag <= h; the two sets differ on lo - K < tag <= hi - K or lo < tag <= hi
    moved = ((tag > lo - w.buckets) & (tag <= hi - w.buckets)) | ((tag > lo) & (tag <= hi))
    changed: npt.NDArray[np.bool_] = np.asarray(moved.any(axis=1))
    return changed if len(changed) == len(rows) else changed[rows]


def merged_histograms(hist: npt.NDArray[np.uint8], valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per row, the sum of the histograms (rows, buckets, bins) of its valid buckets: (rows, bins).

    As a float32 product-sum (exact: at most 2**24 / 255 buckets of 255), which numpy's einsum runs in tight
    loops, unlike integer sums over a middle axis."""
    if hist.shape[1] > _MAX_EXACT_BUCKETS:
        return (hist * valid[:, :, None]).sum(axis=1, dtype=np.int64)
    merged = np.einsum("nk,nkb->nb", valid.astype(np.float32), hist.astype(np.float32))
    return merged.astype(np.int64)


def _bucket_stats(
    valid: npt.NDArray[np.bool_], count: npt.NDArray[np.float32], total: npt.NDArray[np.float32], *,
    low: npt.NDArray[np.float32], high: npt.NDArray[np.float32], tag: npt.NDArray[np.int32], bucket_s: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """count, mean, min, max and the least-squares rate over the valid buckets."""
    n = np.multiply(count, valid, dtype=np.float64)  # counts and sums are finite: x * False == 0
    s = np.multiply(total, valid, dtype=np.float64)
    n_all = n.sum(axis=1)
    has = n_all > 0
    # bucket mid-times relative to the row's newest bucket (the newest valid one whenever any is valid: no tag
    # is newer than the view's time); the slope does not depend on the origin, and this one only on the ring
    mid_s = (np.subtract(tag, tag.max(axis=1)[:, None], dtype=np.int64) + 0.5) * bucket_s
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(has, s.sum(axis=1) / n_all, np.nan)
        lo = np.where(has, np.min(low, axis=1, where=valid, initial=np.inf).astype(np.float64), np.nan)
        hi = np.where(has, np.max(high, axis=1, where=valid, initial=-np.inf).astype(np.float64), np.nan)
        # slope of value on bucket mid-time, every reading weighted equally (= count-weighted bucket means)
        c_mean = (n * mid_s).sum(axis=1) / n_all
        dc = mid_s - c_mean[:, None]
        ndc = n * dc
        sxx = (ndc * dc).sum(axis=1)
        sxy = (dc * s).sum(axis=1)
        rate = np.where((np.count_nonzero(n, axis=1) >= 2) & (sxx > 0), sxy / sxx, np.nan)
    return {"mean": mean, "min": lo, "max": hi, "rate": rate, "count": n_all}
