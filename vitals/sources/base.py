"""What every source emits, and event-time pacing for replays and simulations."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch, Rejection
from vitals.units import NS_PER_S, utc_iso

log = logging.getLogger(__name__)


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


STOP_POLL_S = 0.5  # a paced partition waiting for its next batch looks at the stop flag this often


class EventTimePacer:
    """Paces batches by event time: ``speed`` event seconds per wall second (0 = as fast as possible).

    The first batch seen (at or after ``from_ns``, when given: earlier batches are due at once) anchors event time
    to wall time; later batches are due at ``anchor_wall + (event - anchor_event) / speed``. Not part of any
    snapshot: a resume re-anchors.
    """

    def __init__(self, speed: float, *, from_ns: int | None = None) -> None:
        self.speed = float(speed)
        self.from_ns = from_ns
        self._anchor: tuple[int, int] | None = None  # (event ns, wall ns)
        self.latest_ns: int | None = None  # the latest event time of a batch seen (for :meth:`never_paced`)

    def saw(self, ts_ns: npt.NDArray[np.int64]) -> None:
        """A batch of these event times was handed over (for :meth:`never_paced` and its warning)."""
        if ts_ns.size:
            latest = int(ts_ns.max())
            self.latest_ns = latest if self.latest_ns is None else max(self.latest_ns, latest)

    def never_paced(self) -> bool:
        """Batches went by, all before ``from_ns``: the pacing never started (``pace_from`` after the input)."""
        return self.speed > 0 and self.from_ns is not None and self._anchor is None and self.latest_ns is not None

    def due_ns(self, event_ns: int) -> int | None:
        """Wall time (ns) when a batch with this event time is due, or None if not paced (or before ``from_ns``)."""
        if self.speed <= 0 or (self.from_ns is not None and event_ns < self.from_ns):
            return None
        if self._anchor is None:
            self._anchor = (event_ns, now_ns())
            return None
        event0, wall0 = self._anchor
        return wall0 + int((event_ns - event0) / self.speed)

    def next_awake(self, event_ns: int | None) -> datetime | None:
        """When a batch of this event time is due (None: now), but at most ``STOP_POLL_S`` ahead: Bytewax calls
        the partition's ``next_batch`` no earlier, and that is where a stop (Ctrl-C, SIGTERM: ``STOP``) is seen,
        so a sparse paced feed (a reading a minute at speed 1) stops within that time, not at its next reading."""
        if event_ns is None:
            return None
        due = self.due_ns(event_ns)
        now = now_ns()
        if due is None or due <= now:
            return None
        return utc_from_ns(min(due, now + round(STOP_POLL_S * NS_PER_S)))

    def event_now_ns(self) -> int | None:
        """The replay clock: the event time the pacing has reached now (None: not paced, or nothing read yet)."""
        if self.speed <= 0 or self._anchor is None:
            return None
        event0, wall0 = self._anchor
        return event0 + int((now_ns() - wall0) * self.speed)


@dataclass(frozen=True)
class Pacing:
    """How a paced source (file replay, simulator) hands its batches over: ``speed`` event seconds per wall second
    (0 = as fast as possible); with ``from_ns`` (event time, Unix ns) the readings before it go as fast as possible
    and the pacing starts at the first batch at or after it: the state warms up on the hours before, then a drill
    runs at ``speed`` (the ``pace_from`` setting, ``--pace-from``)."""

    speed: float = 0.0
    from_ns: int | None = None

    def pacer(self) -> EventTimePacer:
        """A partition's own pacer (anchored by its first paced batch)."""
        return EventTimePacer(self.speed, from_ns=self.from_ns)

    def slice_ns(self) -> int:
        """Event time per part of a paced block (:func:`pace_slice_ns`)."""
        return pace_slice_ns(self.speed)

    def fast_rows(self, ts_ns: npt.NDArray[np.int64]) -> int:
        """How many leading readings of a block go at once, before the pacing starts: those whose running maximum
        of event time is before ``from_ns`` (0 when not paced, or without ``from_ns``: the slices decide)."""
        if self.speed <= 0 or self.from_ns is None or ts_ns.size == 0:
            return 0
        return int(np.searchsorted(np.maximum.accumulate(ts_ns), self.from_ns, side="left"))


