"""The demo's terminal view: district columns line up whatever the width of the Chinese names, and each
notification line names the indicator, the area and the level."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from vitals.catalog import Catalog
from vitals.demo.view import Notification, NotificationLog, describe_alert, notification_line, render_view
from vitals.exporter import ExportHub
from vitals.health.rollup import HealthView
from vitals.textwidth import display_width


def _health(catalog: Catalog) -> HealthView:
    values = {}
    for f in dataclasses.fields(HealthView):
        if f.name.startswith("street_"):
            values[f.name] = np.zeros(catalog.n_streets, dtype=np.int64 if "series" in f.name else np.float64)
        elif f.name.startswith("district_"):
            values[f.name] = np.zeros(len(catalog.districts), dtype=np.int64 if "series" in f.name else np.float64)
        else:
            values[f.name] = 0
    values["district_health"] = np.linspace(40.0, 100.0, len(catalog.districts))
    values["district_level"] = np.zeros(len(catalog.districts), dtype=np.int8)
    values["district_series"] = np.ones(len(catalog.districts), dtype=np.int64)
    values["street_level"] = np.zeros(catalog.n_streets, dtype=np.int8)
    return HealthView(**values)


def test_district_columns_align_by_display_width(small_catalog: Catalog) -> None:
    text = render_view(small_catalog, _health(small_catalog), ExportHub(small_catalog), None,
                       metrics_url="http://x/metrics", colour=False, top=38)
    rows = [line for line in text.splitlines() if line.startswith("  ") and line.rstrip().endswith("normal")]
    assert len(rows) == 38
    # the level starts in the same terminal column on every row (names of 2 to 10 Chinese characters)
    starts = {display_width(line[: line.rindex("normal")]) for line in rows}
    assert len(starts) == 1, starts
    header = next(line for line in text.splitlines() if line.startswith("worst districts"))
    assert display_width(header[: header.rindex("level")]) in starts
    assert {len(small_catalog.districts[i].name_zh) for i in range(38)} >= {3, 4}


def _webhook(**labels: str) -> dict:
    return {"alerts": [{"status": "firing", "labels": labels, "annotations": {}}]}


def test_notifications_name_indicator_area_and_level(small_catalog: Catalog) -> None:
    street = small_catalog.streets_of("yuzhong")[0]
    log = NotificationLog(catalog=small_catalog)
    log.add_webhook(_webhook(alertname="VitalsWarningLevel", kind="level", severity="orange",
                             indicator="water_pressure", district="yuzhong", street=street.id, scope="street"))
    log.add_webhook(_webhook(alertname="VitalsEarlyWarning", kind="early_warning", severity="red",
                             indicator="underpass_ponding", district="jiangbei", scope="district"))
    level, early = log.latest()
    line = notification_line(level)
    assert "供水管网压力" in line and "渝中区" in line and street.name_zh in line and "橙色 orange" in line
    assert "level" in line
    line = notification_line(early)
    assert "红色 red" in line and "forecast" in line and "江北区" in line
    assert small_catalog.indicator("underpass_ponding").name_zh in line
    # the area starts in the same column whatever the indicator's name
    start = [display_width(notification_line(n)[: notification_line(n).index(n.where)]) for n in (level, early)]
    assert start[0] == start[1]


def test_notifications_without_catalog_or_area() -> None:
    alert = {"labels": {"indicator": "tunnel_co", "district": "d1", "street": "s9"},
             "annotations": {"indicator_zh": "隧道一氧化碳", "place_zh": "某区 某街道"}}
    assert describe_alert(alert) == ("隧道一氧化碳", "某区 某街道")
    assert describe_alert({"labels": {"alertname": "VitalsPipelineDown"}}) == ("", "-")
    assert describe_alert({"labels": {"indicator": "x", "scope": "city"}}) == ("x", "city")
    n = Notification(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), "firing", "VitalsPipelineDown", "critical", "-",
                     kind="pipeline")
    assert notification_line(n).split() == ["08:00:00", "firing", "critical", "pipeline", "-", "-"]


@pytest.mark.parametrize("run_for", ["0", "-1", "nan"])
def test_demo_for_must_be_positive(run_for: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: --for 0 ran until Ctrl-C (0 read as "not given"), --for -1 stopped at once as "interrupted" (exit
    130), --for nan stopped at once; none said why. Refused before anything starts (no flow, no services)."""
    from vitals.cli import main

    class NoRunner:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the demo must not start: {name}")

    assert main(["demo", "--for", run_for, "--no-services", "--no-view"], runner=NoRunner()) == 1  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err == f"vitals demo: error: --for must be a number of seconds > 0 (leave it out to run until Ctrl-C), " \
                  f"got {float(run_for):g}\n"


def test_one_alert_delivered_to_several_centers_is_one_line(small_catalog: Catalog) -> None:
    """An escalated alert reaches the street, district and city centers: the view showed three identical lines
    (and pushed older notifications out of its six); now one line naming the centers. Its resolution, and another
    alert, are lines of their own."""
    street = small_catalog.streets_of("fengjie")[0]
    labels = {"alertname": "VitalsWarningLevel", "kind": "level", "severity": "red", "indicator": "voltage_deviation",
              "district": "fengjie", "street": street.id, "scope": "street"}

    def payload(receiver: str, status: str = "firing", fingerprint: str = "a1") -> dict:
        return {"receiver": receiver, "alerts": [{"status": status, "labels": labels, "annotations": {},
                                                  "fingerprint": fingerprint, "startsAt": "2026-12-03T20:21:26Z"}]}

    log = NotificationLog(catalog=small_catalog)
    for receiver in ("city-center", "street-centers", "district-centers", "city-center"):
        log.add_webhook(payload(receiver))
    log.add_webhook(payload("street-centers", fingerprint="b2"))
    log.add_webhook(payload("street-centers", status="resolved"))
    first, other, resolved = log.latest()  # the centers in their order, whatever the order of delivery
    assert log.total == 6
    assert first.receivers == ("street-centers", "district-centers", "city-center")
    assert notification_line(first).endswith("-> street district city")
    assert other.receivers == ("street-centers",) and "->" not in notification_line(other)
    assert resolved.status == "resolved" and resolved.receivers == ("street-centers",)
