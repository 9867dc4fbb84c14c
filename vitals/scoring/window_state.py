"""Per-shard window features in the flow, the streaming twin of :func:`vitals.scoring.city_window_model.grid_cells`.

Per row (series of the shard), arrays only (it pickles with the shard): the pending cell (the last value seen in
the current ``step_s`` cell), the last counted value, the open window and its statistics of residuals
(:data:`vitals.detectors.window_forest.STATS`). Per batch, one compiled walk in batch order
(:mod:`vitals.scoring.cells_kernel`; each step reads and writes its own row only):

- the cells: a reading in a later cell commits the pending cell, which counts if its value differs from the last
  counted value (as in training); a window closes as soon as a row's pending cell lies in a later window than its
  last counted cell (no more cells of it can come);
- then the residuals of the counted cells (the seasonal expected values once per indicator and grid step, kept
  across batches: :func:`vitals.scoring.city_window_model.expected_columns`) are folded into the open windows in batch
  order with the arithmetic of the shared core (:func:`vitals.detectors.window_forest.combine_runs`, which offline
  features use), and the closed windows with at least ``min_count`` counted cells are returned with their raw
  features, in the order they closed (the order of rounds of one reading per row: the former numpy
  implementation's, kept as the oracle in ``tests/scoring/window_rounds_oracle.py``).

Values are rounded to float32 before comparing, like the training grid. A reading older than the pending cell
is ignored here (the state already accounted for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import SeasonalModel
from vitals.detectors.window_forest import FEATURES, STATS, raw_features
from vitals.scoring.city_window_model import cells_per_window, few_cell_residuals
from vitals.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_DISTINCT_CELLS = 64  # distinct committed cells a batch's walk lists (more: np.unique finds them)


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
        from vitals.scoring import cells_kernel as k

        rows = np.ascontiguousarray(rows, dtype=np.int64)
        ts_ns = np.ascontiguousarray(ts_ns, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.float64)
        n = rows.shape[0]
        step_ns = self.step_s * NS_PER_S
        commit_row, commit_cell, close_row, close_window, close_ts, close_round, event_ref = (
            np.empty(m, dtype=np.int64) for m in (n, n, n, n, n, n, 2 * n))
        commit_value = np.empty(n, dtype=np.float32)
        event_kind = np.empty(2 * n, dtype=np.int8)
        distinct, commit_at = np.empty(_DISTINCT_CELLS, dtype=np.int64), np.empty(n, dtype=np.int64)
        n_commits, n_closes, n_events, n_distinct = k.walk_cells(
            rows, ts_ns, values, step_ns, self.cpw, self.cell, self.pending, self.last, self.window,
            np.zeros(self.cell.shape[0], dtype=np.int64), commit_row, commit_cell, commit_value, close_row,
            close_window, close_ts, close_round, event_kind, event_ref, distinct, commit_at)
        if not n_events:
            return _no_windows()
        z = np.empty(0)
        if n_commits:
            ends = None if n_distinct < 0 else ((distinct[:n_distinct] + 1) * step_ns, commit_at[:n_commits])
            z = few_cell_residuals(seasonal, self.indicator[commit_row[:n_commits]],
                                   (commit_cell[:n_commits] + 1) * step_ns, commit_value[:n_commits].astype(np.float64),
                                   ends=ends)
        stats = np.empty((len(STATS), n_closes))
        k.fold_events(event_kind, event_ref, n_events, commit_row, np.ascontiguousarray(z, dtype=np.float64),
                      close_row, self.acc, stats)
        if not n_closes:
            return _no_windows()
        shut, shut_w, shut_t = close_row[:n_closes], close_window[:n_closes], close_ts[:n_closes]
        rounds = close_round[:n_closes]
        if rounds.any():  # in the order they closed had the batch been cut into rounds of one reading per row
            order = np.argsort(rounds, kind="stable")
            shut, shut_w, shut_t, stats = shut[order], shut_w[order], shut_t[order], stats[:, order]
        full = stats[0] >= self.min_count
        start = shut_w[full] * self.cpw * self.step_s * NS_PER_S
        return ClosedWindows(shut[full], start, shut_t[full], raw_features(stats[:, full]))


def _no_windows() -> ClosedWindows:
    empty = np.empty(0, np.int64)
    return ClosedWindows(empty, empty, empty, np.empty((0, len(FEATURES))))
