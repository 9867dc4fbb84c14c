"""Per series shard: apply batches to the shard's array state, and decide what to emit.

Emits, deterministically from the sequence of input batches (so a replay after a resume rewrites the same
outputs, which makes the sinks idempotent):
- :class:`ShardPublish`: a fresh :class:`VitalsView` for the exporter, at most every ``publish_interval_s``
  of wall time and at the end of the input;
- :class:`HistoryChunk`: accepted readings in chunks of ``history_rows``, numbered per (shard, source
  partition): the batches of one source partition reach a shard in the same order on every run, so a chunk
  rewritten after a replay has the same rows and overwrites the same file;
- duplicate rejections for the dead letters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.state import ShardState
from vitals.state.view import VitalsView


@dataclass(frozen=True, eq=False)
class ShardPublish:
    shard: int
    view: VitalsView
    duplicates: int
    accepted: int
    state_bytes: int
    clock_ns: int


@dataclass(frozen=True, eq=False)
class HistoryChunk:
    shard: int
    partition: str
    chunk: int
    batch: ReadingBatch

    @property
    def name(self) -> str:
        return f"shard{self.shard:03d}-{self.partition}-{self.chunk:06d}"


@dataclass(frozen=True, eq=False)
class ShardRejections:
    key: str
    rejections: list[Rejection]


@dataclass(frozen=True, eq=False)
class VitalsSnapshot:
    """The shard's vitals as of an event-time boundary (every ``vitals_every_s``), for the history."""

    shard: int
    at_ns: int
    view: VitalsView


ShardOutput = ShardPublish | HistoryChunk | ShardRejections | VitalsSnapshot


@dataclass
class ShardMemory:
    """Everything a shard keeps between batches; pickled into Bytewax recovery snapshots."""

    shard: int
    state: ShardState
    duplicates: int = 0
    accepted: int = 0
    history: dict[str, list[ReadingBatch]] = field(default_factory=dict)  # per source partition
    next_chunk: dict[str, int] = field(default_factory=dict)
    clock_ns: int = 0
    snapshot_bucket: int = -1  # event-time bucket of the last vitals snapshot


class ShardProcessor:
    def __init__(
        self, catalog: Catalog, n_shards: int, *, publish_interval_s: float = 0.25,
        history_rows: int = 200_000, keep_history: bool = True, vitals_every_s: float = 60.0,
    ) -> None:
        self.vitals_every_ns = int(vitals_every_s * 1e9)
        self.catalog = catalog
        self.n_shards = n_shards
        self.publish_interval_s = publish_interval_s
        self.history_rows = history_rows
        self.keep_history = keep_history
        self._last_publish = 0.0  # wall clock; not part of the snapshot

    def initial_memory(self, shard: int) -> ShardMemory:
        return ShardMemory(shard, ShardState(self.catalog, shard, self.n_shards))

    def shard_of_batch(self, batch: ReadingBatch) -> int:
        """The shard a (non-empty, already split) batch belongs to."""
        series = self.catalog.series_id(batch.indicator[:1], batch.street[:1])
        return int(series[0] % self.n_shards)

    def on_batches(self, mem: ShardMemory, batches: list[ReadingBatch]) -> list[ShardOutput]:
        out: list[ShardOutput] = []
        for batch in batches:
            result = mem.state.update(batch)
            mem.accepted += result.accepted
            if len(batch):
                mem.clock_ns = max(mem.clock_ns, int(batch.ts_ns.max()))
                bucket = mem.clock_ns // self.vitals_every_ns
                if self.keep_history and bucket > mem.snapshot_bucket:
                    if mem.snapshot_bucket >= 0:
                        at = bucket * self.vitals_every_ns
                        out.append(VitalsSnapshot(mem.shard, at, mem.state.view(mem.clock_ns)))
                    mem.snapshot_bucket = bucket
            if result.duplicates:
                mem.duplicates += len(result.duplicates)
                out.append(ShardRejections(f"{batch.partition}:{batch.seq}:dup{mem.shard}", result.duplicates))
            if self.keep_history and len(result.accepted_batch):
                buffer = mem.history.setdefault(batch.partition, [])
                buffer.append(result.accepted_batch)
                if sum(len(b) for b in buffer) >= self.history_rows:
                    out.append(self._flush_history(mem, batch.partition))
        if time.monotonic() - self._last_publish >= self.publish_interval_s:
            out.append(self.publish(mem))
        return out

    def on_tick(self, mem: ShardMemory) -> list[ShardOutput]:
        if time.monotonic() - self._last_publish >= self.publish_interval_s:
            return [self.publish(mem)]
        return []

    def on_eof(self, mem: ShardMemory) -> list[ShardOutput]:
        out: list[ShardOutput] = []
        out.extend(self._flush_history(mem, p) for p in sorted(mem.history) if mem.history[p])
        out.append(self.publish(mem))
        return out

    def publish(self, mem: ShardMemory) -> ShardPublish:
        self._last_publish = time.monotonic()
        now_ns = mem.clock_ns or None
        return ShardPublish(mem.shard, mem.state.view(now_ns), mem.duplicates, mem.accepted,
                            mem.state.state_bytes(), mem.clock_ns)

    def _flush_history(self, mem: ShardMemory, partition: str) -> HistoryChunk:
        number = mem.next_chunk.get(partition, 0)
        chunk = HistoryChunk(mem.shard, partition, number, ReadingBatch.concat(mem.history.pop(partition)))
        mem.next_chunk[partition] = number + 1
        return chunk
