"""Window statistics (mean, min, max, p95, rate, count) of the bucket rings, for any subset of rows.

Everything a window's statistics depend on is the set of its *valid* buckets (those inside the window as of
the view's time) and the ring's contents; in particular the rate is computed against bucket times relative
to the row's newest bucket, not to the view's time. So the statistics of a row whose ring did not change and
whose valid buckets are the same as at an earlier view are bit for bit the ones computed then, which is what
lets :class:`vitals.state.view_cache.ViewCache` reuse them.

The statistics, the p95 sketch's from each row's histogram summed over its valid buckets included, come from
one compiled loop over the rows per window (:mod:`vitals.state.window_kernel`), read in place from the ring.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.state.quantile import QuantileGrid
from vitals.state.windows import BucketRings, bucket_numbers

STATS: tuple[str, ...] = ("mean", "min", "max", "p95", "rate", "count")
_DENSE_SHARE = 0.75  # valid_set_changed reads the whole tag array (no gather) when this share of rows is asked for
# some rows of the ring arrays, copied: tag (rows, slots), cells (rows, slots, 4), hist (rows, slots, bins)
RingCopy = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.uint8]]


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
    from vitals.state.window_kernel import N_STATS, S_COUNT, S_MAX, S_MEAN, S_MIN, S_P95, S_RATE, window_rows

    if copied is not None:
        tag, cells, hist = copied
        at = np.arange(len(rows), dtype=np.int64)
    else:
        n_rows, n_slots = rings.n_rows, rings.n_slots
        tag = rings.tag.reshape(n_rows, n_slots)
        cells = rings.cells.reshape(n_rows, n_slots, 4)
        hist = rings.hist.reshape(n_rows, n_slots, rings.n_bins)
        at = np.asarray(rows, dtype=np.int64)
    times = np.asarray(as_of_ns, dtype=np.int64).reshape(-1)
    ind = np.asarray(indicator, dtype=np.int64)
    out: dict[str, npt.NDArray[np.float64]] = {}
    for k in range(len(rings.windows)) if windows is None else windows:
        w = rings.windows[k]
        heads = bucket_numbers(times, w.bucket_ns)
        if len(heads) != len(at):
            heads = np.full(len(at), heads[0] if len(heads) else 0, dtype=np.int64)
        stats = np.empty((N_STATS, len(at)))
        window_rows(tag, cells, hist, at, heads, int(rings.offsets[k]), w.buckets, float(w.bucket_s), grid.lo,
                    grid.width, ind, 95, stats)
        named = {"mean": stats[S_MEAN], "min": stats[S_MIN], "max": stats[S_MAX], "p95": stats[S_P95],
                 "rate": stats[S_RATE], "count": stats[S_COUNT]}
        out.update({f"{name}_{w.name}": named[name] for name in STATS})
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
