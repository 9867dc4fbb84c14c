"""Per-shard window features in the flow, the streaming twin of :func:`vitals.scoring.city_window_model.grid_cells`.

Per row (series of the shard), arrays only (it pickles with the shard): the pending cell (the last value seen in
the current ``step_s`` cell), the last counted value, the open window and its statistics of residuals
(:data:`vitals.detectors.window_forest.STATS`). Per batch:

- in rounds of at most one reading per row (:func:`vitals.detectors.occurrence_rounds`), the cells: a reading in
  a later cell commits the pending cell, which counts if its value differs from the last counted value (as in
  training); a window closes as soon as a row's pending cell lies in a later window than its last counted cell
  (no more cells of it can come);
- then the residuals of the counted cells (one seasonal call per batch) are folded into the open windows by the
  shared core (:func:`vitals.detectors.window_forest.fold_windows`, the accumulator offline features use too), and
  the closed windows with at least ``min_count`` counted cells are returned with their raw features, in the
  order they closed.

Values are rounded to float32 before comparing, like the training grid. A reading older than the pending cell
is ignored here (the state already accounted for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import SeasonalModel
from vitals.detectors import occurrence_rounds
from vitals.detectors.window_forest import FEATURES, STATS, Runs, fold_windows, point_stats, raw_features
from vitals.scoring.city_window_model import cells_per_window, few_cell_residuals
from vitals.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_KEY = np.int64(1) << 32  # (row, window) keys: row * _KEY + window (windows are event hours: far below 2**32)


@dataclass(frozen=True)
class ClosedWindows:
    rows: IntArray          # local rows whose window closed
    window_start_ns: IntArray
    closed_ns: IntArray     # event time of the reading that closed it
    raw: FloatArray         # (k, len(FEATURES)) raw features of residuals: mean, std, min, max, range, change


class WindowAccumulator:
    """Open windows of residual cells for ``n_rows`` rows (see module doc)."""

    def __init__(self, indicator: npt.NDArray[np.integer], *, step_s: int = 300, window_s: int = 3600,
                 min_count: int = 3) -> None:
        n_rows = len(indicator)
        self.indicator = np.asarray(indicator, dtype=np.int64)  # indicator code of every row
        self.step_s, self.window_s, self.min_count = step_s, window_s, min_count
        self.cpw = cells_per_window(window_s, step_s)
        self.cell = np.full(n_rows, -1, dtype=np.int64)
        self.pending = np.zeros(n_rows, dtype=np.float32)
        self.last = np.full(n_rows, np.nan, dtype=np.float32)
        self.window = np.full(n_rows, -1, dtype=np.int64)
        self.acc = np.zeros((len(STATS), n_rows))  # statistics of the open window

    def matches(self, step_s: int, window_s: int, min_count: int) -> bool:
        return (self.step_s, self.window_s, self.min_count) == (step_s, window_s, min_count)

    def update(self, seasonal: SeasonalModel, rows: IntArray, ts_ns: IntArray, values: FloatArray) -> ClosedWindows:
        """Fold a batch (local rows, event times, values) in; returns the windows it closed."""
        step_ns = self.step_s * NS_PER_S
        window = self.window.copy()  # the open window of every row as the rounds go (the fold comes after)
        commits: list[tuple[IntArray, IntArray, npt.NDArray[np.float32]]] = []
        closes: list[tuple[IntArray, IntArray, IntArray]] = []
        for pos in occurrence_rounds(rows):
            r, t = rows[pos], ts_ns[pos]
            c = t // step_ns
            fresh = c >= self.cell[r]
            r, t, c, v = r[fresh], t[fresh], c[fresh], values[pos][fresh].astype(np.float32)
            later = r[(c > self.cell[r]) & (self.cell[r] >= 0)]
            counts = self.pending[later] != self.last[later]  # the pending cell counts: commit it
            committed = later[counts]
            if committed.size:
                self.last[committed] = self.pending[committed]
                commits.append((committed, self.cell[committed].copy(), self.pending[committed].copy()))
                window[committed] = self.cell[committed] // self.cpw
            self.cell[r] = c
            self.pending[r] = v
            closing = (window[r] >= 0) & (c // self.cpw > window[r])
            if np.any(closing):
                shut = r[closing]
                closes.append((shut, window[shut].copy(), t[closing]))
                window[shut] = -1
        if commits:
            r, cell, v = (np.concatenate([part[k] for part in commits]) for k in range(3))
            z = few_cell_residuals(seasonal, self.indicator[r], (cell + 1) * step_ns, v.astype(np.float64))
            runs = fold_windows(self.window, self.acc, r, cell // self.cpw, point_stats(z))
        else:
            empty = np.empty(0, np.int64)
            runs = Runs(empty, empty, np.empty((len(STATS), 0)), np.empty(0, dtype=bool))
        if not closes:
            empty = np.empty(0, np.int64)
            return ClosedWindows(empty, empty, empty, np.empty((0, len(FEATURES))))
        shut, shut_w, shut_t = (np.concatenate([part[k] for part in closes]) for k in range(3))
        stats = self._closed_stats(runs, shut, shut_w)
        self.window[shut[self.window[shut] == shut_w]] = -1  # a closed window is no longer open
        full = stats[0] >= self.min_count
        start = shut_w[full] * self.cpw * self.step_s * NS_PER_S
        return ClosedWindows(shut[full], start, shut_t[full], raw_features(stats[:, full]))

    def _closed_stats(self, runs: Runs, rows: IntArray, windows: IntArray) -> FloatArray:
        """Statistics of the closed windows: the batch's run of (row, window), or the row's open window when
        the batch brought that row no counted cell."""
        stats = self.acc[:, rows].copy()  # open windows untouched by the batch
        if runs.rows.size:
            key = runs.rows * _KEY + runs.windows  # sorted: rows ascending, windows ascending per row
            at = np.minimum(np.searchsorted(key, rows * _KEY + windows), key.size - 1)
            found = key[at] == rows * _KEY + windows
            stats[:, found] = runs.stats[:, at[found]]
        return stats
