"""The streaming flow: source batches -> partition checks (validation, watermark) -> series shards
(rolling vitals, duplicates, levels) -> exporter, history and dead letters.

Only wiring: every step calls an object from ``vitals.stream``. Sources and sinks are passed in, so tests
run the same flow with Bytewax's ``TestingSource``/``TestingSink``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import DynamicSource, FixedPartitionedSource, Source
from bytewax.operators import StatefulBatchLogic, StatefulLogic
from bytewax.outputs import Sink

from pipelines.routing import balanced_key, partition_keys
from vitals.catalog import Catalog
from vitals.readings import DEFAULT_MIN_TIME
from vitals.sources.base import SourceBatch
from vitals.state import split_by_shard
from vitals.stream.demand import ViewDemand
from vitals.stream.partition_check import CheckedBatch, PartitionChecker, PartitionState
from vitals.stream.shard_step import (
    VITALS_EVERY_S,
    HistoryChunk,
    ShardMemory,
    ShardOutput,
    ShardProcessor,
    ShardPublish,
    ShardRejections,
    ShardRunner,
    VitalsChunk,
)

if TYPE_CHECKING:
    from vitals.planned_works import PlannedWorksFile
    from vitals.scoring import ModelSource

FLOW_ID = "city_vitals"


@dataclass(frozen=True)
class FlowOptions:
    shards: int = 4
    allowed_lateness_s: float = 300.0
    max_future_s: float = 300.0
    min_time: datetime = DEFAULT_MIN_TIME  # readings before are bad_timestamp
    # Shard views for the exporter at least this often; with a ViewDemand (build_flow's ``demand``) also
    # whenever a scrape asks, so the interval is then only a fallback (e.g. for a screen that reads the hub).
    # math.inf: no periodic views, only each shard's final one (a run where nothing reads views before the end).
    publish_interval_s: float = 0.5
    vitals_every_s: float = VITALS_EVERY_S
    vitals_chunk_rows: int = 5_000  # vitals snapshot rows per history file (at most; see ShardProcessor)
    history_rows: int = 200_000
    keep_history: bool = True
    # Snapshot the shard state at every epoch end. Bytewax asks for snapshots even without recovery; a run
    # without a recovery dir sets this False so the shards skip the deep copy (measured: ~0.1 s per epoch for
    # the full-scale city).
    recovery: bool = True
    # Anomaly scores, expected band and forecasts per series (vitals.scoring); models come from build_flow's
    # ``models`` (the registry, hot-reloaded). Off for pure throughput runs of the streaming core.
    scoring: bool = False
    # The run id every history file name carries (vitals.run_id): the pipeline gives a fresh one, or the recovery
    # directory's; "" (e.g. a test's flow) names the files as before run ids.
    run_id: str = ""


@dataclass(frozen=True)
class FlowSinks:
    """Where the flow's outputs go. ``stats`` receives CheckedBatch and ShardPublish items (the exporter);
    ``more``: further sinks by name, each on one output of :data:`vitals.stream.sinks.OUTPUTS`
    (``(name, output, sink)``: the configured sinks of :data:`vitals.stream.sinks.SINKS`, e.g. the history).
    The shards cut history chunks only when some sink takes the ``history`` output."""

    stats: Sink[Any]
    dead_letters: Sink[Any]
    more: tuple[tuple[str, str, Sink[Any]], ...] = ()

    def wants_history(self) -> bool:
        return any(output == "history" for _, output, _ in self.more)


class _ShardLogic(StatefulBatchLogic[Any, ShardOutput, ShardMemory | None]):
    """One series shard: delegates to :class:`vitals.stream.shard_step.ShardRunner`."""

    def __init__(self, runner: ShardRunner, snapshots: bool) -> None:
        self.runner = runner
        self.snapshots = snapshots

    def on_batch(self, values: list[Any]) -> tuple[list[ShardOutput], bool]:
        return self.runner.on_batches(values), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[list[ShardOutput], bool]:
        return self.runner.on_tick(), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[list[ShardOutput], bool]:
        return self.runner.on_eof(), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        wake = self.runner.wake_in_s()
        return None if wake is None else datetime.now(UTC) + timedelta(seconds=wake)

    def snapshot(self) -> ShardMemory | None:
        return copy.deepcopy(self.runner.memory) if self.snapshots else None


class _CheckLogic(StatefulLogic[SourceBatch, CheckedBatch, PartitionState]):
    """One source partition's checks; at the end of the input it sends its counts once more, so a run resumed
    on a finished recovery dir (nothing left to read) still publishes the whole run's counts."""

    def __init__(self, checker: PartitionChecker, state: PartitionState | None) -> None:
        self.checker = checker
        self.state = state or checker.initial_state()

    def on_item(self, value: SourceBatch) -> tuple[list[CheckedBatch], bool]:
        return [self.checker.check(self.state, value)], StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[CheckedBatch], bool]:
        return [self.checker.totals(self.state)], StatefulLogic.RETAIN

    def snapshot(self) -> PartitionState:
        return copy.deepcopy(self.state)


