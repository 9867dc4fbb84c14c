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
    """Per series, the ``depth`` largest accepted event times, stored as (depth, n_rows) and kept circularly
    ascending from ``head`` (the slot of the smallest), so an in-order time replaces the smallest in O(1)."""

    def __init__(self, n_rows: int, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self.ts = np.full((depth, n_rows), EMPTY_TS, dtype=np.int64)
        self.head = np.zeros(n_rows, dtype=np.uint8)

    def nbytes(self) -> int:
        return int(self.ts.nbytes + self.head.nbytes)

    def seen(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """True where (row, time) is in the ring."""
        hit = self.ts[0][rows] == ts_ns
        for j in range(1, self.depth):
            hit |= self.ts[j][rows] == ts_ns
        return hit

    def insert(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], from_end: npt.NDArray[np.int64]
    ) -> None:
        """Insert accepted, not yet seen times; ``from_end`` is each reading's position from the end of its row's
        group in (row, time) order. Only the newest ``depth`` per row can stay; they go in oldest first, one per
        row per round, so the usual in-order case is the O(1) path."""
        for j in range(min(self.depth, int(from_end.max(initial=-1)) + 1) - 1, -1, -1):
            sel = np.flatnonzero(from_end == j)
            r, t = rows[sel], ts_ns[sel]
            head = self.head[r].astype(np.int64)
            newest = self.ts[(head - 1) % self.depth, r]
            fast = t > newest
            self.ts[head[fast], r[fast]] = t[fast]
            self.head[r[fast]] = ((head[fast] + 1) % self.depth).astype(np.uint8)
            slow = ~fast & (t > self.ts[head, r])
            if slow.any():
                self._insert_sorted(r[slow], t[slow], head[slow])

    def _insert_sorted(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64],
                       head: npt.NDArray[np.int64]) -> None:
        """An out-of-order time: replace the smallest, re-sort the row, head back to slot 0."""
        block = self.ts[:, rows]
        block[head, np.arange(len(rows))] = ts_ns
        block.sort(axis=0)
        self.ts[:, rows] = block
        self.head[rows] = 0


def within_batch_duplicates(rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For readings sorted by (row, time), ties in arrival order: True for every repeat after the first."""
    dup = np.zeros(len(rows), dtype=bool)
    dup[1:] = (rows[1:] == rows[:-1]) & (ts_ns[1:] == ts_ns[:-1])
    return dup
