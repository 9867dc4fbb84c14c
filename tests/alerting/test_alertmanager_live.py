"""A real Alertmanager with the generated configuration (quick timings, webhooks to a local recorder):
alerts posted to its API are routed to the right centers, and the inhibition rules mute lower levels of
the same series, early warnings once the level is reached, and street alerts under a district-wide one."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from vitals_testing import need_binary

from vitals.alerting import AlertingOptions, WebhookRecorder, build_alerting, render_config_dir
from vitals.catalog import Catalog
from vitals.services import http_get, start_alertmanager, wait_for

pytestmark = pytest.mark.integration


def _post(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _alert(name: str, severity: str, *, ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    kind = "early_warning" if name == "VitalsEarlyWarning" else "level"
    scope = "district" if name == "VitalsDistrictWarningLevel" else "street"
    return {"labels": {"alertname": name, "kind": kind, "scope": scope, "severity": severity,
                       "indicator": "traffic_index", "domain": "traffic", **labels},
            "annotations": {"summary": f"{name} {severity}"},
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (ends or now + timedelta(hours=1)).isoformat()}


def _key(alert: dict[str, Any]) -> tuple[str, str, str]:
    labels = alert["labels"]
    return labels["alertname"], labels["severity"], labels.get("street", "")


@pytest.fixture
def alertmanager(small_catalog: Catalog, tmp_path: Path):
    need_binary("alertmanager")
    with WebhookRecorder() as recorder:
        bundle = build_alerting(small_catalog, AlertingOptions.quick(recorder.url))
        rendered = render_config_dir(bundle, tmp_path, environ={})
        service = start_alertmanager(rendered.alertmanager_config.read_text(), rendered.alertmanager_dir)
        try:
            yield service, recorder
        finally:
            service.stop()


def test_routing_escalation_and_inhibition(alertmanager, small_catalog: Catalog) -> None:
    service, recorder = alertmanager
    district = next(d.id for d in small_catalog.districts if len(small_catalog.streets_of(d.id)) >= 3)
    s1, s2, s3 = (s.id for s in small_catalog.streets_of(district)[:3])
    where = {"district": district}
    sources = [
        _alert("VitalsWarningLevel", "orange", street=s1, **where),           # notified, escalates
        _alert("VitalsDistrictWarningLevel", "yellow", **where),               # notified to the district
    ]
    targets = [
        _alert("VitalsWarningLevel", "yellow", street=s1, **where),           # muted by the orange of s1
        _alert("VitalsEarlyWarning", "orange", street=s1, **where),           # muted: s1 is at orange already
        _alert("VitalsWarningLevel", "blue", street=s2, **where),             # muted by the district-wide yellow
        _alert("VitalsWarningLevel", "red", street=s3, **where),              # above the district level: notified
    ]
    # as from Prometheus, where the higher level and the district-wide alert exist before what they mute
    # (Alertmanager's inhibitor learns of new alerts asynchronously)
    _post(service.url, sources)
    wait_for(lambda: len(json.loads(http_get(f"{service.url}/api/v2/alerts"))) == 2, deadline_s=10, what="sources")
    _post(service.url, targets)

    def states() -> dict[tuple[str, str, str], list[str]]:
        alerts = json.loads(http_get(f"{service.url}/api/v2/alerts"))
        return {_key(a): a["status"]["inhibitedBy"] for a in alerts}

    inhibited = {("VitalsWarningLevel", "yellow", s1), ("VitalsEarlyWarning", "orange", s1),
                 ("VitalsWarningLevel", "blue", s2)}
    wait_for(lambda: {k for k, by in states().items() if by} == inhibited, deadline_s=20, what="inhibition")

    def received(receiver: str) -> set[tuple[str, str, str]]:
        return {_key(a) for n in recorder.notifications if n.receiver == receiver for a in n.alerts}

    expected = {
        "street-centers": {("VitalsWarningLevel", "orange", s1), ("VitalsWarningLevel", "red", s3)},
        "district-centers": {("VitalsWarningLevel", "orange", s1), ("VitalsWarningLevel", "red", s3),
                             ("VitalsDistrictWarningLevel", "yellow", "")},
        "city-center": {("VitalsWarningLevel", "orange", s1), ("VitalsWarningLevel", "red", s3)},
    }
    wait_for(lambda: all(received(r) >= keys for r, keys in expected.items()), deadline_s=20, what="notifications")
    for receiver, keys in expected.items():
        assert received(receiver) == keys, receiver
    assert all(n.path == f"/{n.receiver}" for n in recorder.notifications)
    district_groups = {tuple(sorted(n.group_labels.items())) for n in recorder.notifications
                       if n.receiver == "district-centers"}
    assert all(dict(g)["district"] == district for g in district_groups)

    # the orange of s1 ends: a resolved notification follows; its early warning is no longer muted, while its
    # yellow stays muted by the district-wide yellow
    _post(service.url, [_alert("VitalsWarningLevel", "orange", street=s1, ends=datetime.now(UTC), **where)])
    recorder.wait_for(lambda n: n.receiver == "street-centers" and n.status == "resolved"
                      and any(_key(a) == ("VitalsWarningLevel", "orange", s1) for a in n.alerts),
                      deadline_s=20, what="a resolved notification for the orange level")
    recorder.wait_for(lambda n: n.receiver == "district-centers"
                      and any(_key(a) == ("VitalsEarlyWarning", "orange", s1) for a in n.alerts),
                      deadline_s=20, what="the early warning once the orange is resolved")
    still = {("VitalsWarningLevel", "yellow", s1), ("VitalsWarningLevel", "blue", s2)}
    wait_for(lambda: {k for k, by in states().items() if by} == still, deadline_s=20, what="inhibition after")
    assert ("VitalsWarningLevel", "yellow", s1) not in set().union(*map(received, expected))
