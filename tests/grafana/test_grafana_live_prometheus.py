"""Every panel query returns data from a real Prometheus scraping an exposition that follows the metric contract.

The exposition is written here from ``vitals.metric_names`` and the catalog (not by the exporter: this checks
the dashboards' PromQL, joins and filters against the documented names and labels). District-scope families
(expected band, forecast values, window statistics) carry no street label, as the exporter's default export
policy has them; the indicator detail must find them anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from grafana_testlib import SAMPLE_VALUES, default_bundle
from vitals_testing import need_binary, serving_text

from vitals import metric_names as mn
from vitals.catalog import Catalog, load_catalog
from vitals.forecasting.cadence import catalog_cadence
from vitals.grafana import all_panel_queries, expand_variables
from vitals.services import prometheus_config, prometheus_query, running, start_prometheus, wait_for

SERIES = 'indicator="water_pressure",domain="water",district="yuzhong",street="yuzhong_s001"'
PLACE = 'indicator="water_pressure",district="yuzhong",street="yuzhong_s001"'


def _areas(catalog: Catalog) -> list[str]:
    lines = ['vitals_health_index{scope="city"} 93', 'vitals_area_warning_level{scope="city"} 1']
    for i, d in enumerate(catalog.districts):
        level = 1 if d.id == "yuzhong" else i % 2
        lines += [f'{mn.HEALTH_INDEX}{{scope="district",district="{d.id}"}} {90 - i % 7}',
                  f'{mn.AREA_WARNING_LEVEL}{{scope="district",district="{d.id}"}} {level}']
    for s in catalog.streets_of("yuzhong")[:3]:
        lines += [f'{mn.HEALTH_INDEX}{{scope="street",district="yuzhong",street="{s.id}"}} 88',
                  f'{mn.AREA_WARNING_LEVEL}{{scope="street",district="yuzhong",street="{s.id}"}} 1',
                  f'{mn.AREA_INFO}{{scope="street",district="yuzhong",street="{s.id}",name_zh="{s.name_zh}",'
                  f'name_en="{s.name_en}",lat="{s.lat!r}",lon="{s.lon!r}"}} 1']
    lines += [f'{mn.INDICATOR_INFO}{{indicator="{i.id}",domain="{i.domain}",name_zh="{i.name_zh}",'
              f'name_en="{i.name_en}",unit="{i.unit}",metric="{i.metric}",bad="{i.bad}",basis="{i.basis}"}} 1'
              for i in catalog.indicators]
    return lines


def _series(catalog: Catalog) -> list[str]:
    lines = []
    for ind in catalog.indicators:
        labels = f'indicator="{ind.id}",district="yuzhong",street="yuzhong_s001",scope="street"'
        value = 0.19 if ind.id == "water_pressure" else ind.seasonality.base
        lines += [f'{ind.metric}{{{labels},stat="last",window="now"}} {value}',
                  f'{ind.metric}{{indicator="{ind.id}",district="yuzhong",scope="district",stat="mean",window="5m"}} '
                  f"{ind.seasonality.base}",
                  f'{mn.WARNING_LEVEL}{{{labels},domain="{ind.domain}"}} {1 if ind.id == "water_pressure" else 0}']
    soon = catalog_cadence(catalog).horizon_labels[1]
    lines += [f"{mn.ANOMALY_SCORE}{{{PLACE}}} 0.8", f"{mn.SECONDS_SINCE_LAST_READING}{{{PLACE}}} 42",
              f'{mn.SECONDS_TO_THRESHOLD}{{{PLACE},level="orange"}} 900',
              f'{mn.FORECAST_LEVEL}{{{PLACE},horizon="{soon}"}} 3', f'{mn.SENSOR_STUCK}{{{PLACE}}} 1',
              f'{mn.ANOMALY_EXPLANATION}{{{PLACE},detector="seasonal",feature="residual"}} 1',
              f'{mn.DROPOUT_RATIO}{{indicator="water_pressure",district="yuzhong"}} 0.05']
    district = 'indicator="water_pressure",district="yuzhong",scope="district"'
    lines += [f'{mn.EXPECTED_VALUE}{{{district},bound="{b}"}} {v}' for b, v in (("lower", .2), ("mid", .3),
                                                                             ("upper", .4))]
    lines += [f'{mn.FORECAST_VALUE}{{{district},horizon="{h}"}} 0.15' for h in catalog_cadence(catalog).horizon_labels]
    return lines


def _pipeline(tick: int) -> list[str]:
    lines = [f"{mn.UP} 1", f'{mn.READINGS}{{worker="0"}} {1000 * tick}', f'{mn.LAG}{{worker="0"}} 1.5',
             f'{mn.STATE_SERIES}{{worker="0"}} 28868', f'{mn.STATE_BYTES}{{worker="0"}} 1.2e7',
             f'{mn.WATERMARK}{{partition="0"}} 1.7e9', f'{mn.LAST_EVENT}{{worker="0"}} 1.7e9',
             f'{mn.READINGS_REJECTED}{{reason="malformed"}} {tick}', f"{mn.READINGS_LATE} {tick}",
             f"{mn.READINGS_DUPLICATE} {tick}", f'{mn.MODEL_INFO}{{family="water",version="v3"}} 1',
             f'{mn.PLANNED_WORKS_ACTIVE}{{works="main-2291",district="yuzhong"}} 1']
    for le, count in (("0.01", tick), ("0.1", 2 * tick), ("+Inf", 2 * tick)):
        lines.append(f'{mn.BATCH_SECONDS}_bucket{{le="{le}"}} {count}')
    lines += [f"{mn.BATCH_SECONDS}_sum {0.05 * tick}", f"{mn.BATCH_SECONDS}_count {2 * tick}"]
    return lines


def exposition(catalog: Catalog, tick: int) -> str:
    return "\n".join([*_areas(catalog), *_series(catalog), *_pipeline(tick)]) + "\n"


@pytest.fixture
def metrics_url() -> Iterator[str]:
    catalog = load_catalog()
    ticks = iter(range(1, 10**9))
    with serving_text(lambda: exposition(catalog, next(ticks)).encode()) as url:
        yield url


@pytest.mark.integration
def test_every_panel_query_returns_data(metrics_url: str, tmp_path: Path) -> None:
    need_binary("prometheus")
    queries = [(uid, title, expand_variables(expr, SAMPLE_VALUES))
               for uid, title, expr in all_panel_queries(default_bundle().dashboards)]
    with running(start_prometheus(prometheus_config([metrics_url]), tmp_path / "prometheus")) as prom:
        def empty() -> list[str]:
            return [f"{uid}: {title}: {expr[:90]}" for uid, title, expr in queries
                    if not prometheus_query(prom.url, expr)]

        wait_for(lambda: prometheus_query(prom.url, f"rate({mn.READINGS}[1m]) > 0"), 40, what="two scrapes")
        missing = empty()
        assert missing == [], "panel queries without data:\n" + "\n".join(missing)
        risk_map = next(expr for uid, title, expr in queries if "Risk map" in title)
        rows = prometheus_query(prom.url, risk_map)
        catalog = load_catalog()
        assert {r["metric"]["district"] for r in rows} == {d.id for d in catalog.districts}  # one tile each
        yuzhong = next(r for r in rows if r["metric"]["district"] == "yuzhong")
        assert yuzhong["value"][1] == "1"
        _check_names_and_street_map(prom.url, queries, catalog)


def _check_names_and_street_map(url: str, queries: list[tuple[str, str, str]], catalog: Catalog) -> None:
    """Tables name places and indicators in Chinese and English; the drill-down map has the streets' centroids."""
    active = next(expr for uid, title, expr in queries if uid == "city-wall" and "Active warnings" in title)
    rows = prometheus_query(url, active)
    assert [(r["metric"]["place"], r["metric"]["indicator_name"]) for r in rows] == [
        ("渝中区第1街道 Yuzhong Street 1", "供水管网压力 Water network pressure")]
    streets = next(expr for uid, title, expr in queries if uid == "district" and "(map)" in title)
    found = {r["metric"]["street"]: (float(r["metric"]["lat"]), float(r["metric"]["lon"]), r["metric"]["name"])
             for r in prometheus_query(url, streets)}
    assert found == {s.id: (s.lat, s.lon, f"{s.name_zh} {s.name_en}") for s in catalog.streets_of("yuzhong")[:3]}
    shown = next(expr for uid, title, expr in queries if uid == "city-domains" and "PM2.5" in title)
    assert float(prometheus_query(url, shown)[0]["value"][1]) == pytest.approx(
        catalog.indicator("pm25").seasonality.base * 1e6)
