"""The hub (several shards publishing, thread-safe scrapes) and the /metrics HTTP server."""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.errors import ServiceError
from vitals.exporter import ExportHub, MetricsServer, PartitionCounts, VitalsRenderer
from vitals.exporter.testing import synthetic_health, synthetic_view
from vitals.state.view import VitalsView


def _shard_views(catalog: Catalog, n_shards: int, seed: int, share: float = 0.5) -> list[VitalsView]:
    whole = synthetic_view(catalog, seed=seed, share=share)
    views = []
    for shard in range(n_shards):
        keep = whole.series % n_shards == shard
        views.append(VitalsView(whole.series[keep], whole.indicator[keep], whole.street[keep],
                                {k: v[keep] for k, v in whole.columns.items()}, whole.now_s))
    return views


def test_shards_combine_into_one_exposition(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    views = _shard_views(small_catalog, 3, seed=1)
    health = synthetic_health(small_catalog, seed=1)
    for shard in (2, 0, 1):  # publication order does not matter; shards render in shard order
        hub.publish(shard, views[shard])
    hub.publish_health(health)
    combined = VitalsRenderer(small_catalog).render(VitalsView.concat(views), health)
    assert hub.render().text == combined.text
    assert hub.render() is hub.render()  # nothing new published: the cached render is served


def test_scrape_appends_the_registry_text(small_catalog: Catalog) -> None:
    registry = CollectorRegistry()
    hub = ExportHub(small_catalog, registry=registry)
    hub.publish(0, synthetic_view(small_catalog, seed=2, share=0.2))
    hub.stats.update_partition("p0", PartitionCounts(readings_in=123))
    text = hub.scrape().decode()
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"vitals_traffic_index", mn.WARNING_LEVEL, mn.READINGS_IN.removesuffix("_total"), mn.UP,
            mn.EXPORT_RENDER_SECONDS} <= families
    assert registry.get_sample_value(mn.READINGS_IN, {"partition": "p0"}) == 123
    assert registry.get_sample_value(mn.EXPORT_SAMPLES) == hub.render().samples


def test_retired_shard_disappears_and_wants_view_limits_publications(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry(), min_publish_interval_s=60)
    views = _shard_views(small_catalog, 2, seed=3)
    assert hub.wants_view(0)
    hub.publish(0, views[0])
    hub.publish(1, views[1])
    assert not hub.wants_view(0)
    hub.retire(1)
    assert hub.shards() == ["0"]
    assert hub.render().text == VitalsRenderer(small_catalog).render(views[0]).text


def test_concurrent_publishers_and_scrapers(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    rounds = [_shard_views(small_catalog, 2, seed=s, share=0.1) for s in range(4)]
    errors: list[BaseException] = []
    texts: list[bytes] = []

    def publisher(shard: int) -> None:
        for views in rounds:
            hub.publish(shard, views[shard])

    def scraper() -> None:
        try:
            for _ in range(4):
                texts.append(hub.scrape())
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(s,)) for s in (0, 1)]
    threads += [threading.Thread(target=scraper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for text in texts:  # every scrape is a consistent, parseable exposition
        list(text_string_to_metric_families(text.decode()))
    hub.publish(0, rounds[-1][0])
    hub.publish(1, rounds[-1][1])
    expected = VitalsRenderer(small_catalog).render(VitalsView.concat(rounds[-1])).text
    assert hub.render().text == expected


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_http_server_serves_metrics_and_stops_cleanly(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    hub.publish(0, synthetic_view(small_catalog, seed=4, share=0.3))
    with MetricsServer(hub, port=0) as server:
        status, headers, body = _get(server.url)
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert body == hub.scrape()
        status, headers, zipped = _get(server.url, {"Accept-Encoding": "gzip"})
        assert headers.get("Content-Encoding") == "gzip"
        assert gzip.decompress(zipped) == body
        assert _get(server.url.replace("/metrics", "/-/healthy"))[2] == b"OK\n"
        assert _get(server.url.replace("/metrics", "/nothing"))[0] == 404
        port = server.port
    assert not any(t.name == f"metrics-{port}" for t in threading.enumerate())
    with MetricsServer(hub, port=port) as again:  # the port is released: a restart binds it again
        assert _get(again.url)[0] == 200


def test_a_busy_port_is_a_service_error(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    with MetricsServer(hub, port=0) as first, pytest.raises(ServiceError, match="choose another port"):
        MetricsServer(hub, port=first.port).start()


def test_render_failure_answers_500_and_the_server_lives_on(small_catalog: Catalog) -> None:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    broken = synthetic_view(small_catalog, seed=5, share=0.1)
    bad_codes = np.full_like(broken.indicator, 999)  # a view from another catalog: codes out of range
    hub.publish(0, VitalsView(broken.series, bad_codes, broken.street, broken.columns))
    with MetricsServer(hub, port=0) as server:
        assert _get(server.url)[0] == 500
        hub.publish(0, broken)
        status, _, body = _get(server.url)
        assert status == 200
        assert b"vitals_traffic_index{" in body
