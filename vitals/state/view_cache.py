"""Incremental window statistics for :meth:`vitals.state.ShardState.view`.

A view repeats the window statistics of the previous view for every row whose ring was not written since
(no batch touched it) and whose valid buckets are the same (for each window: the view's head bucket did not
move, or no bucket of the row entered or left the window with it); it computes the rest. Because the
statistics depend only on the ring and the valid set (see :mod:`vitals.state.window_stats`), the result is bit
for bit the full computation. At a real-time pace only the few series that reported since the last view are
computed; in a fast replay most rows are dirty and it costs what a full view costs.

The cache holds the statistics of the last view it returned as one read-only array (windows, statistics, rows)
whose rows are that view's columns (:func:`vitals.state.window_stats.window_block`), so it costs no memory beyond
the view the consumers keep anyway; the next view finds its stale entries in one compiled pass
(:func:`vitals.state.window_kernel.stale_entries`), copies the block and computes them in another (a view with
nothing stale returns the block as it is). It is never pickled.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.state.quantile import QuantileGrid
from vitals.state.window_stats import block_columns, window_block
from vitals.state.windows import BucketRings, bucket_numbers


class ViewCache:
    """The window statistics of the last view, with its rows (sorted local rows) and head bucket per window."""

    def __init__(self) -> None:
        self.rows: npt.NDArray[np.int64] | None = None
        self.heads: list[int] = []
        self.block: npt.NDArray[np.float64] | None = None  # (windows, statistics, rows), read-only
        self.computed_rows = 0  # rows x windows computed by the last call (for tests and benchmarks)

    def window_columns(
        self, rings: BucketRings, grid: QuantileGrid, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.int64],
        *, as_of_ns: int, dirty: npt.NDArray[np.bool_],
    ) -> dict[str, npt.NDArray[np.float64]]:
        """``<stat>_<window>`` columns for ``rows`` (a superset of the cached rows) as of ``as_of_ns``; ``dirty``
        marks the rows whose ring was written since the last call."""
        heads = [int(bucket_numbers(np.array([as_of_ns]), w.bucket_ns)[0]) for w in rings.windows]
        cached = self.block
        if self.rows is None or cached is None or not len(rows):
            block = window_block(rings, rows, indicator, as_of_ns, grid)
            self.computed_rows = len(rows) * len(heads)
        else:
            block = self._refresh(rings, grid, rows, indicator, cached, as_of_ns=as_of_ns, heads=heads,
                                  stale=self._stale(rows, self.rows, dirty))
        block.setflags(write=False)
        self.rows, self.heads, self.block = rows, heads, block
        return block_columns(rings, block)

    def _refresh(
        self, rings: BucketRings, grid: QuantileGrid, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.int64],
        cached: npt.NDArray[np.float64], *, as_of_ns: int, heads: list[int],
        stale: tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64] | None],
    ) -> npt.NDArray[np.float64]:
        """The ``cached`` block spread over ``rows``, its stale entries computed (one pass over the rows)."""
        from vitals.state.window_kernel import stale_entries

        stale_rows, place = stale
        redo = np.empty((len(heads), len(rows)), dtype=bool)
        _, buckets, offsets = rings.windows_for_kernel()
        self.computed_rows = stale_entries(
            rings.tag.reshape(rings.n_rows, rings.n_slots), np.asarray(rows, dtype=np.int64), stale_rows, offsets,
            buckets, np.array(self.heads, dtype=np.int64), np.array(heads, dtype=np.int64), redo)
        if self.computed_rows == redo.size:  # every row in every window (a fast replay): nothing to copy
            return window_block(rings, rows, indicator, as_of_ns, grid)
        if not self.computed_rows and place is None:  # nothing changed: the last view's statistics (read-only)
            return cached
        out = self._aligned(cached, len(rows), place)
        return window_block(rings, rows, indicator, as_of_ns, grid, redo=redo, out=out)

    @staticmethod
    def _stale(
        rows: npt.NDArray[np.int64], cached_rows: npt.NDArray[np.int64], dirty: npt.NDArray[np.bool_],
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64] | None]:
        """Rows to recompute in every window (dirty or new since the last view), and where the cached rows sit
        among ``rows`` (None: the same rows)."""
        if len(rows) == len(cached_rows):
            return dirty, None
        place = np.searchsorted(rows, cached_rows)  # series with their first readings since the last view
        known = np.zeros(len(rows), dtype=bool)
        known[place] = True
        return dirty | ~known, place

    @staticmethod
    def _aligned(cached: npt.NDArray[np.float64], n: int, place: npt.NDArray[np.int64] | None
                 ) -> npt.NDArray[np.float64]:
        """A writable copy of the cached block, spread over the new rows (NaN where there was no row)."""
        if place is None:
            return cached.copy()
        block = np.full((*cached.shape[:2], n), np.nan)
        block[:, :, place] = cached
        return block
