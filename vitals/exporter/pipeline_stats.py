"""Pipeline-health metrics, rendered at scrape time from the latest absolute counts the flow published.

The counts themselves live in Bytewax state (per source partition: readings in, rejected by reason, watermark;
per series shard: accepted, duplicates, state size, event-time clock). After a crash and resume the state, and
so every counter, is exactly what it was at the snapshot: a replayed epoch is never counted twice. The flow
*publishes* these absolute values (cheap: a few numbers per batch); nothing calls ``Counter.inc`` on the hot
path. :class:`PipelineCollector` turns the latest publication into metric families for a
``prometheus_client.CollectorRegistry``.

The batch-processing histogram is the one exception: it measures wall time spent, which a replay really does
spend again, so it is observed directly (once per batch, not per reading).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from vitals import metric_names as mn
from vitals.batches import REJECT_REASONS
from vitals.units import NS_PER_S

if TYPE_CHECKING:  # the works module brings the catalog: the exporter only reads what it made
    from vitals.planned_works import PlannedWorks

BATCH_SECONDS_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                            2.5)
RATE_WINDOW_S = 10.0


@dataclass(frozen=True)
class PartitionCounts:
    """Absolute counts of one source partition, from its Bytewax state."""

    readings_in: int = 0                       # received: accepted + rejected for any reason
    rejected: Mapping[str, int] = field(default_factory=dict)  # by reason (validation, parsing, late)
    watermark_s: float = math.nan              # event-time watermark, Unix seconds


@dataclass(frozen=True)
class ShardCounts:
    """Absolute counts of one series shard, from its Bytewax state."""

    accepted: int = 0           # readings applied to the series state
    duplicates: int = 0         # exact duplicates dropped by the shard
    state_series: int = 0       # series with at least one reading
    state_bytes: int = 0
    last_event_s: float = math.nan  # the shard's event-time clock (max accepted event time), Unix seconds
    planned: int = 0            # accepted readings a planned works kept from the anomaly detector


class PipelineStats:
    """Thread-safe holder of the latest counts; the flow publishes, the scrape reads."""

    def __init__(self, buckets: tuple[float, ...] = BATCH_SECONDS_BUCKETS,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.buckets = buckets
        self._partitions: dict[str, PartitionCounts] = {}
        self._shards: dict[str, ShardCounts] = {}
        self._models: dict[str, str] = {}
        self._failed: dict[str, str] = {}   # family -> promoted version that could not be loaded
        self._bucket_counts = np.zeros(len(buckets) + 1, dtype=np.int64)  # last one: +Inf
        self._seconds_sum = 0.0
        self._inputs_history: deque[tuple[float, int]] = deque(maxlen=4096)
        self._works: Callable[[], PlannedWorks] | None = None
        self.up = True

    def update_partition(self, partition: str, counts: PartitionCounts) -> None:
        with self._lock:
            self._partitions[str(partition)] = counts
            self._inputs_history.append((self._clock(), self._readings_in_locked()))

    def update_shard(self, shard: int | str, counts: ShardCounts) -> None:
        with self._lock:
            self._shards[str(shard)] = counts

    def observe_batch_seconds(self, seconds: float | npt.NDArray[np.float64]) -> None:
        """Wall seconds spent on one batch (or an array of them)."""
        values = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
        idx = np.searchsorted(np.asarray(self.buckets), values, side="left")
        counts = np.bincount(idx, minlength=len(self.buckets) + 1)
        with self._lock:
            self._bucket_counts += counts
            self._seconds_sum += float(values.sum())

    def show_planned_works(self, works: Callable[[], PlannedWorks]) -> None:
        """Export the works the run follows (``works()``: the current ones) as ``vitals_planned_works_active``."""
        with self._lock:
            self._works = works

    def set_model(self, family: str, version: str) -> None:
        with self._lock:
            self._models[family] = version
            self._failed.pop(family, None)

    def set_model_failed(self, family: str, version: str, error: Exception | None = None) -> None:
        """The promoted ``version`` of ``family`` could not be loaded (the pipeline runs without it, or with the
        version it had): ``vitals_model_load_failed{family,version} 1`` until a version loads."""
        with self._lock:
            self._failed[family] = version

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            now = self._clock()
            return StatsSnapshot(
                now_s=now, partitions=dict(self._partitions), shards=dict(self._shards), models=dict(self._models),
                failed_models=dict(self._failed),
                bucket_counts=self._bucket_counts.copy(), seconds_sum=self._seconds_sum,
                readings_per_s=self._rate_locked(now), up=self.up,
                works=None if self._works is None else self._works(),
            )

    def _readings_in_locked(self) -> int:
        return sum(p.readings_in for p in self._partitions.values())

    def _rate_locked(self, now: float) -> float:
        """Readings in per second over the last RATE_WINDOW_S (0 when nothing arrived)."""
        history = self._inputs_history
        if not history:
            return 0.0
        start = now - RATE_WINDOW_S
        baseline = next((h for h in reversed(history) if h[0] <= start), history[0])
        span = now - baseline[0]
        return max(history[-1][1] - baseline[1], 0) / span if span > 0 else 0.0


@dataclass(frozen=True)
class StatsSnapshot:
    now_s: float
    partitions: dict[str, PartitionCounts]
    shards: dict[str, ShardCounts]
    models: dict[str, str]
    failed_models: dict[str, str]
    bucket_counts: npt.NDArray[np.int64]
    seconds_sum: float
    readings_per_s: float
    up: bool
    works: PlannedWorks | None = None  # the planned works the run follows (None: no file)

    def rejected(self) -> dict[str, int]:
        """Rejections by reason over all partitions, plus the shards' duplicates; every known reason present."""
        totals = dict.fromkeys(REJECT_REASONS, 0)
        for p in self.partitions.values():
            for reason, n in p.rejected.items():
                totals[reason] = totals.get(reason, 0) + int(n)
        totals["duplicate"] += sum(s.duplicates for s in self.shards.values())
        return totals


