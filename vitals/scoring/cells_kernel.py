"""The window accumulator's per-reading work (:class:`vitals.scoring.window_state.WindowAccumulator`) as two
compiled passes over a batch (numba), state in the accumulator's per-row arrays.

Every step depends on the previous readings of the *same* row only, so a batch is walked once in batch order:

1. :func:`walk_cells`: per reading, the cells (a reading older than the row's pending cell is ignored; one in a
   later cell commits the pending cell if its value differs from the last counted value; the pending cell becomes
   the reading's) and the closes (the row's open window closes when the reading's cell lies in a later window);
   every commit and close is recorded as an event, in batch order;
2. the residuals of the committed cells (numpy, one seasonal call for the batch, outside the kernels);
3. :func:`fold_events`: the events replayed in order: a commit folds its residual into the row's open window (or
   starts a new one), a close copies the open window's statistics out.

The arithmetic is :func:`vitals.detectors.window_forest.combine_runs`'s: count, sum and sum of squares added one
element after the other from 0.0 (``np.bincount``), a new window's first element added to 0.0, min and max as
``np.minimum`` / ``np.maximum`` (a NaN wins; otherwise the second operand unless the first is strictly
smaller/larger). An open window carried into a batch is not re-added to 0.0 as ``np.bincount`` would add it: its
sums came from an addition to 0.0 and cannot be -0.0, for which alone ``0.0 + s`` differs from ``s``.

Imported by :mod:`vitals.scoring.window_state` (numba is then loaded, and the kernels read from numba's cache in
``__pycache__`` after their first compilation).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)
from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

# event kinds of ``walk_cells``
COMMIT, COMMIT_NEW, CLOSE = 0, 1, 2  # a counted cell into the open window / starting a new window; a close
# rows of the statistics (vitals.detectors.window_forest.STATS)
_COUNT, _SUM, _SUMSQ, _MIN, _MAX, _FIRST, _LAST = range(7)


@nb.njit(cache=True, nogil=True)
def walk_cells(
    rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], step_ns: int,
    cells_per_window: int, cell: npt.NDArray[np.int64], pending: npt.NDArray[np.float32],
    last: npt.NDArray[np.float32], window: npt.NDArray[np.int64], seen: npt.NDArray[np.int64],
    commit_row: npt.NDArray[np.int64], commit_cell: npt.NDArray[np.int64], commit_value: npt.NDArray[np.float32],
    close_row: npt.NDArray[np.int64], close_window: npt.NDArray[np.int64], close_ts: npt.NDArray[np.int64],
    close_round: npt.NDArray[np.int64], event_kind: npt.NDArray[np.int8], event_ref: npt.NDArray[np.int64],
    distinct: npt.NDArray[np.int64], commit_at: npt.NDArray[np.int64],
) -> tuple[int, int, int, int]:
    """Walk a batch in order, updating ``cell``, ``pending``, ``last`` and ``window`` per row; record the commits
    (row, cell, value, and the index of the cell in ``distinct``: the distinct committed cells in order of first
    commit), the closes (row, window, event time, the reading's occurrence of its row in the batch: ``seen``
    counts them, zero on entry) and the events (kind, index into the commits or closes). Returns the numbers of
    commits, closes, events and distinct cells (-1: more than ``distinct`` holds; ``commit_at`` is then unset)."""
    n_commits = 0
    n_closes = 0
    n_events = 0
    n_distinct = 0
    for p in range(rows.shape[0]):
        r = rows[p]
        t = ts[p]
        occurrence = seen[r]
        seen[r] = occurrence + 1
        c = t // step_ns
        prev = cell[r]
        if c < prev:  # older than the pending cell: already accounted for
            continue
        if c > prev >= 0:
            value = pending[r]
            if value != last[r]:  # the pending cell counts: commit it
                last[r] = value
                w = prev // cells_per_window
                commit_row[n_commits] = r
                commit_cell[n_commits] = prev
                commit_value[n_commits] = value
                if n_distinct >= 0:  # a batch commits cells of a few grid steps: a short list to search
                    at = 0
                    while at < n_distinct and distinct[at] != prev:
                        at += 1
                    if at == n_distinct:
                        if at < distinct.shape[0]:
                            distinct[at] = prev
                            n_distinct += 1
                        else:
                            n_distinct = -1
                    commit_at[n_commits] = at
                event_kind[n_events] = COMMIT if window[r] == w else COMMIT_NEW
                event_ref[n_events] = n_commits
                n_commits += 1
                n_events += 1
                window[r] = w
        cell[r] = c
        pending[r] = np.float32(values[p])
        w = window[r]
        if w >= 0 and c // cells_per_window > w:  # no more cells of the open window can come
            close_row[n_closes] = r
            close_window[n_closes] = w
            close_ts[n_closes] = t
            close_round[n_closes] = occurrence
            event_kind[n_events] = CLOSE
            event_ref[n_events] = n_closes
            n_closes += 1
            n_events += 1
            window[r] = -1
    return n_commits, n_closes, n_events, n_distinct


@nb.njit(cache=True, inline="always")
def _minimum(a: float, b: float) -> float:
    """``np.minimum(a, b)``."""
    return a if (a < b or math.isnan(a)) else b


@nb.njit(cache=True, inline="always")
def _maximum(a: float, b: float) -> float:
    """``np.maximum(a, b)``."""
    return a if (a > b or math.isnan(a)) else b


@nb.njit(cache=True, nogil=True)
def fold_events(
    event_kind: npt.NDArray[np.int8], event_ref: npt.NDArray[np.int64], n_events: int,
    commit_row: npt.NDArray[np.int64], residual: npt.NDArray[np.float64], close_row: npt.NDArray[np.int64],
    acc: npt.NDArray[np.float64], closed: npt.NDArray[np.float64],
) -> None:
    """Replay the events of :func:`walk_cells` in order: a commit folds its residual into its row's open window
    statistics (``acc`` (len(STATS), n_rows)), a close copies them to its column of ``closed``."""
    for e in range(n_events):
        j = event_ref[e]
        kind = event_kind[e]
        if kind == CLOSE:
            r = close_row[j]
            for s in range(7):
                closed[s, j] = acc[s, r]
            continue
        r = commit_row[j]
        z = residual[j]
        if kind == COMMIT_NEW:
            acc[_COUNT, r] = 0.0 + 1.0
            acc[_SUM, r] = 0.0 + z
            acc[_SUMSQ, r] = 0.0 + z * z
            acc[_MIN, r] = z
            acc[_MAX, r] = z
            acc[_FIRST, r] = z
        else:
            acc[_COUNT, r] += 1.0
            acc[_SUM, r] += z
            acc[_SUMSQ, r] += z * z
            acc[_MIN, r] = _minimum(acc[_MIN, r], z)
            acc[_MAX, r] = _maximum(acc[_MAX, r], z)
        acc[_LAST, r] = z
