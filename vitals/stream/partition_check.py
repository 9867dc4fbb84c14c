"""Per source partition: validate values and timestamps, then apply the partition's watermark.

The state (watermark and counts) lives in Bytewax state, so after a crash and resume nothing is counted
twice: Prometheus counters are rendered from it, never incremented on the side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.readings import PartitionWatermark, RejectionCounts, validate
from vitals.sources.base import SourceBatch
from vitals.stream.shard_step import ShardRejections


@dataclass
class PartitionState:
    """What one source partition remembers between batches (small: pickled every epoch)."""

    watermark: PartitionWatermark
    counts: RejectionCounts = field(default_factory=RejectionCounts)
    inputs: int = 0     # readings seen (accepted + rejected, any reason)
    accepted: int = 0   # readings passed on to the series state (duplicates are found there)
    partition: str = ""  # the source partition's name (set by its first batch)


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

    def __init__(self, catalog: Catalog, *, allowed_lateness_s: float, max_future_s: float) -> None:
        self.catalog = catalog
        self.allowed_lateness_s = allowed_lateness_s
        self.max_future_s = max_future_s

    def initial_state(self) -> PartitionState:
        return PartitionState(PartitionWatermark(self.allowed_lateness_s))

    def check(self, state: PartitionState, item: SourceBatch) -> CheckedBatch:
        batch = item.batch
        valid, invalid = validate(self.catalog, batch, received_ns=batch.received_ns, max_future_s=self.max_future_s)
        on_time, late = state.watermark.split_late(valid, self.catalog)
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
