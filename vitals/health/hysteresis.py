"""Warning levels with hysteresis, per series, vectorized over the series of a batch.

Levels come from :mod:`vitals.health.levels` (oriented badness against oriented thresholds). The hysteresis level
goes up at once to the raw level; it goes down only after ``intervals`` consecutive updates in which the value
was clearly below the current level: below ``threshold - margin * gap``, where ``gap`` is the distance from the
level's threshold to the next lower one (for blue, the blue-yellow gap). It then drops to the level the value
clearly holds (the level counted with the lowered thresholds). An update inside the margin resets the count.

An *update* is an accepted reading that, when it arrived, was newer than every reading of its series accepted
before it (a "record-breaking" reading, which becomes the series' last value). Out-of-order readings do not
update levels. This depends only on the arrival order, never on batch boundaries.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.health.levels import oriented_thresholds, threshold_gaps


class LevelRules:
    """Oriented thresholds and their lowered (margin) versions, per indicator."""

    def __init__(self, catalog: Catalog, margin: float | None = None, intervals: int | None = None) -> None:
        self.margin = catalog.hysteresis.margin if margin is None else margin
        self.intervals = catalog.hysteresis.intervals if intervals is None else intervals
        th = oriented_thresholds(catalog)
        self.thresholds = th
        self.lowered = th - self.margin * threshold_gaps(catalog)  # blue uses the blue-yellow gap
        # one contiguous column per threshold: gathering from 8 tiny 1-D tables is much faster than one
        # (n, 8) fancy gather of rows
        self._columns = tuple(np.ascontiguousarray(c) for c in np.concatenate([th, self.lowered], axis=1).T)
        # per indicator, its 8 thresholds as a list (a few readings are compared in Python: no array call each)
        self._lists: list[list[float]] = np.concatenate([th, self.lowered], axis=1).tolist()

    def raw_and_lowered(
        self, indicator: npt.NDArray[np.integer], badness: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """Level of each badness against the thresholds, and against the lowered thresholds (>= the first)."""
        if len(badness) <= FEW_READINGS:
            return self._few(indicator, badness)
        counts = []
        with np.errstate(invalid="ignore"):
            for half in (self._columns[:4], self._columns[4:]):
                level = np.zeros(len(badness), dtype=np.int8)
                for column in half:
                    level += badness >= np.take(column, indicator)
                counts.append(level)
        return counts[0], counts[1]


    def _few(
        self, indicator: npt.NDArray[np.integer], badness: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """:meth:`raw_and_lowered` of a few readings, compared in Python (the same IEEE comparisons; NaN counts
        no threshold, as ``>=`` does in numpy)."""
        raw, low = [], []
        for i, x in zip(indicator.tolist(), badness.tolist(), strict=True):
            t = self._lists[i]
            raw.append((x >= t[0]) + (x >= t[1]) + (x >= t[2]) + (x >= t[3]))
            low.append((x >= t[4]) + (x >= t[5]) + (x >= t[6]) + (x >= t[7]))
        return np.array(raw, dtype=np.int8), np.array(low, dtype=np.int8)


FEW_READINGS = 8  # up to this many readings, levels are counted in Python (cheaper than 16 array calls)


def hysteresis_step(
    level: npt.NDArray[np.int8], quiet: npt.NDArray[np.int16], rows: npt.NDArray[np.int64], *,
    raw: npt.NDArray[np.int8], lowered: npt.NDArray[np.int8], intervals: int,
) -> None:
    """Apply one update to each of ``rows`` (distinct) in place. A normal value at level 0 changes nothing
    (the quiet count is always 0 at level 0), so only the other rows are worked on."""
    current = level[rows]
    active = np.flatnonzero((raw > 0) | (current > 0))
    if len(active) < len(rows):
        rows, raw, lowered, current = rows[active], raw[active], lowered[active], current[active]
    count = quiet[rows].astype(np.int32)
    up = raw > current
    calm = ~up & (lowered < current)
    count = np.where(calm, count + 1, 0)
    drop = calm & (count >= intervals)
    level[rows] = np.where(up, raw, np.where(drop, lowered, current))
    quiet[rows] = np.where(drop, 0, np.minimum(count, np.iinfo(np.int16).max)).astype(np.int16)


def apply_updates(
    level: npt.NDArray[np.int8], quiet: npt.NDArray[np.int16], rows: npt.NDArray[np.int64], *,
    occurrence: npt.NDArray[np.int64], raw: npt.NDArray[np.int8], lowered: npt.NDArray[np.int8], intervals: int,
) -> None:
    """Apply updates in order: ``occurrence`` is each update's position among its row's updates in this batch.

    One vectorized step per occurrence rank (one rank in a typical batch, a few in a fast replay); when the ranks
    are many and hold few rows each (a sparse feed of a few series replayed fast: thousands of readings per series
    in one batch), one plain loop over the updates instead, which is cheaper than thousands of tiny steps.
    """
    if not len(rows):
        return
    if len(rows) <= FEW_READINGS and not occurrence.any():  # a few distinct rows: one update each, in Python
        _apply_distinct(level, quiet, rows, raw=raw, lowered=lowered, intervals=intervals)
        return
    ranks = int(occurrence.max()) + 1
    if len(rows) < SEQUENTIAL_ROWS_PER_RANK * ranks:
        _apply_in_sequence(level, quiet, rows, occurrence=occurrence, raw=raw, lowered=lowered, intervals=intervals)
        return
    order = np.argsort(occurrence, kind="stable")
    for sel in np.split(order, np.searchsorted(occurrence[order], np.arange(1, ranks))):
        hysteresis_step(level, quiet, rows[sel], raw=raw[sel], lowered=lowered[sel], intervals=intervals)


SEQUENTIAL_ROWS_PER_RANK = 64  # below this many updates per rank, a Python loop beats per-rank array steps
_QUIET_MAX = int(np.iinfo(np.int16).max)


def _apply_in_sequence(
    level: npt.NDArray[np.int8], quiet: npt.NDArray[np.int16], rows: npt.NDArray[np.int64], *,
    occurrence: npt.NDArray[np.int64], raw: npt.NDArray[np.int8], lowered: npt.NDArray[np.int8], intervals: int,
) -> None:
    """The rule of :func:`hysteresis_step`, one update at a time (each row's updates in occurrence order)."""
    order = np.lexsort((occurrence, rows))
    touched = np.unique(rows)
    lv = dict(zip(touched.tolist(), level[touched].tolist(), strict=True))
    qv = dict(zip(touched.tolist(), quiet[touched].tolist(), strict=True))
    for row, r, low in zip(rows[order].tolist(), raw[order].tolist(), lowered[order].tolist(), strict=True):
        current = lv[row]
        if r > current:  # up at once
            lv[row], qv[row] = r, 0
        elif low < current:  # clearly below the current level: count; drop after ``intervals``
            count = qv[row] + 1
            if count >= intervals:
                lv[row], qv[row] = low, 0
            else:
                qv[row] = min(count, _QUIET_MAX)
        else:  # inside the margin (or normal at level 0): the count restarts
            qv[row] = 0
    level[touched] = [lv[t] for t in touched.tolist()]
    quiet[touched] = [qv[t] for t in touched.tolist()]


def apply_one(level: npt.NDArray[np.int8], quiet: npt.NDArray[np.int16], row: int, raw: int, lowered: int, *,
              intervals: int) -> None:
    """:func:`apply_updates` of one update of one row (a sparse feed's piece), in scalars."""
    current = int(level[row])
    if raw > current:
        level[row], quiet[row] = raw, 0
    elif lowered < current:
        count = int(quiet[row]) + 1
        if count >= intervals:
            level[row], quiet[row] = lowered, 0
        else:
            quiet[row] = min(count, _QUIET_MAX)
    else:
        quiet[row] = 0


def _apply_distinct(
    level: npt.NDArray[np.int8], quiet: npt.NDArray[np.int16], rows: npt.NDArray[np.int64], *,
    raw: npt.NDArray[np.int8], lowered: npt.NDArray[np.int8], intervals: int,
) -> None:
    """The rule of :func:`_apply_in_sequence` for one update of each of a few distinct rows."""
    for row, r, low in zip(rows.tolist(), raw.tolist(), lowered.tolist(), strict=True):
        apply_one(level, quiet, row, r, low, intervals=intervals)
