"""What every source emits, and event-time pacing for replays and simulations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vitals.batches import ReadingBatch, Rejection
from vitals.units import NS_PER_S


@dataclass(frozen=True, eq=False)
class SourceBatch:
    """One batch from one source partition: the readings it could decode and what it could not.

    ``validated``: the readings already passed :mod:`vitals.readings.validate` (a parser checks every reading it
    decodes, with the run's time rules); batches made in process (the simulator) are not, and the flow's
    partition check validates them (:mod:`vitals.stream.partition_check`). Either way each reading is checked
    once, by the same rules."""

    batch: ReadingBatch
    rejections: list[Rejection] = field(default_factory=list)
    origin: str | None = None  # the file a replayed batch comes from: each file keeps its own watermark
    validated: bool = False

    @property
    def partition(self) -> str:
        return self.batch.partition

    @property
    def seq(self) -> int:
        return self.batch.seq

    @property
    def size(self) -> int:
        """Inputs this batch accounts for (readings + rejections)."""
        return len(self.batch) + len(self.rejections)


def now_ns() -> int:
    return time.time_ns()


def utc_from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC)


class StopFlag:
    """Asks every source of this process to end its input at the next batch (a clean EOF: the flow publishes
    its final state and flushes its history). Set by Ctrl-C in ``vitals run/replay/demo``."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


STOP = StopFlag()


class EventTimePacer:
    """Paces batches by event time: ``speed`` event seconds per wall second (0 = as fast as possible).

    The first batch seen anchors event time to wall time; later batches are due at
    ``anchor_wall + (event - anchor_event) / speed``. Not part of any snapshot: a resume re-anchors.
    """

    def __init__(self, speed: float) -> None:
        self.speed = float(speed)
        self._anchor: tuple[int, int] | None = None  # (event ns, wall ns)

    def due_ns(self, event_ns: int) -> int | None:
        """Wall time (ns) when a batch with this event time is due, or None if not paced."""
        if self.speed <= 0:
            return None
        if self._anchor is None:
            self._anchor = (event_ns, now_ns())
            return None
        event0, wall0 = self._anchor
        return wall0 + int((event_ns - event0) / self.speed)

    def next_awake(self, event_ns: int | None) -> datetime | None:
        if event_ns is None:
            return None
        due = self.due_ns(event_ns)
        if due is None or due <= now_ns():
            return None
        return utc_from_ns(due)
