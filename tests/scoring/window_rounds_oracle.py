"""The window accumulator as it was before its compiled kernel (:mod:`vitals.scoring.cells_kernel`): the oracle of
``test_window_accumulator_kernel.py``.

Per batch, in rounds of at most one reading per row (:func:`vitals.detectors.occurrence_rounds`), numpy per
round: the cells (a reading older than the pending cell is ignored; a later cell commits the pending cell if its
value differs from the last counted one), the closes (a row's open window closes when its pending cell lies in a
later window); then the residuals of the commits, elementwise
(:func:`vitals.scoring.city_window_model.cell_residuals`: the values of the stream's shared expected values,
``test_few_cell_residuals_equal_cell_residuals``), folded into the open windows by the shared core
(:func:`vitals.detectors.window_forest.fold_windows`); the closed windows with ``min_count`` cells or more are
returned in the order they closed (round by round, batch order within a round). A subclass of
:class:`vitals.scoring.window_state.WindowAccumulator` (the same state: either's restores into the other).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.catalog import SeasonalModel
from vitals.detectors import occurrence_rounds
from vitals.detectors.window_forest import FEATURES, STATS, Runs, fold_windows, point_stats, raw_features
from vitals.scoring.city_window_model import cell_residuals
from vitals.scoring.window_state import ClosedWindows, WindowAccumulator
from vitals.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_KEY = np.int64(1) << 32  # (row, window) keys: row * _KEY + window


class RoundsAccumulator(WindowAccumulator):
    """:class:`WindowAccumulator` with its former numpy ``update`` (see module doc)."""

    def update(self, seasonal: SeasonalModel, rows: IntArray, ts_ns: IntArray, values: FloatArray) -> ClosedWindows:
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
            z = cell_residuals(seasonal, self.indicator[r], (cell + 1) * step_ns, v.astype(np.float64))
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
        stats = self.acc[:, rows].copy()  # open windows untouched by the batch
        if runs.rows.size:
            key = runs.rows * _KEY + runs.windows  # sorted: rows ascending, windows ascending per row
            at = np.minimum(np.searchsorted(key, rows * _KEY + windows), key.size - 1)
            found = key[at] == rows * _KEY + windows
            stats[:, found] = runs.stats[:, at[found]]
        return stats
