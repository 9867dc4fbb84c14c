"""Per source partition: validate the readings no parser has (batches made in process, e.g. by the simulator),
then apply the partition's watermark. Parsed batches (``SourceBatch.validated``) were checked by their parser with
the same rules (:mod:`vitals.readings.validate`, the run's ``max_future_s``): each reading is validated once.

A replayed file keeps its own watermark (batches with an ``origin``): files of one partition are read one after
the other, and a file that starts earlier than the previous one ended is not late as a whole. A file whose own
readings go back in time by more than the allowed lateness gets one warning in the log (those are ``late``).

The state (watermark and counts) lives in Bytewax state, so after a crash and resume nothing is counted
twice: Prometheus counters are rendered from it, never incremented on the side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.readings import DEFAULT_MIN_TIME, PartitionWatermark, RejectionCounts, validate
from vitals.sources.base import SourceBatch
from vitals.stream.shard_step import ShardRejections

log = logging.getLogger(__name__)


@dataclass
class PartitionState:
    """What one source partition remembers between batches (small: pickled every epoch)."""

    watermark: PartitionWatermark
    counts: RejectionCounts = field(default_factory=RejectionCounts)
    inputs: int = 0     # readings seen (accepted + rejected, any reason)
    accepted: int = 0   # readings passed on to the series state (duplicates are found there)
    partition: str = ""  # the source partition's name (set by its first batch)
    files: dict[str, PartitionWatermark] = field(default_factory=dict)  # per replayed file (origin)

    def watermark_for(self, origin: str | None, allowed_lateness_s: float) -> PartitionWatermark:
        if origin is None:
            return self.watermark
        files = self.__dict__.setdefault("files", {})  # a state restored from before per-file watermarks
        if origin not in files:
            files[origin] = PartitionWatermark(allowed_lateness_s)
        return files[origin]


@dataclass(frozen=True, eq=False)
class CheckedBatch:
    """Valid, on-time readings of one source batch, and everything rejected from it with a reason."""

    batch: ReadingBatch
    rejections: list[Rejection]
    watermark_ns: int | None
    inputs: int                  # absolute counts of the partition after this batch (for the exporter)
    rejected: dict[str, int]

    def dead_letters(self) -> ShardRejections:
        """The rejections as one dead-letter item (written once per partition, seq and stage)."""
        return ShardRejections(self.batch.partition, self.batch.seq, "check", self.rejections)


class PartitionChecker:
    """Validates batches of one partition against the catalog and splits off late readings."""

    def __init__(self, catalog: Catalog, *, allowed_lateness_s: float, max_future_s: float,
                 min_time: datetime = DEFAULT_MIN_TIME) -> None:
        self.catalog = catalog
        self.allowed_lateness_s = allowed_lateness_s
        self.max_future_s = max_future_s
        self.min_time = min_time
        self._warned: set[str] = set()  # files already warned about (log only, not state)

    def initial_state(self) -> PartitionState:
        return PartitionState(PartitionWatermark(self.allowed_lateness_s))

    def check(self, state: PartitionState, item: SourceBatch) -> CheckedBatch:
        batch = item.batch
        valid, invalid = (batch, []) if item.validated else validate(
            self.catalog, batch, received_ns=batch.received_ns, max_future_s=self.max_future_s,
            min_time=self.min_time)
        watermark = state.watermark_for(item.origin, self.allowed_lateness_s)
        on_time, late = watermark.split_late(valid, self.catalog)
        if watermark is not state.watermark and watermark.max_ts_ns is not None:  # the partition's: the newest
            state.watermark.max_ts_ns = max(state.watermark.max_ts_ns or watermark.max_ts_ns, watermark.max_ts_ns)
        if late and item.origin is not None and item.origin not in self._warned:
            self._warned.add(item.origin)
            log.warning("%s goes back in time: readings more than the allowed lateness (%g s) behind a newer reading "
                        "of the same file are rejected as late (e.g. %s); sort the file by time or raise --lateness",
                        item.origin, self.allowed_lateness_s, late[0].detail)
        rejections = [*item.rejections, *invalid, *late]
        state.counts.add(rejections)
        state.inputs += item.size
        state.accepted += len(on_time)
        state.partition = batch.partition
        return CheckedBatch(on_time, rejections, state.watermark.watermark_ns, state.inputs, state.counts.as_dict())

    def totals(self, state: PartitionState) -> CheckedBatch:
        """The partition's counts without readings (at the end of the input, so that a resumed run that had
        nothing left to read still reports the whole run's counts)."""
        batch = ReadingBatch.empty(partition=state.partition or "?", seq=-1)
        return CheckedBatch(batch, [], state.watermark.watermark_ns, state.inputs, state.counts.as_dict())