AS_FAST_AS_POSSIBLE = Pacing()


class ReplayClock:
    """The event time the paced partitions of one process have reached (the latest of their pacers' clocks): what
    a paced replay measures staleness against, so a gap in the data shows as a growing
    ``vitals_seconds_since_last_reading`` while the replay waits through it."""

    def __init__(self) -> None:
        self._pacers: list[EventTimePacer] = []

    def add(self, pacer: EventTimePacer) -> EventTimePacer:
        self._pacers.append(pacer)
        return pacer

    def now_s(self) -> float | None:
        times = [t for t in (p.event_now_ns() for p in list(self._pacers)) if t is not None]
        return max(times) / NS_PER_S if times else None

    def warn_if_never_paced(self) -> bool:
        """At the end of the input: log a warning (and return True) when readings went by but none reached the
        pacing start (``pace_from`` after this process's last reading): the whole input went as fast as possible,
        which is not what ``--pace-from`` asked for."""
        seen = [p for p in list(self._pacers) if p.latest_ns is not None]
        if not seen or not all(p.never_paced() for p in seen):
            return False
        last, start = max(p.latest_ns or 0 for p in seen), seen[0].from_ns or 0
        why = (f"it is after the last reading ({utc_iso(last)}); give a --pace-from within the input's time span"
               if last < start else f"every part of the input from it on held an earlier (late) reading, and "
               f"pacing starts at the first part wholly at or after it (last reading {utc_iso(last)})")
        log.warning("pace_from %s: nothing was paced, the whole input went as fast as possible: %s", utc_iso(start),
                    why)
        return True


def staleness_clock(source: str, speed: float, replay: ReplayClock | None) -> Callable[[], float | None] | None:
    """What staleness is measured against besides event time (Unix seconds; the later of the two counts): the wall
    clock for live sources (MQTT, Kafka), the replay clock for a paced replay or simulator (``speed > 0``), nothing
    for a replay as fast as possible (event time only)."""
    if source in {"mqtt", "kafka"}:
        return time.time
    if speed > 0 and replay is not None:
        return replay.now_s
    return None


PART_SEQ = 1 << 24  # a block split by pacing: part seq = (block seq + 1) x PART_SEQ + its first row (no plain seq)


PACE_SLICE_S = 0.1  # a paced replay hands a block over in parts of at most this much wall time of event time


def pace_slice_ns(speed: float) -> int:
    """Event time per part of a paced replay (``PACE_SLICE_S`` of wall time); 0 when not paced."""
    return round(speed * PACE_SLICE_S * NS_PER_S) if speed > 0 else 0


def part_rows(ts_ns: npt.NDArray[np.int64], slice_ns: int) -> int:
    """How many leading readings of a block form its first part: those whose running maximum of event time stays
    in the first reading's slice of ``slice_ns`` (event time cut into fixed slices, so the parts are the same on
    every run and after a resume); all of them when ``slice_ns`` is 0 (not paced)."""
    if slice_ns <= 0 or ts_ns.size == 0:
        return int(ts_ns.size)
    slices = np.maximum.accumulate(ts_ns) // slice_ns
    return int(np.searchsorted(slices, slices[0], side="right"))


def split_block(item: SourceBatch, rows: int, offset: int, block_seq: int) -> tuple[SourceBatch, SourceBatch | None]:
    """The first ``rows`` readings of a (rest of a) block as their own batch, and the rest (None when nothing is
    left). ``offset``: rows of the block emitted before ``item``; the part's seq is ``(block_seq + 1) x PART_SEQ +
    offset``, above every plain block seq (dead letters are written once per partition and seq). The decode
    rejections go with the first part."""
    batch = item.batch
    head = dataclasses.replace(batch.take(np.arange(rows)), seq=(block_seq + 1) * PART_SEQ + offset)
    part = SourceBatch(head, item.rejections, item.origin)
    if rows >= len(batch):
        return part, None
    return part, SourceBatch(batch.take(np.arange(rows, len(batch))), [], item.origin)
