"""The full-scale exposition (1,031 streets x 28 indicators, every optional column, area health, pipeline
metrics) checked by the real ``promtool check metrics``."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
from prometheus_client import CollectorRegistry
from vitals_testing import need_binary

from vitals.catalog import Catalog
from vitals.exporter import ExportHub, ExportPolicy, PartitionCounts, ShardCounts, estimate_samples
from vitals.exporter.testing import synthetic_health, synthetic_view

pytestmark = pytest.mark.integration

def _full_scale_scrape(catalog: Catalog) -> bytes:
    hub = ExportHub(catalog, registry=CollectorRegistry())
    view = synthetic_view(catalog, seed=21)
    for shard in range(4):
        keep = view.series % 4 == shard
        hub.publish(shard, dataclasses.replace(view, series=view.series[keep], indicator=view.indicator[keep],
                                               street=view.street[keep],
                                               columns={k: v[keep] for k, v in view.columns.items()}))
        hub.stats.update_shard(shard, ShardCounts(accepted=1000, duplicates=2, state_series=int(keep.sum()),
                                                  state_bytes=123_456, last_event_s=view.now_s))
    hub.publish_health(synthetic_health(catalog, seed=21))
    hub.stats.update_partition("0", PartitionCounts(5000, {"late": 4, "out_of_range": 1}, view.now_s - 300))
    hub.stats.observe_batch_seconds([0.002, 0.02])
    hub.stats.set_model("isolation_forest", "2026-01-01.1")
    return hub.scrape()


def _promtool(text: bytes) -> subprocess.CompletedProcess[str]:
    promtool = need_binary("promtool")
    return subprocess.run([promtool, "check", "metrics"], input=text.decode(), capture_output=True, text=True,
                          timeout=120, check=False)


def test_full_scale_exposition_passes_promtool(catalog: Catalog) -> None:
    text = _full_scale_scrape(catalog)  # the shipped catalog names metrics in base units
    result = _promtool(text)
    assert result.returncode == 0, result.stdout + result.stderr
    samples = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    assert samples >= estimate_samples(catalog, ExportPolicy())["total"] * 0.9
