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

from vitals.state.series import Groups

EMPTY_TS = np.iinfo(np.int64).min
DEFAULT_DEPTH = 8


class DuplicateRing:
    """Per series, the ``depth`` largest accepted event times, stored row-major as (n_rows, depth) (one cache
    line per series at the default depth) and kept circularly ascending from ``head`` (the slot of the
    smallest), so in-order times replace the smallest ones in O(1)."""

    def __init__(self, n_rows: int, depth: int = DEFAULT_DEPTH) -> None:
        self.depth = depth
        self.ts = np.full((n_rows, depth), EMPTY_TS, dtype=np.int64)
        self.head = np.zeros(n_rows, dtype=np.uint8)

    def nbytes(self) -> int:
        return int(self.ts.nbytes + self.head.nbytes)

    def seen(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """True where (row, time) is in the ring."""
        hits = np.take(self.ts, rows, axis=0) == ts_ns[:, None]
        if self.depth == 8:  # a row of 8 booleans is one 8-byte word: non-zero when any is True
            return hits.view(np.uint64)[:, 0] != 0
        return hits.any(axis=1)

    def insert(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], groups: Groups) -> None:
        """Insert accepted, not yet seen times sorted by (row, time), with the runs of rows in ``groups``.

        Only the newest ``depth`` times of each row can stay. When the oldest of them is newer than the row's
        newest stored time (the usual, in-order case) they replace the smallest stored ones in place;
        otherwise the row is merged and re-sorted (:meth:`_merge`)."""
        if len(rows) == 1 and self.insert_one(int(rows[0]), int(ts_ns[0])):  # one time (a sparse feed's piece)
            return
        self.insert_arrays(rows, ts_ns, groups)

    def insert_one(self, row: int, ts: int) -> bool:
        """:meth:`insert` of one time newer than the row's newest stored one, in place; False (nothing done) when
        it is not (it is merged by :meth:`insert_arrays`)."""
        d = self.depth
        head = int(self.head[row])
        if ts > int(self.ts[row, (head - 1) % d]):
            self.ts[row, head] = ts
            self.head[row] = (head + 1) % d
            return True
        return False

    def insert_arrays(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], groups: Groups) -> None:
        """:meth:`insert` in array operations, for any number of times (the reference of the one-time path)."""
        d = self.depth
        kept = np.minimum(groups.end - groups.start + 1, d)
        first = groups.end - kept + 1
        r = groups.rows
        head = self.head[r].astype(np.int64)
        flat = self.ts.reshape(-1)
        base = r * d
        in_order = ts_ns[first] > flat[base + (head - 1) % d]
        if not in_order.all():
            late = ~in_order
            self._merge(r[late], ts_ns, first[late], kept[late])
            r, head, first, kept, base = r[in_order], head[in_order], first[in_order], kept[in_order], base[in_order]
        flat[base + head] = ts_ns[first]
        for k in range(1, int(kept.max(initial=0))):  # rows with more than one new time (few, in a fast replay)
            more = np.flatnonzero(kept > k)
            flat[base[more] + (head[more] + k) % d] = ts_ns[first[more] + k]
        self.head[r] = ((head + kept) % d).astype(np.uint8)

    def _merge(self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], first: npt.NDArray[np.int64],
               kept: npt.NDArray[np.int64]) -> None:
        """Rows with an out-of-order time: keep the ``depth`` largest of the stored and the new times, sorted
        ascending from slot 0."""
        if not len(rows):
            return
        d = self.depth
        new = np.full((len(rows), d), EMPTY_TS, dtype=np.int64)
        k = _ranks(kept)
        new[np.repeat(np.arange(len(rows)), kept), k] = ts_ns[np.repeat(first, kept) + k]
        block = np.concatenate([self.ts[rows], new], axis=1)
        block.sort(axis=1)
        self.ts[rows] = block[:, d:]
        self.head[rows] = 0


def _ranks(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0, 1, .., c - 1 for each count c, concatenated."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def within_batch_duplicates(rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For readings sorted by (row, time), ties in arrival order: True for every repeat after the first."""
    dup = np.zeros(len(rows), dtype=bool)
    if len(rows) < 2:
        return dup
    dup[1:] = (rows[1:] == rows[:-1]) & (ts_ns[1:] == ts_ns[:-1])
    return dup
