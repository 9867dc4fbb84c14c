"""A real Prometheus (Debian package) scrapes the exporter serving the full-scale city and holds every series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from vitals_testing import need_binary

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.exporter import ExportHub, MetricsServer, ShardCounts
from vitals.exporter.testing import synthetic_health, synthetic_view
from vitals.services import prometheus_config, prometheus_query, running, start_prometheus, wait_for

pytestmark = pytest.mark.integration


def _value(base: str, promql: str) -> float:
    result = prometheus_query(base, promql)
    return float(result[0]["value"][1]) if result else float("nan")


def test_prometheus_scrapes_and_holds_the_full_scale_city(catalog: Catalog, tmp_path: Path) -> None:
    need_binary("prometheus")
    hub = ExportHub(catalog, registry=CollectorRegistry())
    view = synthetic_view(catalog, seed=8)
    hub.publish(0, view)
    hub.publish_health(synthetic_health(catalog, seed=8))
    hub.stats.update_shard(0, ShardCounts(accepted=len(view), state_series=len(view), last_event_s=view.now_s))
    with MetricsServer(hub, port=0) as server:
        config = prometheus_config([f"127.0.0.1:{server.port}"], scrape_interval="2s")
        with running(start_prometheus(config, tmp_path / "prometheus")) as prom:
            base = prom.url
            wait_for(lambda: _value(base, 'up{job="city-vitals"}') == 1, 60, 0.5, "a successful scrape")
            scraped = _value(base, 'scrape_samples_scraped{job="city-vitals"}')
            assert scraped == hub.render().samples + _registry_samples(hub)
            assert _value(base, f"count({mn.WARNING_LEVEL})") == catalog.n_series
            assert _value(base, f'count({mn.HEALTH_INDEX}{{scope="district"}})') == len(catalog.districts)
            worst = _value(base, f"max({mn.WARNING_LEVEL})")
            assert worst == view.columns["level"].max()
            code = catalog.indicator_index["water_pressure"]
            row = int(np.flatnonzero(view.indicator == code)[0])
            street = catalog.streets[int(view.street[row])]
            got = _value(base, f'vitals_water_pressure_megapascals{{street="{street.id}",stat="last"}}')
            assert got == view.columns["last"][row]


def _registry_samples(hub: ExportHub) -> int:
    text = hub.scrape()[len(hub.render().text):]
    return sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))

