"""The early-warning horizon and the forecast horizon labels follow the catalog's cadence, everywhere.

On the second city's 10-minute grid the horizons are 30m, 1h and 2h and the early warning looks 1 h ahead; on an
hourly grid 3h, 6h and 12h and 6 h. The exporter's labels, the alert rule (run by promtool and by a real
Prometheus on the exporter's own text), the wall's "predicted orange" query and the city backtest's early-warning
condition must agree on them; Chongqing keeps 15m, 30m, 1h and 30 min.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vitals_testing import SECOND_CITY, need_binary, serving_text

from vitals import metric_names as mn
from vitals.alerting import ALERT_RULES, CATALOG_RULES, RULE_TESTS_DIR, AlertingOptions, build_alerting
from vitals.alerting.names import INDICATOR_INFO
from vitals.alerting.options import Sensitivity, parse_duration
from vitals.alerting.tools import run_rule_tests
from vitals.backtest.city import _early_condition
from vitals.catalog import Catalog, load_catalog
from vitals.catalog.model import ORANGE
from vitals.errors import ConfigError
from vitals.exporter.render import VitalsRenderer
from vitals.exporter.testing import synthetic_view
from vitals.forecasting.cadence import catalog_cadence
from vitals.grafana import build_bundle
from vitals.grafana.queries import predicted_orange_soon
from vitals.services import prometheus_config, prometheus_query, running, start_prometheus, wait_for
from vitals.state.view import VitalsView
from vitals.units import duration_label, duration_words


def hourly_city(tmp_path: Path) -> Catalog:
    """The second city with every indicator hourly."""
    text = SECOND_CITY.read_text(encoding="utf-8").replace("cadence_s: 600", "cadence_s: 3600")
    path = tmp_path / "hourly_city.yaml"
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def test_labels_read_naturally() -> None:
    assert [duration_label(s) for s in (900, 1800, 3600, 7200, 10800, 43200, 86400, 3 * 86400, 5400, 90, 0)] == [
        "15m", "30m", "1h", "2h", "3h", "12h", "1d", "3d", "1h30m", "1m30s", "0s"]
    assert [duration_words(s) for s in (1800, 3600, 21600, 86400)] == ["30 min", "1 h", "6 h", "1 d"]
    assert [duration_words(s, "zh") for s in (1800, 3600, 21600)] == ["30分钟", "1小时", "6小时"]


@given(st.integers(min_value=0, max_value=400 * 86400))
def test_a_label_is_a_prometheus_duration_of_the_same_seconds(seconds: int) -> None:
    assert parse_duration(duration_label(seconds)) == seconds


def test_cadence_horizons(tmp_path: Path) -> None:
    shipped, second, hourly = (catalog_cadence(c) for c in (load_catalog(streets_total=76),
                                                            load_catalog(SECOND_CITY), hourly_city(tmp_path)))
    assert (shipped.horizon_labels, shipped.early_warning_horizon_s) == (("15m", "30m", "1h"), 1800)
    assert (second.horizon_labels, second.early_warning_horizon_s) == (("30m", "1h", "2h"), 3600)
    assert (hourly.horizon_labels, hourly.early_warning_horizon_s) == (("3h", "6h", "12h"), 21600)
    assert hourly.horizons_within(21600) == ("3h", "6h")


@pytest.mark.parametrize(("which", "label", "seconds", "within"), [
    ("second", "1h", 3600, "30m|1h"), ("hourly", "6h", 21600, "3h|6h")])
def test_generated_files_follow_the_cadence(which: str, label: str, seconds: int, within: str, tmp_path: Path) -> None:
    catalog = load_catalog(SECOND_CITY) if which == "second" else hourly_city(tmp_path)
    bundle = build_alerting(catalog)
    early = next(r for g in bundle.rule_groups[ALERT_RULES] for r in g["rules"]
                 if r.get("alert") == "VitalsEarlyWarning")
    assert f'{mn.FORECAST_LEVEL}{{horizon="{label}"}} >= 3' in early["expr"]
    assert f'{mn.SECONDS_TO_THRESHOLD}{{level="orange"}} <= {seconds})' in early["expr"]
    assert f"* 0 + {seconds // 60}\n" in early["expr"]
    assert f"forecast {label} " in bundle.templates and f"{duration_words(seconds, 'zh')}预测" in bundle.templates
    assert f'horizon="{label}"' in bundle.files[f"{RULE_TESTS_DIR}/early_warning.test.yml"]
    wall = next(text for path, text in build_bundle(catalog).files.items() if path.endswith("/city-wall.json"))
    assert f'horizon=~\\"{within}\\"' in wall and f"Predicted orange within {duration_words(seconds)}" in wall


def test_an_early_warning_horizon_that_is_no_forecast_horizon_is_refused() -> None:
    catalog = load_catalog(SECOND_CITY)
    with pytest.raises(ConfigError, match=r"1800 \(30m\), 3600 \(1h\), 7200 \(2h\)"):
        build_alerting(catalog, AlertingOptions(sensitivity=Sensitivity(early_warning_horizon_s=2400)))
    rule = build_alerting(catalog, AlertingOptions(sensitivity=Sensitivity(early_warning_horizon_s=7200)))
    assert 'horizon="2h"' in rule.files[ALERT_RULES]


@pytest.mark.integration
def test_second_city_rule_tests_pass_promtool(tmp_path: Path) -> None:
    """The generated unit tests of the early warning (both halves, at 1h) and of the recording rules pass."""
    need_binary("promtool")
    build_alerting(load_catalog(SECOND_CITY)).write(tmp_path)
    result = run_rule_tests([tmp_path / RULE_TESTS_DIR / name for name in ("early_warning.test.yml",
                                                                           "recording.test.yml")])
    assert result.ok, result.output


def _scene(catalog: Catalog) -> tuple[VitalsView, dict[str, int]]:
    """Every series normal with no forecast warning, except: ``forecast`` at orange at the early-warning horizon,
    ``later`` at orange only at the longest horizon (beyond it), ``soon`` crossing orange within it."""
    cadence = catalog_cadence(catalog)
    view = synthetic_view(catalog, seed=3)
    n = len(view)
    cols = view.columns
    cols["level"] = np.zeros(n)
    for label in cadence.horizon_labels:
        cols[f"forecast_level_{label}"] = np.zeros(n)
    for level in ("blue", "yellow", "orange", "red"):
        cols[f"seconds_to_{level}"] = np.full(n, np.nan)
    rows = {"forecast": 0, "later": 1, "soon": 2}
    cols[f"forecast_level_{duration_label(cadence.early_warning_horizon_s)}"][rows["forecast"]] = ORANGE
    cols[f"forecast_level_{cadence.horizon_labels[-1]}"][rows["later"]] = ORANGE
    cols["seconds_to_orange"][rows["soon"]] = cadence.early_warning_horizon_s / 2
    return view, {name: int(view.series[row]) for name, row in rows.items()}


@pytest.fixture
def second_city_metrics() -> Iterator[tuple[str, Catalog, VitalsView, dict[str, int]]]:
    """The exporter's own /metrics text of the scene, served over HTTP."""
    catalog = load_catalog(SECOND_CITY)
    view, marked = _scene(catalog)
    body = VitalsRenderer(catalog).render(view).text
    with serving_text(lambda: body) as url:
        yield url, catalog, view, marked


