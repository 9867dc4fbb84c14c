"""amtool on the committed Alertmanager configuration: check-config, every level x hierarchy route against
a hand-written escalation table, the generated route cases, and the notification templates rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vitals_testing import need_binary

from vitals.alerting import ALERTMANAGER_CONFIG, ROUTE_TESTS
from vitals.alerting.tools import check_alertmanager, render_template, routed_receivers, run_route_tests, template_glob
from vitals.catalog import Catalog

pytestmark = pytest.mark.integration
DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
CONFIG = DASHBOARDS / ALERTMANAGER_CONFIG

STREET, DISTRICT, CITY = "street-centers", "district-centers", "city-center"
# The escalation policy, written out by hand (not derived from the generator): who hears of an alert of
# each scope at each level.
ESCALATION = {
    ("street", "blue"): [STREET], ("street", "yellow"): [STREET],
    ("street", "orange"): [STREET, DISTRICT, CITY], ("street", "red"): [STREET, DISTRICT, CITY],
    ("district", "blue"): [DISTRICT], ("district", "yellow"): [DISTRICT],
    ("district", "orange"): [DISTRICT, CITY], ("district", "red"): [DISTRICT, CITY],
    ("city", "blue"): [CITY], ("city", "yellow"): [CITY], ("city", "orange"): [CITY], ("city", "red"): [CITY],
}
ALERTNAME = {"street": "VitalsWarningLevel", "district": "VitalsDistrictWarningLevel", "city": "VitalsCityWarningLevel"}


def test_committed_config_passes_check_config() -> None:
    need_binary("amtool")
    result = check_alertmanager(CONFIG)
    assert result.ok, result.output
    assert "4 receivers" in result.output and "templates" in result.output


@pytest.mark.parametrize(("scope", "level"), list(ESCALATION), ids=[f"{s}-{lv}" for s, lv in ESCALATION])
def test_level_by_hierarchy_reaches_the_right_centers(scope: str, level: str) -> None:
    need_binary("amtool")
    labels = [f"alertname={ALERTNAME[scope]}", "kind=level", f"scope={scope}", f"severity={level}",
              "indicator=traffic_index", "domain=traffic"]
    labels += {"street": ["district=yuzhong", "street=yuzhong_s001"], "district": ["district=yuzhong"],
               "city": []}[scope]
    assert routed_receivers(CONFIG, labels) == ESCALATION[(scope, level)]


@pytest.mark.parametrize(("labels", "receivers"), [
    (["alertname=VitalsEarlyWarning", "kind=early_warning", "scope=street", "severity=orange",
      "district=yuzhong", "street=yuzhong_s001"], [STREET, DISTRICT]),
    (["alertname=VitalsAnomaly", "kind=anomaly", "scope=street", "severity=warning", "district=yuzhong"], [STREET]),
    (["alertname=VitalsStaleData", "kind=data_quality", "scope=street", "severity=warning"], ["platform"]),
    (["alertname=VitalsPipelineDown", "kind=pipeline", "severity=critical"], ["platform"]),
    (["alertname=SomethingElse"], [CITY]),
], ids=["early-warning", "anomaly", "stale", "pipeline", "unknown"])
def test_other_kinds_reach_the_right_centers(labels: list[str], receivers: list[str]) -> None:
    need_binary("amtool")
    assert routed_receivers(CONFIG, labels) == receivers


def test_generated_route_cases_pass_amtool_verify() -> None:
    need_binary("amtool")
    results = run_route_tests(CONFIG, DASHBOARDS / ROUTE_TESTS)
    assert len(results) >= 12
    failed = [r for r in results if not r.ok]
    assert not failed, [(r.name, r.output) for r in failed]


def _alert(status: str, **labels: str) -> dict[str, Any]:
    annotations = {"place_zh": "渝中区 解放碑街道", "place_en": "Jiefangbei, Yuzhong", "indicator_zh": "道路交通指数",
                   "indicator_en": "Road traffic index (TPI)", "unit": "index", "value": "7.3",
                   "threshold": "≥ 7 index", "forecast": "7.9", "minutes": "20",
                   "dashboard": "http://grafana/d/indicator-detail?var-indicator=traffic_index"}
    return {"status": status, "labels": {"kind": "level", "scope": "street", **labels}, "annotations": annotations,
            "startsAt": "2026-01-01T10:00:00Z",
            "endsAt": "2026-01-01T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"}


def _data(alerts: list[dict[str, Any]], **group: str) -> dict[str, Any]:
    return {"receiver": DISTRICT, "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
            "groupLabels": group, "commonLabels": {**group, "kind": "level"}, "commonAnnotations": {},
            "externalURL": "http://alertmanager", "alerts": alerts}


def test_templates_say_where_what_how_bad_and_when_in_both_languages(catalog: Catalog) -> None:
    need_binary("amtool")
    glob = template_glob(DASHBOARDS)
    firing = _alert("firing", alertname="VitalsWarningLevel", severity="orange", district="yuzhong")
    early = _alert("resolved", alertname="VitalsEarlyWarning", severity="orange", district="yuzhong")
    early["labels"]["kind"] = "early_warning"
    text = render_template(glob, '{{ template "vitals.text" . }}',
                           _data([firing, early], severity="orange", district="yuzhong", domain="traffic"))
    yuzhong = catalog.districts[catalog.district_index["yuzhong"]]
    assert f"橙色预警 {yuzhong.name_zh} 交通" in text.splitlines()[0]
    assert "ORANGE (II)" in text and yuzhong.name_en in text.splitlines()[0]
    assert "【橙色预警】渝中区 解放碑街道 道路交通指数：当前 7.3 index，阈值 ≥ 7 index，30分钟预测 7.9" in text
    assert "[ORANGE (II)] Road traffic index (TPI) at Jiefangbei, Yuzhong: now 7.3 index, threshold ≥ 7 index" in text
    assert "[已恢复] 【提前预警】" in text and "预计 20 分钟内达到橙色预警阈值" in text
    assert "[RESOLVED] [EARLY WARNING]" in text
    offset = catalog.city.timezone_offset_hours
    assert f"开始 2026-01-01 {10 + int(offset):02d}:00 UTC+{offset:g}" in text
    assert "http://grafana/d/indicator-detail?var-indicator=traffic_index" in text


def test_district_addresses_come_from_the_catalog(catalog: Catalog) -> None:
    need_binary("amtool")
    glob = template_glob(DASHBOARDS)
    last = catalog.districts[-1]
    data = _data([_alert("firing", alertname="VitalsWarningLevel", severity="red", district=last.id)],
                 district=last.id)
    assert render_template(glob, '{{ template "vitals.district.email" . }}', data) == \
        f"district-{last.id}@ops.example.cn"
    assert render_template(glob, '{{ template "vitals.district.wecom_party" . }}', data) == \
        str(100 + len(catalog.districts) - 1)
    assert render_template(glob, '{{ template "vitals.district_zh" "no-such-district" }}', data) == "no-such-district"


def test_wecom_message_is_cut_after_eight_alerts() -> None:
    need_binary("amtool")
    alerts = [_alert("firing", alertname="VitalsWarningLevel", severity="blue", street=f"s{i}") for i in range(12)]
    text = render_template(template_glob(DASHBOARDS), '{{ template "vitals.wechat.message" . }}',
                           _data(alerts, severity="blue"))
    assert text.count("【蓝色预警】") == 8 and "另有 12 条" in text
