"""The generated rules and routes in the real stack: a stand-in exporter whose values the test sets, a real
Prometheus evaluating the rules every second, a real Alertmanager, and a webhook recorder. A series
predicted to reach orange gives an early warning before the orange level alert; the orange alert carries
the catalog's place, indicator, value and threshold, reaches the street, district and city centers once,
and resolves. (The end-to-end test with the pipeline itself is the lead's; this one pins the rules.)"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from vitals_testing import need_binary

from vitals.alerting import AlertingOptions, WebhookRecorder, build_alerting, render_config_dir
from vitals.alerting.options import Hold
from vitals.catalog import Catalog
from vitals.services import prometheus_query, start_alertmanager, start_prometheus, wait_for

pytestmark = pytest.mark.integration


class FakeExporter:
    """Serves ``/metrics`` from a dict of ``series text -> value`` that the test changes."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with exporter.lock:
                    body = "".join(f"{k} {v}\n" for k, v in exporter.values.items()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def set(self, **changes: float) -> None:
        with self.lock:
            for key, value in changes.items():
                self.values[SERIES[key]] = value


SERIES: dict[str, str] = {}


@pytest.fixture
def stack(small_catalog: Catalog, tmp_path: Path) -> Iterator[tuple[FakeExporter, WebhookRecorder, str]]:
    need_binary("prometheus")
    need_binary("alertmanager")
    street = small_catalog.streets[0]
    ind = small_catalog.indicator("traffic_index")
    where = f'indicator="{ind.id}",district="{street.district_id}",street="{street.id}"'
    SERIES.update({
        "up": "vitals_pipeline_up", "level": f'vitals_warning_level{{{where},domain="{ind.domain}"}}',
        "value": f'{ind.metric}{{{where},stat="last",window="now"}}',
        "to_orange": f'vitals_seconds_to_threshold{{{where},level="orange"}}',
        "forecast": f'vitals_forecast_value{{{where},horizon="30m"}}',
    })
    exporter = FakeExporter()
    exporter.set(up=1, level=0, value=3.5, to_orange=3600, forecast=5.0)
    with WebhookRecorder() as recorder:
        options = AlertingOptions.quick(recorder.url)
        # every alert stays firing 1 s after its condition ended (quick: 5 s), the same for all: the orange alert
        # still inhibits the blue and yellow ones of its series for as long as they fire, and resolves sooner
        options = dataclasses.replace(options, holds={k: Hold(h.for_, "1s") for k, h in options.holds.items()})
        rendered = render_config_dir(build_alerting(small_catalog, options), tmp_path, environ={})
        am = start_alertmanager(rendered.alertmanager_config.read_text(), tmp_path / "am")
        prom = None
        try:
            prom = start_prometheus(rendered.prometheus_config([exporter.target], f"127.0.0.1:{am.port}"),
                                    tmp_path / "prom")
            wait_for(lambda: prometheus_query(prom.url, "catalog:vitals_area_info:static"), 30, what="catalog rules")
            wait_for(lambda: prometheus_query(prom.url, "vitals_warning_level"), 30, what="first scrape")
            yield exporter, recorder, street.id
        finally:
            if prom is not None:
                prom.stop()
            am.stop()
            exporter.server.shutdown()


def _has(n: Any, alertname: str, status: str = "firing") -> bool:
    """The notification carries ``alertname`` at orange (the level of the test) with ``status``."""
    return n.status == status and any(a["labels"]["alertname"] == alertname and a["status"] == status
                                      and a["labels"]["severity"] == "orange" for a in n.alerts)


def test_early_warning_then_orange_then_resolved(stack, small_catalog: Catalog) -> None:
    exporter, recorder, street = stack
    exporter.set(to_orange=600, forecast=7.5)
    early = recorder.wait_for(lambda n: n.receiver == "district-centers" and _has(n, "VitalsEarlyWarning"), 30,
                              "the early warning")
    exporter.set(level=3, value=7.2, to_orange=0)
    crossed = time.monotonic()
    orange = {r: recorder.wait_for(lambda n, r=r: n.receiver == r and _has(n, "VitalsWarningLevel"), 30,
                                   f"orange at {r}") for r in ("street-centers", "district-centers", "city-center")}
    latency = max(n.received_monotonic for n in orange.values()) - crossed
    assert early.received_monotonic < min(n.received_monotonic for n in orange.values())

    alert = next(a for a in orange["street-centers"].alerts if a["labels"]["severity"] == "orange")
    s = small_catalog.streets[0]
    d = small_catalog.districts[small_catalog.district_index[s.district_id]]
    assert alert["labels"]["street"] == street and alert["labels"]["kind"] == "level"
    assert alert["annotations"]["place_zh"] == f"{d.name_zh} {s.name_zh}"
    assert alert["annotations"]["place_en"] == f"{s.name_en}, {d.name_en}"
    assert alert["annotations"]["indicator_zh"] == small_catalog.indicator("traffic_index").name_zh
    assert alert["annotations"]["value"] == "7.2"
    assert alert["annotations"]["threshold"] == "≥ 7 index"
    assert alert["annotations"]["forecast"] == "7.5"
    assert "/d/indicator-detail?var-indicator=traffic_index" in alert["annotations"]["dashboard"]
    # the blue and yellow alerts of the same series fire too, but inhibition keeps them out of notifications
    assert not any(a["labels"]["severity"] in ("blue", "yellow") for n in recorder.notifications for a in n.alerts
                   if a["labels"]["alertname"] == "VitalsWarningLevel")

    exporter.set(level=0, value=3.0, to_orange=3600)
    recorder.wait_for(lambda n: n.receiver == "city-center" and _has(n, "VitalsWarningLevel", "resolved"), 40,
                      "the resolved orange")
    firing = [n for n in recorder.notifications if n.receiver == "street-centers" and _has(n, "VitalsWarningLevel")
              and n.group_labels.get("severity") == "orange"]
    assert len(firing) == 1, "no repeated notification inside the repeat interval"
    print(f"threshold crossing -> last center notified: {latency:.2f} s")
    assert latency < 15
