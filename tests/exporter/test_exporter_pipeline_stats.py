"""Pipeline-health metrics: a registry per test, values read with ``get_sample_value``."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from vitals import metric_names as mn
from vitals.batches import REJECT_REASONS
from vitals.exporter import PartitionCounts, PipelineCollector, PipelineStats, ShardCounts


class FakeClock:
    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stats(clock: FakeClock) -> PipelineStats:
    return PipelineStats(clock=clock)


@pytest.fixture
def registry(stats: PipelineStats) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(stats))
    return registry


def test_counters_come_from_published_absolute_counts(stats: PipelineStats, registry: CollectorRegistry) -> None:
    stats.update_partition("p0", PartitionCounts(1000, {"out_of_range": 7, "late": 3}, watermark_s=1.7e9))
    stats.update_partition("p1", PartitionCounts(500, {"malformed": 2}, watermark_s=1.6e9))
    stats.update_shard(0, ShardCounts(accepted=600, duplicates=4, state_series=40, state_bytes=4096,
                                      last_event_s=1.7e9))
    stats.update_shard(1, ShardCounts(accepted=884, duplicates=0, state_series=44, state_bytes=5000))
    get = registry.get_sample_value
    assert get(mn.READINGS, {"worker": "0"}) == 600
    assert get(mn.READINGS_IN, {"partition": "p1"}) == 500
    assert get(mn.READINGS_REJECTED, {"reason": "out_of_range"}) == 7
    assert get(mn.READINGS_REJECTED, {"reason": "duplicate"}) == 4
    assert get(mn.READINGS_REJECTED, {"reason": "unknown_area"}) == 0  # every reason present from the start
    assert get(mn.READINGS_LATE) == 3
    assert get(mn.READINGS_DUPLICATE) == 4
    assert get(mn.WATERMARK, {"partition": "p0"}) == 1.7e9
    assert get(mn.STATE_BYTES, {"worker": "1"}) == 5000
    assert get(mn.STATE_SERIES, {"worker": "0"}) == 40
    assert get(mn.LAST_EVENT, {"worker": "1"}) is None  # no event yet: left out, not NaN
    assert get(mn.UP) == 1.0
    rejected = sum(get(mn.READINGS_REJECTED, {"reason": r}) or 0 for r in REJECT_REASONS)
    accepted = sum(get(mn.READINGS, {"worker": w}) or 0 for w in ("0", "1"))
    assert accepted + rejected == 1500  # the flow's invariant, visible in the metrics


def test_a_replayed_publication_does_not_count_twice(stats: PipelineStats, registry: CollectorRegistry) -> None:
    counts = PartitionCounts(1000, {"late": 3})
    stats.update_partition("p0", counts)
    stats.update_partition("p0", counts)  # an epoch re-emitted after a resume publishes the same state again
    assert registry.get_sample_value(mn.READINGS_IN, {"partition": "p0"}) == 1000
    assert registry.get_sample_value(mn.READINGS_LATE) == 3


def test_lag_is_now_minus_the_last_event(stats: PipelineStats, registry: CollectorRegistry,
                                         clock: FakeClock) -> None:
    stats.update_shard("3", ShardCounts(last_event_s=clock.now - 42.5))
    assert registry.get_sample_value(mn.LAG, {"worker": "3"}) == pytest.approx(42.5)
    clock.now += 10
    assert registry.get_sample_value(mn.LAG, {"worker": "3"}) == pytest.approx(52.5)


def test_readings_per_second_over_the_recent_window(stats: PipelineStats, registry: CollectorRegistry,
                                                    clock: FakeClock) -> None:
    assert registry.get_sample_value(mn.READINGS_RATE) == 0.0
    for second in range(21):
        clock.now += 1
        stats.update_partition("p0", PartitionCounts(readings_in=second * 1000))
    assert registry.get_sample_value(mn.READINGS_RATE) == pytest.approx(1000.0)
    clock.now += 10  # nothing arrives for 10 s: the rate decays to 0
    assert registry.get_sample_value(mn.READINGS_RATE) == pytest.approx(0.0)


def test_batch_seconds_histogram(stats: PipelineStats, registry: CollectorRegistry) -> None:
    stats.observe_batch_seconds(0.003)
    stats.observe_batch_seconds([0.0004, 0.2, 7.0])
    get = registry.get_sample_value
    assert get(mn.BATCH_SECONDS + "_bucket", {"le": "0.0005"}) == 1
    assert get(mn.BATCH_SECONDS + "_bucket", {"le": "0.005"}) == 2
    assert get(mn.BATCH_SECONDS + "_bucket", {"le": "0.25"}) == 3
    assert get(mn.BATCH_SECONDS + "_bucket", {"le": "+Inf"}) == 4
    assert get(mn.BATCH_SECONDS + "_count") == 4
    assert math.isclose(get(mn.BATCH_SECONDS + "_sum") or 0, 7.2034)


def test_model_info_and_down_flag(stats: PipelineStats, registry: CollectorRegistry) -> None:
    stats.set_model("isolation_forest", "v3")
    stats.set_model("forecast", "v1")
    stats.up = False
    assert registry.get_sample_value(mn.MODEL_INFO, {"family": "isolation_forest", "version": "v3"}) == 1.0
    assert registry.get_sample_value(mn.MODEL_INFO, {"family": "forecast", "version": "v1"}) == 1.0
    assert registry.get_sample_value(mn.UP) == 0.0
