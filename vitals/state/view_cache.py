"""Incremental window statistics for :meth:`vitals.state.ShardState.view`.

A view repeats the window statistics of the previous view for every row whose ring was not written since
(no batch touched it) and whose valid buckets are the same (for each window: the view's head bucket did not
move, or no bucket of the row entered or left the window with it); it computes the rest. Because the
statistics depend only on the ring and the valid set (see :mod:`vitals.state.window_stats`), the result is bit
for bit the full computation. At a real-time pace only the few series that reported since the last view are
computed; in a fast replay most rows are dirty and it costs what a full view costs.

The cache holds the column arrays of the last view it returned (they are read-only for that reason), so it
costs no memory beyond the view the consumers keep anyway; it is never pickled.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.state.quantile import QuantileGrid
from vitals.state.window_stats import STATS, valid_set_changed, window_stats
from vitals.state.windows import BucketRings, bucket_numbers


class ViewCache:
    """The window columns of the last view, with its rows (sorted local rows) and head bucket per window."""

    def __init__(self) -> None:
        self.rows: npt.NDArray[np.int64] | None = None
        self.heads: list[int] = []
        self.columns: dict[str, npt.NDArray[np.float64]] = {}
        self.computed_rows = 0  # rows x windows computed by the last call (for tests and benchmarks)

    def window_columns(
        self, rings: BucketRings, grid: QuantileGrid, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.int64],
        *, as_of_ns: int, dirty: npt.NDArray[np.bool_],
    ) -> dict[str, npt.NDArray[np.float64]]:
        """``<stat>_<window>`` columns for ``rows`` (a superset of the cached rows) as of ``as_of_ns``; ``dirty``
        marks the rows whose ring was written since the last call."""
        heads = [int(bucket_numbers(np.array([as_of_ns]), w.bucket_ns)[0]) for w in rings.windows]
        if self.rows is None or not len(rows):
            out = window_stats(rings, rows, indicator, as_of_ns, grid)
            self.computed_rows = len(rows) * len(heads)
        else:
            out = self._refresh(rings, grid, rows, indicator, as_of_ns=as_of_ns, heads=heads,
                                stale=self._stale(rows, self.rows, dirty))
        for column in out.values():
            column.setflags(write=False)
        self.rows, self.heads, self.columns = rows, heads, out
        return out

    def _refresh(
        self, rings: BucketRings, grid: QuantileGrid, rows: npt.NDArray[np.int64], indicator: npt.NDArray[np.int64],
        *, as_of_ns: int, heads: list[int], stale: tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64] | None],
    ) -> dict[str, npt.NDArray[np.float64]]:
        stale_rows, place = stale
        out: dict[str, npt.NDArray[np.float64]] = {}
        self.computed_rows = 0
        all_stale = bool(stale_rows.all())
        redos = [stale_rows if all_stale or heads[k] == self.heads[k] else
                 stale_rows | valid_set_changed(rings, rows, k, self.heads[k], heads[k]) for k in range(len(heads))]
        # every row in every window (a fast replay): one call for all windows, not one per window
        every = all_stale or all(r.all() for r in redos)
        all_fresh = window_stats(rings, rows, indicator, as_of_ns, grid) if every and len(rows) else None
        for k, w in enumerate(rings.windows):
            idx = np.flatnonzero(redos[k])
            self.computed_rows += len(idx)
            if all_fresh is not None:
                fresh = all_fresh
            else:
                fresh = window_stats(rings, rows[idx], indicator[idx], as_of_ns, grid, windows=[k]) if len(idx) else {}
            for name in (f"{s}_{w.name}" for s in STATS):
                if len(idx) == len(rows):
                    out[name] = fresh[name]
                    continue
                column = self._aligned(name, len(rows), place)
                if len(idx):
                    column[idx] = fresh[name]
                out[name] = column
        return out

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

    def _aligned(self, name: str, n: int, place: npt.NDArray[np.int64] | None) -> npt.NDArray[np.float64]:
        """A writable copy of a cached column, spread over the new rows (NaN where there was no row)."""
        if place is None:
            return self.columns[name].copy()
        column = np.full(n, np.nan)
        column[place] = self.columns[name]
        return column
