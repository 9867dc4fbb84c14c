"""Per-shard window features in the flow, the streaming twin of :func:`vitals.scoring.city_window_model.grid_cells`.

Per row (series of the shard), arrays only (it pickles with the shard): the pending cell (the last value seen in
the current ``step_s`` cell), the last counted value, the open window and its accumulators of residuals
(count, sum, sum of squares, min, max, first, last). Per batch, vectorized in rounds of at most one reading per
row (:func:`vitals.detectors.occurrence_rounds`):

- a reading in a later cell commits the pending cell: it counts if its value differs from the last counted
  value (as in training), and its residual is folded into its window (a new window resets the accumulators);
- a window closes as soon as a row's pending cell lies in a later window (no more cells of it can come): closed
  windows with at least ``min_count`` counted cells are returned with their raw features, all rows at once.

Values are rounded to float32 before comparing, like the training grid. A reading older than the pending cell
is ignored here (the state already accounted for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import SeasonalModel
from vitals.detectors import occurrence_rounds
from vitals.detectors.window_forest import FEATURES
from vitals.scoring.city_window_model import cell_residuals, cells_per_window
from vitals.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
        self.acc = np.zeros((7, n_rows))  # count, sum, sumsq, min, max, first, last

    def matches(self, step_s: int, window_s: int, min_count: int) -> bool:
        return (self.step_s, self.window_s, self.min_count) == (step_s, window_s, min_count)

    def update(self, seasonal: SeasonalModel, rows: IntArray, ts_ns: IntArray, values: FloatArray) -> ClosedWindows:
        """Fold a batch (local rows, event times, values) in; returns the windows it closed."""
        step_ns = self.step_s * NS_PER_S
        parts: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
        for pos in occurrence_rounds(rows):
            r, t = rows[pos], ts_ns[pos]
            c = t // step_ns
            fresh = c >= self.cell[r]
            r, t, c, v = r[fresh], t[fresh], c[fresh], values[pos][fresh].astype(np.float32)
            later = (c > self.cell[r]) & (self.cell[r] >= 0)
            self._commit(r[later], seasonal)
            self.cell[r] = c
            self.pending[r] = v
            closing = (self.window[r] >= 0) & (c // self.cpw > self.window[r])
            if np.any(closing):
                parts.append(self._close(r[closing], t[closing]))
        if not parts:
            empty = np.empty(0, np.int64)
            return ClosedWindows(empty, empty, empty, np.empty((0, len(FEATURES))))
        rows_c, start, closed, raw = (np.concatenate([p[k] for p in parts]) for k in range(4))
        return ClosedWindows(rows_c, start, closed, raw.reshape(-1, len(FEATURES)))

    def _commit(self, r: IntArray, seasonal: SeasonalModel) -> None:
        """Count the pending cells of rows ``r`` (those differing from the last counted value)."""
        v = self.pending[r]
        counts = v != self.last[r]
        r, v = r[counts], v[counts].astype(np.float64)
        if not r.size:
            return
        self.last[r] = v
        cell = self.cell[r]
        z = cell_residuals(seasonal, self.indicator[r], (cell + 1) * self.step_s * NS_PER_S, v)
        w = cell // self.cpw
        new = w != self.window[r]
        a = self.acc
        a[0, r] = np.where(new, 1.0, a[0, r] + 1.0)
        a[1, r] = np.where(new, z, a[1, r] + z)
        a[2, r] = np.where(new, z * z, a[2, r] + z * z)
        a[3, r] = np.where(new, z, np.minimum(a[3, r], z))
        a[4, r] = np.where(new, z, np.maximum(a[4, r], z))
        a[5, r] = np.where(new, z, a[5, r])
        a[6, r] = z
        self.window[r] = w

    def _close(self, r: IntArray, t: IntArray) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
        a = self.acc[:, r]
        full = a[0] >= self.min_count
        start = self.window[r] * self.cpw * self.step_s * NS_PER_S
        self.window[r] = -1
        a = a[:, full]
        mean = a[1] / a[0]
        std = np.sqrt(np.maximum(a[2] / a[0] - mean * mean, 0.0))
        raw = np.column_stack([mean, std, a[3], a[4], a[4] - a[3], a[6] - a[5]])
        return r[full], start[full], t[full], raw.ravel()