@pytest.mark.integration
def test_exporter_rule_dashboard_and_backtest_agree(second_city_metrics: tuple[str, Catalog, VitalsView,
                                                                                dict[str, int]],
                                                    tmp_path: Path) -> None:
    """A real Prometheus scrapes the exporter's text of the 10-minute city: the early-warning rule's expression
    finds the series forecast at orange at 1h and the one crossing within 1 h (not the one at orange only at 2h);
    the wall's query counts the forecast one; the backtest's early-warning condition marks the same series."""
    need_binary("prometheus")
    url, catalog, view, marked = second_city_metrics
    text = VitalsRenderer(catalog).render(view).text.decode()
    assert all(f'horizon="{h}"' in text for h in ("30m", "1h", "2h")) and 'horizon="60m"' not in text
    bundle = build_alerting(catalog, AlertingOptions(catalog_interval=None))
    early = next(r for g in bundle.rule_groups[ALERT_RULES] for r in g["rules"]
                 if r.get("alert") == "VitalsEarlyWarning")
    bundle.write(tmp_path / "alerting")
    config = prometheus_config([url], rule_files=[str(tmp_path / "alerting" / CATALOG_RULES)])  # what the rule joins
    with running(start_prometheus(config, tmp_path / "prometheus")) as prom:
        wait_for(lambda: prometheus_query(prom.url, f"{mn.FORECAST_LEVEL} * on (indicator) group_left "
                                                    f"{INDICATOR_INFO}"), 40, what="a scrape and the catalog rules")
        fired = prometheus_query(prom.url, early["expr"])
        wall = prometheus_query(prom.url, predicted_orange_soon(catalog))
    names = {(r["metric"]["indicator"], r["metric"]["street"]): float(r["value"][1]) for r in fired}

    def key(series: int) -> tuple[str, str]:
        ind, street = catalog.split_series_id(np.asarray([series]))
        return catalog.indicators[int(ind[0])].id, catalog.streets[int(street[0])].id

    assert names == {key(marked["forecast"]): 60.0, key(marked["soon"]): 30.0}
    assert [float(r["value"][1]) for r in wall] == [1.0]
    backtest = _early_condition(view.columns, view.columns["level"].astype(np.int8), catalog_cadence(catalog))
    assert {key(int(s)) for s in view.series[backtest]} == set(names)
