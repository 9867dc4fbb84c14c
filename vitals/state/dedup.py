"""Exact-duplicate detection: the same series and the same event time as an already accepted reading.

Within a batch the readings are sorted by (series, time) with ties kept in arrival order, so the first arrival
of a (series, time) pair is kept and the rest are duplicates. Across batches each series keeps a ring of the
``depth`` largest event times it has accepted; a reading whose time is in the ring is a duplicate.

Guarantee: a duplicate is always caught when its original is among the ``depth`` latest event times of its
series. Upstream, readings older than the partition watermark minus the allowed lateness are dead-lettered as
late, so with a series cadence ``c`` and allowed lateness ``L`` every duplicate that reaches the state is
caught when ``depth >= L / c + 2`` (the default 8 covers 300 s of lateness at the fastest catalog cadence,
60 s, with room for jitter). An older duplicate beyond the ring cannot be told from a late first arrival and
is accepted.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EMPTY_TS = np.iinfo(np.int64).min
DEFAULT_DEPTH = 8


class DuplicateRing:
    """Per series, the ``depth`` largest accepted event times (unordered), stored as (depth, n_rows)."""

    def __init__(self, n_rows: int, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self.ts = np.full((depth, n_rows), EMPTY_TS, dtype=np.int64)

    def seen(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """True where (row, time) is in the ring."""
        hit = self.ts[0][rows] == ts_ns
        for j in range(1, self.depth):
            hit |= self.ts[j][rows] == ts_ns
        return hit

    def insert(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], from_end: npt.NDArray[np.int64]
    ) -> None:
        """Insert accepted times; ``from_end`` is each reading's position from the end of its row's group in
        (row, time) order, so round ``j`` inserts at most one time per row. Keeping the largest ``depth``
        times does not depend on the insertion order."""
        for j in range(self.depth):
            sel = np.flatnonzero(from_end == j)
            if not len(sel):
                break
            r, t = rows[sel], ts_ns[sel]
            current = self.ts[:, r]
            slot = np.argmin(current, axis=0)
            smallest = current[slot, np.arange(len(r))]
            better = t > smallest
            self.ts[slot[better], r[better]] = t[better]


def within_batch_duplicates(rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For readings sorted by (row, time), ties in arrival order: True for every repeat after the first."""
    dup = np.zeros(len(rows), dtype=bool)
    dup[1:] = (rows[1:] == rows[:-1]) & (ts_ns[1:] == ts_ns[:-1])
    return dup