def _partition_router(source: object) -> Callable[[SourceBatch], str]:
    """The check step's key of a batch: a balanced key that routes a partition's batches to the worker that
    reads it (see :mod:`pipelines.routing`); the plain partition name when that worker is unknown."""
    if isinstance(source, FixedPartitionedSource):
        keys = partition_keys(source.list_parts())
        return lambda item: keys.get(item.partition) or str(item.partition)
    if isinstance(source, DynamicSource):  # one partition per worker, named "<source>-<worker index>"

        def by_worker(item: SourceBatch) -> str:
            suffix = str(item.partition).rsplit("-", 1)[-1]
            return balanced_key(int(suffix)) if suffix.isdigit() else str(item.partition)

        return by_worker
    return lambda item: str(item.partition)


def build_flow(
    catalog: Catalog, source: Source[SourceBatch] | Callable[[Dataflow], Stream[SourceBatch]], sinks: FlowSinks,
    options: FlowOptions | None = None, flow_id: str = FLOW_ID, *, models: ModelSource | None = None,
    demand: ViewDemand | None = None, planned_works: PlannedWorksFile | None = None,
) -> Dataflow:
    """The flow over ``source`` (items: :class:`vitals.sources.base.SourceBatch`), or over the stream that
    ``source(flow)`` adds (e.g. Kafka messages decoded to batches).

    ``demand``: the process's :class:`~vitals.stream.demand.ViewDemand` (shared with the exporter's
    :class:`~vitals.stream.publisher.HubPublisher`): shards then also publish a view whenever a scrape asks.
    ``planned_works``: the works file the run follows (:mod:`vitals.planned_works`): with scoring on, readings in a
    works are not fed to the anomaly detector."""
    opts = options or FlowOptions()
    checker = PartitionChecker(catalog, allowed_lateness_s=opts.allowed_lateness_s, max_future_s=opts.max_future_s,
                               min_time=opts.min_time)
    processor = ShardProcessor(
        catalog, opts.shards, publish_interval_s=opts.publish_interval_s, history_rows=opts.history_rows,
        keep_history=opts.keep_history and sinks.wants_history(), vitals_every_s=opts.vitals_every_s,
        vitals_chunk_rows=opts.vitals_chunk_rows, scoring=opts.scoring, models=models, demand=demand,
        run_id=opts.run_id,
        planned_works=planned_works if opts.scoring else None,
    )

    def split(item: CheckedBatch) -> list[tuple[str, Any]]:
        return [(balanced_key(k), b) for k, b in split_by_shard(item.batch, catalog, opts.shards) if len(b)]

    flow = Dataflow(flow_id)
    items = source(flow) if callable(source) else op.input("readings_in", flow, source)
    keyed = op.key_on("by_partition", items, _partition_router(source))
    checked = op.key_rm("checked", op.stateful("check", keyed, lambda resume: _CheckLogic(checker, resume)))
    op.output("partition_stats", checked, sinks.stats)
    rejected = op.filter_map("rejected", checked, lambda c: c.dead_letters() if c.rejections else None)
    by_shard = op.flat_map("split_shards", checked, split)
    processed = op.key_rm("processed", op.stateful_batch(
        "series_state", by_shard, lambda resume: _ShardLogic(ShardRunner(processor, resume), opts.recovery)))
    published = op.filter("published", processed, lambda o: isinstance(o, ShardPublish))
    op.output("exporter", published, sinks.stats)
    dups = op.filter("duplicates", processed, lambda o: isinstance(o, ShardRejections))
    all_rejected = op.merge("all_rejected", rejected, dups)
    op.output("dead_letters", all_rejected, sinks.dead_letters)
    outputs = {"published": published, "rejected": all_rejected}
    if sinks.wants_history():
        outputs["history"] = op.filter("history", processed, lambda o: isinstance(o, HistoryChunk | VitalsChunk))
    for name, output, sink in sinks.more:
        op.output(f"sink_{name}", outputs[output], sink)
    return flow
