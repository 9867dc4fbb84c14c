"""Window statistics (mean, min, max, p95, rate, count) of the bucket rings, for any subset of rows.

Everything a window's statistics depend on is the set of its *valid* buckets (those inside the window as of
the view's time) and the ring's contents; in particular the rate is computed against bucket times relative
to the row's newest bucket, not to the view's time. So the statistics of a row whose ring did not change and
whose valid buckets are the same as at an earlier view are bit for bit the ones computed then, which is what
lets :class:`vitals.state.view_cache.ViewCache` reuse them.

The statistics, the p95 sketch's from each row's histogram summed over its valid buckets included, come from
one compiled pass over the rows for every window (:mod:`vitals.state.window_kernel`), read in place from the
ring, into one array (windows, statistics, rows) whose rows are the columns (:func:`block_columns`).
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
    as_of_ns: int | npt.NDArray[np.int64], grid: QuantileGrid, *, copied: RingCopy | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """``<stat>_<window>`` columns of every window as of ``as_of_ns`` for ``rows`` (local rows; ``indicator`` per
    row). ``as_of_ns`` may be one time per row, and ``copied`` ring rows copied earlier (:func:`copy_ring_rows`,
    one per row) stand for the ring's own: the snapshots of many moments computed in one pass. Every statistic is
    computed row by row, so a row's result does not depend on the other rows asked for with it."""
    return block_columns(rings, window_block(rings, rows, indicator, as_of_ns, grid, copied=copied))


def window_block(
    rings: BucketRings, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.integer],
    as_of_ns: int | npt.NDArray[np.int64], grid: QuantileGrid, *, redo: npt.NDArray[np.bool_] | None = None,
    out: npt.NDArray[np.float64] | None = None, copied: RingCopy | None = None,
) -> npt.NDArray[np.float64]:
    """The statistics of :func:`window_stats` as one array (windows, ``window_kernel.N_STATS``, rows), computed in
    one pass over the rows (:func:`vitals.state.window_kernel.windows_rows`); with ``redo`` (windows, rows) only
    where it is True, written into ``out`` (whose other entries stay: the statistics of an earlier view)."""
    from vitals.state.window_kernel import N_STATS, windows_rows

    n_windows = len(rings.windows)
    if out is None:
        out = np.empty((n_windows, N_STATS, len(rows)))
    if not len(rows):
        return out
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
    heads = np.empty((n_windows, len(at)), dtype=np.int64)
    for k, w in enumerate(rings.windows):
        heads[k] = bucket_numbers(times, w.bucket_ns)  # one time (broadcast) or one per row
    bucket_s, buckets, offsets = rings.windows_for_kernel()
    windows_rows(tag, cells, hist, at, heads, offsets, buckets, bucket_s.astype(np.float64), grid.lo, grid.width,
                 np.asarray(indicator, dtype=np.int64), 95,
                 np.ones((n_windows, len(at)), dtype=bool) if redo is None else redo, out)
    return out


def block_columns(rings: BucketRings, block: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """``<stat>_<window>`` columns of a :func:`window_block` (views of it, in the order of :data:`STATS` per
    window)."""
    from vitals.state.window_kernel import S_COUNT, S_MAX, S_MEAN, S_MIN, S_P95, S_RATE

    index = {"mean": S_MEAN, "min": S_MIN, "max": S_MAX, "p95": S_P95, "rate": S_RATE, "count": S_COUNT}
    return {f"{name}_{w.name}": block[k, index[name]] for k, w in enumerate(rings.windows) for name in STATS}


def valid_set_changed(
    rings: BucketRings, rows: npt.NDArray[np.int64], window: int, head_a: int, head_b: int,
) -> npt.NDArray[np.bool_]:
    """True for rows holding a bucket that is inside window ``window`` as of one head bucket and not the other (the
    numpy reference of :func:`vitals.state.window_kernel.stale_entries`, which views use)."""
    w, off = rings.windows[window], int(rings.offsets[window])
    tag = rings.tag.reshape(rings.n_rows, rings.n_slots)[:, off:off + w.buckets]
    tag = tag[rows] if len(rows) < _DENSE_SHARE * rings.n_rows else tag
    lo, hi = sorted((head_a, head_b))
    # valid as of a head h: h - K < tag <= h; the two sets differ on lo - K < tag <= hi - K or lo < tag <= hi
    moved = ((tag > lo - w.buckets) & (tag <= hi - w.buckets)) | ((tag > lo) & (tag <= hi))
    changed: npt.NDArray[np.bool_] = np.asarray(moved.any(axis=1))
    return changed if len(changed) == len(rows) else changed[rows]
