"""``RejectionCounts``: rejected readings counted by reason, a tiny aggregator that lives in Bytewax state.

Because the counts are part of the recovered state (not a process-global counter), a replayed epoch after a
crash never counts twice. Aggregator shape: ``RejectionCounts()`` / ``add`` / ``merge`` / ``as_dict``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from vitals.batches import REJECT_REASONS, Rejection
from vitals.errors import ReadingError

_INDEX = {reason: i for i, reason in enumerate(REJECT_REASONS)}


class RejectionCounts:
    """Counts per reason in :data:`REJECT_REASONS` order (one int64 each)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: npt.NDArray[np.int64] = np.zeros(len(REJECT_REASONS), dtype=np.int64)

    def add_reason(self, reason: str, count: int = 1) -> RejectionCounts:
        if reason not in _INDEX:
            msg = f"unknown rejection reason {reason!r}; expected one of {', '.join(REJECT_REASONS)}"
            raise ReadingError(msg)
        self.counts[_INDEX[reason]] += count
        return self

    def add(self, rejections: Iterable[Rejection]) -> RejectionCounts:
        """Count rejections (returns self)."""
        for reason, count in Counter(r.reason for r in rejections).items():
            self.add_reason(reason, count)
        return self

    def merge(self, other: RejectionCounts) -> RejectionCounts:
        """Add another partition's or worker's counts (returns self)."""
        self.counts += other.counts
        return self

    def as_dict(self) -> dict[str, int]:
        """Every reason (zeros included), in :data:`REJECT_REASONS` order."""
        return {reason: int(n) for reason, n in zip(REJECT_REASONS, self.counts, strict=True)}

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def __getstate__(self) -> list[int]:
        return [int(n) for n in self.counts]

    def __setstate__(self, state: list[int]) -> None:
        self.counts = np.zeros(len(REJECT_REASONS), dtype=np.int64)
        self.counts[: len(state)] = state[: len(REJECT_REASONS)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RejectionCounts) and bool(np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]  # mutable state

    def __repr__(self) -> str:
        nonzero = {reason: n for reason, n in self.as_dict().items() if n}
        return f"RejectionCounts({nonzero})"
