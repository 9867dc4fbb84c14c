"""Bytewax sources over the library's resumable readers. Thin adapters: the reading, decoding and pacing
logic lives in ``vitals.sources``; these classes only map it onto Bytewax's partition protocol.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bytewax.inputs import DynamicSource, FixedPartitionedSource, StatefulSourcePartition, StatelessSourcePartition

from vitals.batches import ReadingBatch
from vitals.sources.base import (
    AS_FAST_AS_POSSIBLE,
    STOP,
    Pacing,
    ReplayClock,
    SourceBatch,
    part_rows,
    split_block,
)
from vitals.sources.files import BlockParser, FilePosition, FileReplay, files_for_partition
from vitals.sources.kafka import (
    OFFSET_EARLIEST,
    KafkaPartitionReader,
    consumer_config,
    list_partitions,
    partition_name,
    partition_number,
)
from vitals.sources.mqtt import IdleStop, MqttReceiver, MqttSecurity, PayloadParser
from vitals.sources.registry import PartitionedInput, PartitionReader


class _PacedPartition(StatefulSourcePartition[SourceBatch, Any]):
    """Holds the next item until its pacer says it is due (``pacing``: its speed and where the pacing starts)."""

    def __init__(self, pacing: Pacing, clock: ReplayClock | None = None) -> None:
        self._pacer = pacing.pacer() if clock is None else clock.add(pacing.pacer())
        self._pending: SourceBatch | None = None
        self._eof = False

    def _produce(self) -> SourceBatch | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _event_ns(self, item: SourceBatch) -> int | None:
        ts = item.batch.ts_ns
        return int(ts.min()) if len(ts) else None

    def next_batch(self) -> list[SourceBatch]:
        if STOP.is_set():
            raise StopIteration
        if self._pending is None and not self._eof:
            self._pending = self._produce()
            self._eof = self._pending is None
        if self._pending is None:
            raise StopIteration
        if self._pacer.next_awake(self._event_ns(self._pending)) is not None:
            return []
        item, self._pending = self._take_due(self._pending)
        self._pacer.saw(item.batch.ts_ns)
        return [item]

    def _take_due(self, item: SourceBatch) -> tuple[SourceBatch, SourceBatch | None]:
        """What of a due item to emit now, and what stays pending (the whole item by default)."""
        return item, None

    def next_awake(self) -> datetime | None:
        if self._pending is None:
            return None
        return self._pacer.next_awake(self._event_ns(self._pending))


class SimulatorPartition(_PacedPartition):
    def __init__(self, batches: Iterator[ReadingBatch], name: str, start_step: int, pacing: Pacing,
                 clock: ReplayClock | None = None) -> None:
        super().__init__(pacing, clock)
        self._batches = batches
        self._name = name
        self._step = start_step  # the step of the next batch to produce (the resume state)

    def _produce(self) -> SourceBatch | None:
        batch = next(self._batches, None)
        if batch is None:
            return None
        batch = dataclasses.replace(batch, partition=self._name, seq=self._step)
        self._step += 1
        return SourceBatch(batch)

    def snapshot(self) -> int:
        # The pending (produced, not yet emitted) batch is regenerated on resume.
        return self._step - (1 if self._pending is not None else 0)


class SimulatorSource(FixedPartitionedSource[SourceBatch, int]):
    """The city simulator as a partitioned, resumable source (partition p owns streets with code % n == p).

    ``make_batches(partition, n_partitions, start_step)`` is ``CitySimulator.batches``; ``pacing``: how its
    partitions pace their batches (default: as fast as possible).
    """

    def __init__(
        self, make_batches: Callable[[int, int, int], Iterator[ReadingBatch]], partitions: int,
        pacing: Pacing = AS_FAST_AS_POSSIBLE,
    ) -> None:
        self.make_batches = make_batches
        self.partitions = partitions
        self.pacing = pacing
        self.clock = ReplayClock()  # the event time its paced partitions reached (staleness)

    def list_parts(self) -> list[str]:
        return [f"sim-{p}" for p in range(self.partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> SimulatorPartition:
        p = int(for_part.rsplit("-", 1)[1])
        start = resume_state or 0
        return SimulatorPartition(self.make_batches(p, self.partitions, start), for_part, start, self.pacing,
                                  self.clock)


class FileReplayPartition(_PacedPartition):
    """A partition's files; paced, a block is emitted in parts of at most ``PACE_SLICE_S`` of wall time (a block of
    a day of readings is not handed over at once), each when the replay clock reaches it; the readings before the
    pacing starts (``pacing.from_ns``) go at once; a snapshot inside a block records the rows emitted."""

    def __init__(self, replay: FileReplay, pacing: Pacing, clock: ReplayClock | None = None) -> None:
        super().__init__(pacing, clock)
        self._pacing = pacing
        self._replay = replay
        self._emitted = replay.position
        self._skip = getattr(replay.position, "skip_rows", 0)  # rows of the first block emitted before a resume
        self._block = replay.position  # where the pending block was read
        self._done_rows = 0  # rows of the pending block emitted so far
        self._slice_ns = pacing.slice_ns()  # event time per part

    def _produce(self) -> SourceBatch | None:
        item = self._replay.read_next()
        if item is None:
            return None
        self._block, self._done_rows = self._replay.item_position, 0
        if self._skip:
            _, item = split_block(item, min(self._skip, len(item.batch)), 0, self._block.seq)
            self._done_rows, self._skip = self._skip, 0
            if item is None:
                return self._produce()
        return item

    def _take_due(self, item: SourceBatch) -> tuple[SourceBatch, SourceBatch | None]:
        rows = self._pacing.fast_rows(item.batch.ts_ns) or part_rows(item.batch.ts_ns, self._slice_ns)
        if rows >= len(item.batch) and not self._done_rows:
            return item, None  # the whole block as read (not paced, or all of it due)
        part, rest = split_block(item, rows, self._done_rows, self._block.seq)
        self._done_rows += rows
        return part, rest

    def next_batch(self) -> list[SourceBatch]:
        out = super().next_batch()
        if out and self._pending is None:  # the item just emitted finished the last block read
            self._emitted = self._replay.position
        return out

    def snapshot(self) -> FilePosition:
        # Position after the last emitted block; a produced-but-pending block is read again on resume, skipping
        # the rows of it already emitted.
        if self._pending is not None and self._done_rows:
            return dataclasses.replace(self._block, skip_rows=self._done_rows)
        return self._emitted


class FileReplaySource(FixedPartitionedSource[SourceBatch, FilePosition]):
    """Replays files; files are dealt to ``partitions`` partitions round-robin (one reader per file), paced by
    ``pacing`` (default: as fast as possible)."""

    def __init__(
        self, files: list[Path], make_parser: Callable[[], BlockParser], partitions: int, *,
        pacing: Pacing = AS_FAST_AS_POSSIBLE, block_rows: int = 50_000, block_bytes: int = 1 << 20,
    ) -> None:
        self.files = files
        self.make_parser = make_parser
        self.partitions = partitions
        self.pacing = pacing
        self.block_rows = block_rows
        self.block_bytes = block_bytes
        self.replays: list[FileReplay] = []  # the partitions built in this process (progress bars read them)
        self.clock = ReplayClock()  # the event time its paced partitions reached (staleness)

    def list_parts(self) -> list[str]:
        return [f"file-{p}" for p in range(self.partitions)]

    def bytes_done(self) -> int:
        """Bytes replayed so far by the partitions of this process."""
        return sum(r.bytes_done() for r in list(self.replays))

    def build_part(self, step_id: str, for_part: str, resume_state: FilePosition | None) -> FileReplayPartition:
        p = int(for_part.rsplit("-", 1)[1])
        replay = FileReplay(
            files_for_partition(self.files, p, self.partitions), self.make_parser(), for_part,
            position=resume_state, block_rows=self.block_rows, block_bytes=self.block_bytes,
        )
        self.replays.append(replay)
        return FileReplayPartition(replay, self.pacing, self.clock)


class _MqttPartition(StatelessSourcePartition[SourceBatch]):
    def __init__(self, receiver: MqttReceiver, stop: IdleStop, poll_s: float) -> None:
        self._receiver = receiver
        self._stop = stop
        self._poll = timedelta(seconds=poll_s)

    def next_batch(self) -> list[SourceBatch]:
        if STOP.is_set():
            raise StopIteration
        item = self._receiver.drain()
        if item is not None:
            self._stop.seen()
            return [item]
        if self._stop():
            raise StopIteration
        return []

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + self._poll

    def close(self) -> None:
        self._receiver.stop()


class MqttSource(DynamicSource[SourceBatch]):
    """MQTT subscription per worker (a shared subscription ``$share/<client_id>/<topic>`` when several
    workers read); ``idle_stop_s`` ends the input after that long without messages (drills and tests)."""

    def __init__(
        self, *, host: str, port: int, topic: str, client_id: str, make_parser: Callable[[], PayloadParser],
        idle_stop_s: float | None = None, poll_s: float = 0.05, security: MqttSecurity | None = None,
    ) -> None:
        self.host, self.port, self.topic, self.client_id = host, port, topic, client_id
        self.security = security
        self.make_parser = make_parser
        self.idle_stop_s = idle_stop_s
        self.poll_s = poll_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _MqttPartition:
        topic = self.topic if worker_count == 1 else f"$share/{self.client_id}/{self.topic}"
        receiver = MqttReceiver(
            host=self.host, port=self.port, topic=topic, client_id=f"{self.client_id}-{worker_index}",
            parser=self.make_parser(), partition=f"mqtt-{worker_index}", security=self.security,
        )
        receiver.start()
        return _MqttPartition(receiver, IdleStop(self.idle_stop_s), self.poll_s)


class _ReaderPartition(StatefulSourcePartition[SourceBatch, Any]):
    def __init__(self, reader: PartitionReader, poll_s: float) -> None:
        self._reader = reader
        self._poll = timedelta(seconds=poll_s)
        self._idle = False

    def next_batch(self) -> list[SourceBatch]:
        if STOP.is_set() or self._reader.at_end():
            raise StopIteration
        item = self._reader.read()
        self._idle = item is None
        return [] if item is None else [item]

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + self._poll if self._idle else None

    def snapshot(self) -> Any:
        return self._reader.position()

    def close(self) -> None:
        self._reader.close()


class PartitionedSource(FixedPartitionedSource[SourceBatch, Any]):
    """Any :class:`vitals.sources.registry.PartitionedInput` as a resumable Bytewax source: one reader per
    partition, its position in the recovery snapshots, polled every ``poll_s`` while it has nothing."""

    def __init__(self, source: PartitionedInput, poll_s: float = 0.05) -> None:
        self.source = source
        self.poll_s = poll_s

    def list_parts(self) -> list[str]:
        return list(self.source.partitions())

    def build_part(self, step_id: str, for_part: str, resume_state: Any | None) -> _ReaderPartition:
        return _ReaderPartition(self.source.open(for_part, resume_state), self.poll_s)


class _KafkaReader:
    """A Kafka partition as a :class:`~vitals.sources.registry.PartitionReader`: its position is the next offset
    (committed to the group too, for lag monitoring)."""

    def __init__(self, reader: KafkaPartitionReader, *, stop_at_end: bool) -> None:
        self._reader = reader
        self._stop_at_end = stop_at_end

    def read(self) -> SourceBatch | None:
        return self._reader.read()

    def at_end(self) -> bool:
        return self._stop_at_end and self._reader.at_end and self._reader.holding() is None

    def position(self) -> int:
        self._reader.commit()
        return self._reader.next_offset

    def close(self) -> None:
        self._reader.close()


class KafkaSource(FixedPartitionedSource[SourceBatch, int]):
    """A Kafka topic: each Kafka partition is a source partition ``<topic>-<p>`` whose resume state is the next
    offset to read. Ends on the stop flag (Ctrl-C, SIGTERM) and, with ``stop_at_end``, at the end of the topic.
    """

    def __init__(self, *, brokers: str, topic: str, make_parser: Callable[[], PayloadParser], batch_size: int = 5000,
                 stop_at_end: bool = False, poll_s: float = 0.02, extra_config: dict[str, str] | None = None,
                 linger_s: float = 0.0) -> None:
        self.topic = topic
        self.config = consumer_config(brokers, stop_at_end=stop_at_end, extra=extra_config)
        self.make_parser = make_parser
        self.batch_size = batch_size
        self.stop_at_end = stop_at_end
        self.poll_s = poll_s
        self.linger_s = linger_s
        self._parts: list[str] | None = None

    def list_parts(self) -> list[str]:
        if self._parts is None:  # asked when the flow is built and when it starts: one metadata request
            found = list_partitions(self.config, self.topic)
            self._parts = [partition_name(self.topic, p, len(found)) for p in found]
        return self._parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ReaderPartition:
        start = OFFSET_EARLIEST if resume_state is None else resume_state
        reader = KafkaPartitionReader(self.config, self.topic, partition_number(for_part), start, self.make_parser(),
                                      max_messages=self.batch_size, name=for_part, linger_s=self.linger_s)
        return _ReaderPartition(_KafkaReader(reader, stop_at_end=self.stop_at_end), self.poll_s)