class PipelineCollector(Collector):
    """A ``prometheus_client`` collector over a :class:`PipelineStats` (register it in one registry)."""

    def __init__(self, stats: PipelineStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        snap = self.stats.snapshot()
        yield from _counter_families(snap)
        yield from _gauge_families(snap)
        yield _histogram(snap, self.stats.buckets)
        info = InfoMetricFamily(mn.MODEL_INFO.removesuffix("_info"), "Model version in use per family.",
                                labels=["family", "version"])
        for family, version in sorted(snap.models.items()):
            info.add_metric([family, version], {})
        yield info
        failed = GaugeMetricFamily(mn.MODEL_LOAD_FAILED, "1 while the promoted version of a model family cannot "
                                   "be loaded (0 once a version of it is in use).", labels=["family", "version"])
        for family, version in sorted(snap.models.items()):
            if family not in snap.failed_models:
                failed.add_metric([family, version], 0.0)
        for family, version in sorted(snap.failed_models.items()):
            failed.add_metric([family, version], 1.0)
        yield failed
        if snap.works is not None:
            yield _works_family(snap)


def _counter_families(snap: StatsSnapshot) -> Iterator[Metric]:
    readings = CounterMetricFamily(mn.READINGS, "Readings accepted into the series state.", labels=["worker"])
    for shard, s in sorted(snap.shards.items()):
        readings.add_metric([shard], s.accepted)
    yield readings
    readings_in = CounterMetricFamily(mn.READINGS_IN, "Readings received (accepted + rejected).", labels=["partition"])
    for partition, p in sorted(snap.partitions.items()):
        readings_in.add_metric([partition], p.readings_in)
    yield readings_in
    rejected_by_reason = snap.rejected()
    rejected = CounterMetricFamily(mn.READINGS_REJECTED, "Readings rejected, by reason (see dead letters).",
                                   labels=["reason"])
    for reason, n in rejected_by_reason.items():
        rejected.add_metric([reason], n)
    yield rejected
    yield CounterMetricFamily(mn.READINGS_LATE, "Readings behind the watermark minus the allowed lateness.",
                              value=rejected_by_reason["late"])
    yield CounterMetricFamily(mn.READINGS_DUPLICATE, "Exact duplicates (same series and event time) dropped.",
                              value=rejected_by_reason["duplicate"])
    yield CounterMetricFamily(mn.READINGS_PLANNED_WORKS, "Accepted readings a planned works kept from the anomaly "
                              "detector (--planned-works).", value=sum(s.planned for s in snap.shards.values()))


def _gauge_families(snap: StatsSnapshot) -> Iterator[Metric]:
    shards = sorted(snap.shards.items())
    per_shard: list[tuple[str, str, Callable[[ShardCounts], float]]] = [
        (mn.LAST_EVENT, "Event time of the latest accepted reading (Unix seconds).", lambda s: s.last_event_s),
        (mn.LAG, "Wall clock now minus the latest accepted event time, in seconds.",
         lambda s: snap.now_s - s.last_event_s),
        (mn.STATE_SERIES, "Series with at least one reading in the state.", lambda s: s.state_series),
        (mn.STATE_BYTES, "Bytes of series state.", lambda s: s.state_bytes),
    ]
    for name, help_text, value_of in per_shard:
        family = GaugeMetricFamily(name, help_text, labels=["worker"])
        for shard, s in shards:
            value = float(value_of(s))
            if not math.isnan(value):
                family.add_metric([shard], value)
        yield family
    watermark = GaugeMetricFamily(mn.WATERMARK, "Event-time watermark per source partition (Unix seconds).",
                                  labels=["partition"])
    for partition, p in sorted(snap.partitions.items()):
        if not math.isnan(p.watermark_s):
            watermark.add_metric([partition], p.watermark_s)
    yield watermark
    yield GaugeMetricFamily(mn.READINGS_RATE, "Readings received per second over the last 10 s.",
                            value=snap.readings_per_s)
    yield GaugeMetricFamily(mn.UP, "1 while the flow runs.", value=1.0 if snap.up else 0.0)


def _histogram(snap: StatsSnapshot, buckets: tuple[float, ...]) -> Metric:
    cumulative = np.cumsum(snap.bucket_counts).tolist()
    pairs = [(floatToGoString(b), float(c)) for b, c in zip(buckets, cumulative, strict=False)]
    pairs.append(("+Inf", float(cumulative[-1])))
    family = HistogramMetricFamily(mn.BATCH_SECONDS, "Wall seconds spent processing one batch.")
    family.add_metric([], pairs, sum_value=snap.seconds_sum)
    return family


def _works_family(snap: StatsSnapshot) -> Metric:
    """``vitals_planned_works_active{works, district}``: 1 for a works in progress at the flow's event clock (the
    newest accepted event time of any shard), 0 for one still to come, nothing once it is over; a series per
    district it touches (bounded by the file)."""
    family = GaugeMetricFamily(mn.PLANNED_WORKS_ACTIVE, "1 while a planned works (--planned-works) is in progress "
                               "by event time, 0 before it starts; one series per district it touches.",
                               labels=["works", "district"])
    clocks = [s.last_event_s for s in snap.shards.values() if not math.isnan(s.last_event_s)]
    now_ns = round(max(clocks) * NS_PER_S) if clocks else None
    for works in snap.works.works if snap.works is not None else ():
        if now_ns is not None and now_ns >= works.end_ns:
            continue
        active = 1.0 if now_ns is not None and works.start_ns <= now_ns else 0.0
        for district in works.districts:
            family.add_metric([works.id, district], active)
    return family

