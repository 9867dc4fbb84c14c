"""The Prometheus exporter: vitals rendered at scrape time from published array snapshots.

- :class:`ExportHub`: shards publish their latest :class:`~vitals.state.view.VitalsView` and the area health;
  a scrape combines and renders them (vectorized text renderer, cached per key and per family).
- :class:`ExportPolicy`: what is exported per street, per district and per city (the cardinality decision).
- :class:`PipelineStats` / :class:`PipelineCollector`: pipeline health from counts kept in Bytewax state.
- :class:`MetricsServer`: ``/metrics`` over HTTP (default 127.0.0.1:9108).

Reference of every family: ``docs/metrics.md``.
"""

from vitals.exporter.health_view import HealthLike
from vitals.exporter.hub import ExportHub
from vitals.exporter.pipeline_stats import PartitionCounts, PipelineCollector, PipelineStats, ShardCounts
from vitals.exporter.policy import ExportPolicy, estimate_samples, series_families
from vitals.exporter.render import Rendered, VitalsRenderer
from vitals.exporter.server import DEFAULT_HOST, DEFAULT_PORT, MetricsServer

__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "ExportHub", "ExportPolicy", "HealthLike", "MetricsServer",
    "PartitionCounts", "PipelineCollector", "PipelineStats", "Rendered", "ShardCounts", "VitalsRenderer",
    "estimate_samples", "series_families",
]
