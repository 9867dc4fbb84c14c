"""Generated alerting files: structure, the committed copy, options and secrets (no external binaries)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from vitals.alerting import (
    ALERT_RULES,
    ALERTMANAGER_CONFIG,
    RULE_TESTS_DIR,
    AlertingOptions,
    Hold,
    build_alerting,
    render_config_dir,
)
from vitals.alerting import names as n
from vitals.alerting.options import LEVELS
from vitals.alerting.receivers import WECOM_SECRET_PLACEHOLDER
from vitals.catalog import Catalog
from vitals.errors import ConfigError, ExportError

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


@pytest.fixture(scope="module")
def bundle(catalog: Catalog):
    return build_alerting(catalog)


def alert_rules(bundle) -> list[dict]:
    return [r for g in bundle.rule_groups[ALERT_RULES] for r in g["rules"]]


def test_committed_files_equal_a_fresh_build(bundle) -> None:
    """`vitals alerts build` output is committed: regenerate and compare every file, and find no extras."""
    stale = [rel for rel, text in bundle.files.items() if (DASHBOARDS / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"regenerate with `vitals alerts build`: {stale}"
    generated = {str(p.relative_to(DASHBOARDS)) for d in ("prometheus", "alertmanager")
                 for p in (DASHBOARDS / d).rglob("*") if p.is_file()}
    assert generated == set(bundle.files), f"files not produced by the build: {generated - set(bundle.files)}"


def test_every_family_has_levels_kinds_and_anti_flapping(bundle) -> None:
    rules = alert_rules(bundle)
    by_name: dict[str, list[dict]] = {}
    for rule in rules:
        by_name.setdefault(rule["alert"], []).append(rule)
    assert set(by_name) == {n.WARNING_LEVEL, n.DISTRICT_WARNING_LEVEL, n.CITY_WARNING_LEVEL, n.EARLY_WARNING,
                            n.ANOMALY, n.STALE_DATA, n.PIPELINE_DOWN, n.PIPELINE_ABSENT, n.PIPELINE_LAGGING,
                            n.MODEL_NOT_LOADED, n.CATALOG_MISMATCH}
    for family in n.LEVEL_ALERTS:
        assert [r["labels"]["severity"] for r in by_name[family]] == list(LEVELS)
        assert all(r["for"] and r["keep_firing_for"] for r in by_name[family])
    assert [r["expr"] for r in by_name[n.WARNING_LEVEL]] == [f"vitals_warning_level >= {v}" for v in (1, 2, 3, 4)]
    for rule in rules:
        assert rule["labels"]["kind"] in {"level", "early_warning", "anomaly", "data_quality", "pipeline"}
        assert "summary" in rule["annotations"] and "dashboard" in rule["annotations"]


def test_annotations_name_the_place_indicator_threshold_and_dashboard(bundle) -> None:
    orange = next(r for r in alert_rules(bundle)
                  if r["alert"] == n.WARNING_LEVEL and r["labels"]["severity"] == "orange")
    ann = orange["annotations"]
    expected = {"place_zh", "place_en", "indicator_zh", "indicator_en", "unit", "value", "threshold", "forecast"}
    assert expected <= set(ann)
    assert n.AREA_INFO in ann["place_zh"] and '"place_zh"' in ann["place_zh"]
    assert '"condition_orange"' in ann["threshold"]
    assert 'horizon=\\"30m\\"' in ann["forecast"]
    assert ann["dashboard"].startswith("http://localhost:3000/d/indicator-detail?var-indicator=")
    early = next(r for r in alert_rules(bundle) if r["alert"] == n.EARLY_WARNING)
    assert 'vitals_seconds_to_threshold{level="orange"} <= 1800' in early["expr"]
    assert 'vitals_forecast_warning_level{horizon="30m"} >= 3' in early["expr"]
    assert "unless on (indicator, district, street) vitals_warning_level >= 3" in early["expr"]


def test_catalog_constants_cover_every_area_and_indicator(bundle, catalog: Catalog) -> None:
    groups = {g["name"]: g for g in bundle.rule_groups["prometheus/catalog.rules.yml"]}
    areas = [r["labels"] for r in groups["vitals-catalog-areas"]["rules"]]
    assert len(areas) == 1 + len(catalog.districts) + catalog.n_streets
    street = catalog.streets[5]
    row = next(a for a in areas if a.get("street") == street.id)
    district = catalog.districts[catalog.district_index[street.district_id]]
    assert row["place_zh"] == f"{district.name_zh} {street.name_zh}"
    assert row["place_en"] == f"{street.name_en}, {district.name_en}"
    infos = [r["labels"] for r in groups["vitals-catalog-indicators"]["rules"] if r["record"] == n.INDICATOR_INFO]
    down = next(i for i in catalog.indicators if i.bad == "down" and i.basis == "value")
    info = next(i for i in infos if i["indicator"] == down.id)
    assert info["condition_red"] == f"≤ {down.thresholds.red:g} {down.unit}" and info["metric"] == down.metric
    both = next(i for i in catalog.indicators if i.bad == "both")
    assert next(i for i in infos if i["indicator"] == both.id)["condition_blue"].startswith("|x − ")
    stale = {r["labels"]["indicator"]: r["expr"] for r in groups["vitals-catalog-indicators"]["rules"]
             if r["record"] == n.STALE_AFTER}
    assert stale["water_pressure"] == f"vector({3 * catalog.indicator('water_pressure').cadence_s})"


def test_rule_count_does_not_grow_with_streets(catalog: Catalog, small_catalog: Catalog) -> None:
    big, small = build_alerting(catalog).counts(), build_alerting(small_catalog).counts()
    for key in ("alerting_rules", "recording_rules", "routes", "receivers", "inhibit_rules"):
        assert big[key] == small[key], key
    extra_streets = catalog.n_streets - small_catalog.n_streets
    assert big["catalog_constant_rules"] - small["catalog_constant_rules"] == extra_streets


def test_every_rule_family_has_a_promtool_test(bundle) -> None:
    tested: set[str] = set()
    for rel, text in bundle.files.items():
        if rel.startswith(RULE_TESTS_DIR) and rel.endswith(".test.yml"):
            doc = yaml.safe_load(text)
            for test in doc["tests"]:
                tested |= {t["alertname"] for t in test.get("alert_rule_test", [])}
    assert tested == {r["alert"] for r in alert_rules(bundle)}


@pytest.mark.parametrize("family", ["warning_level", "district_warning_level", "city_warning_level",
                                    "early_warning", "anomaly", "stale_data"])
def test_each_family_test_fires_stays_silent_and_resolves(bundle, family: str) -> None:
    """The generated expectations include a check with alerts and checks without (before and after)."""
    doc = yaml.safe_load(bundle.files[f"{RULE_TESTS_DIR}/{family}.test.yml"])
    checks = [c for t in doc["tests"] for c in t["alert_rule_test"]]
    counts = [len(c["exp_alerts"]) for c in checks]
    assert counts[0] == 0, "the first check (before the condition) expects no alert"
    assert counts[-1] == 0, "the last check (after keep_firing_for) expects the alert resolved"
    assert max(counts) > 0


def test_street_level_test_expects_every_level_on_the_ramp(bundle, catalog: Catalog) -> None:
    doc = yaml.safe_load(bundle.files[f"{RULE_TESTS_DIR}/warning_level.test.yml"])
    checks = doc["tests"][0]["alert_rule_test"]
    ramp = catalog.streets[0].id
    seen = [sorted(a["exp_labels"]["severity"] for a in c["exp_alerts"] if a["exp_labels"]["street"] == ramp)
            for c in checks]
    assert ["blue", "orange", "red", "yellow"] in seen and ["blue"] in seen
    spike = catalog.streets[1].id
    assert not any(a["exp_labels"]["street"] == spike for c in checks for a in c["exp_alerts"])


def test_quick_options_shorten_timings_and_keep_only_webhooks(catalog: Catalog) -> None:
    bundle = build_alerting(catalog, AlertingOptions.quick("http://127.0.0.1:9999/hook"))
    am = bundle.alertmanager
    assert am["route"]["group_wait"] == "1s"
    assert all(set(r) == {"name", "webhook_configs"} for r in am["receivers"])
    assert am["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:9999/hook/city-center"
    assert "smtp_smarthost" not in am["global"] and "wechat_api_secret" not in am["global"]
    orange = next(r for r in alert_rules(bundle) if r["labels"].get("severity") == "orange")
    assert "for" not in orange and orange["keep_firing_for"] == "5s"


def test_no_secret_in_the_generated_files(bundle) -> None:
    am = yaml.safe_load(bundle.files[ALERTMANAGER_CONFIG])
    assert am["global"]["smtp_auth_password_file"].endswith("/smtp_password")
    assert am["global"]["wechat_api_secret"] == WECOM_SECRET_PLACEHOLDER
    assert not any(re.search(r"(password|secret|token)\s*:\s*(?!\$\{)[^\s/]", t, re.I) for t in bundle.files.values())


def test_render_fills_the_secret_from_the_environment(bundle, tmp_path: Path) -> None:
    rendered = render_config_dir(bundle, tmp_path, environ={"VITALS_WECOM_API_SECRET": "s3cr3t"})
    config = yaml.safe_load(rendered.alertmanager_config.read_text())
    assert config["global"]["wechat_api_secret"] == "s3cr3t"
    assert config["templates"] == [str(tmp_path / "alertmanager" / "templates" / "*.tmpl")]
    assert rendered.alertmanager_config.stat().st_mode & 0o777 == 0o600
    assert all(p.exists() for p in rendered.rule_files)
    with pytest.raises(ExportError, match="VITALS_WECOM_API_SECRET"):
        render_config_dir(bundle, tmp_path / "again", environ={})


def test_options_are_validated(catalog: Catalog) -> None:
    holds = dict(AlertingOptions().holds)
    holds["red"] = Hold("thirty seconds", "5m")
    with pytest.raises(ConfigError, match="red"):
        build_alerting(catalog, AlertingOptions(holds=holds))
    del holds["red"]
    with pytest.raises(ConfigError, match="missing"):
        build_alerting(catalog, AlertingOptions(holds=holds))
    with pytest.raises(ConfigError, match="channels"):
        build_alerting(catalog, AlertingOptions().with_receivers(channels=("pager",)))
    bad = dataclasses.replace(AlertingOptions().sensitivity, early_warning_level="purple")
    with pytest.raises(ConfigError, match="early_warning_level"):
        build_alerting(catalog, AlertingOptions(sensitivity=bad))


def test_write_removes_stale_generated_tests(bundle, tmp_path: Path) -> None:
    (tmp_path / RULE_TESTS_DIR).mkdir(parents=True)
    old = tmp_path / RULE_TESTS_DIR / "retired_family.test.yml"
    old.write_text("tests: []\n")
    bundle.write(tmp_path)
    assert not old.exists()
    assert (tmp_path / ALERTMANAGER_CONFIG).exists()
