"""The demo's alerting stack with the real Prometheus and Alertmanager: an alert posted to Alertmanager reaches
the demo's terminal view through the webhook recorder (alerting/recorder.WebhookRecorder), and stop ends it all."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from vitals_testing import need_binary

from vitals.catalog import Catalog
from vitals.config import Settings
from vitals.demo.stack import DemoServices
from vitals.demo.view import NotificationLog
from vitals.services import free_port, http_get, wait_for

pytestmark = pytest.mark.integration


def test_an_alert_reaches_the_demo_view(small_catalog: Catalog) -> None:
    need_binary("prometheus")
    need_binary("alertmanager")
    shown = NotificationLog(catalog=small_catalog)
    extra: list[str] = []
    stack = DemoServices.start_if_installed(Settings(metrics_port=free_port()), small_catalog, shown, extra)
    assert stack is not None, extra
    try:
        alertmanager = next(s for s in stack.services if "alertmanager" in s.name)
        street = small_catalog.streets[0]
        now = datetime.now(UTC)
        alert = {"labels": {"alertname": "VitalsWarningLevel", "severity": "orange", "kind": "level",
                            "scope": "street", "indicator": "water_pressure", "district": street.district_id,
                            "street": street.id},
                 "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}
        request = urllib.request.Request(f"{alertmanager.url}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=5).close()
        wait_for(lambda: shown.total >= 1, 30.0, what="the alert in the demo view")
        line = shown.latest()[0]
        ind = small_catalog.indicator("water_pressure")
        assert (line.name, line.severity, line.indicator) == ("VitalsWarningLevel", "orange", ind.name_zh)
        assert stack.receiver.notifications  # the recorder keeps them too
    finally:
        stack.stop()
    with pytest.raises(OSError):
        http_get(f"{stack.receiver.url}/", timeout=1.0)
