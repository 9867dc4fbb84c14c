"""Indicator detail (uid ``indicator-detail``; variables ``indicator``, ``district``, ``area`` = street): the value
with its expected band, the forecasts, the anomaly score and the level timeline of one series. Values are shown
in the unit people read (the catalog's ``display`` factor, applied in PromQL; Prometheus keeps base units).

The value series is named by its indicator id, and one field override per catalog indicator gives it its
name, unit and catalog thresholds, so the colours and threshold lines follow whichever indicator is chosen.
"""

from __future__ import annotations

from typing import TypeVar

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from vitals import metric_names as mn
from vitals.catalog.model import Catalog, Indicator
from vitals.grafana import panels as p
from vitals.grafana import queries as q
from vitals.grafana import widgets as wg
from vitals.grafana.district import district_variable

UID = "indicator-detail"
SERIES = f'{q.eq("indicator", "$indicator")},{q.eq("street", "$area")}'
# Families an export policy may keep per district instead of per street (expected band, forecast values, window
# statistics): the street's own series when exported per street, else its district's (no street label).
STREET_OR_DISTRICT = f'{q.eq("indicator", "$indicator")},{q.eq("district", "$district")},street=~"|$area"'
BAND = {"lower": p.title("预期下限", "expected lower"), "mid": p.title("预期值", "expected"),
        "upper": p.title("预期上限", "expected upper")}
PanelT = TypeVar("PanelT", stat.Panel, timeseries.Panel)


def _variables() -> list[Builder[dm.VariableModel]]:
    indicator = (dash.QueryVariable("indicator").label(p.title("指标", "Indicator")).datasource(p.DATASOURCE)
                 .query(f"label_values({mn.WARNING_LEVEL}, indicator)")
                 .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD).sort(dm.VariableSort.ALPHABETICAL_ASC))
    in_district = q.sel(mn.WARNING_LEVEL, q.eq("indicator", "$indicator"), q.eq("district", "$district"))
    area = (dash.QueryVariable("area").label(p.title("街道", "Area (street)")).datasource(p.DATASOURCE)
            .query(f"label_values({in_district}, street)")
            .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD).sort(dm.VariableSort.ALPHABETICAL_ASC))
    return [indicator, district_variable(), area]


def _indicator_props(ind: Indicator) -> dict[str, object]:
    props: dict[str, object] = {"displayName": f"{ind.name_zh} {ind.name_en}", "unit": p.grafana_unit(ind),
                                "description": p.thresholds_text(ind)}
    if ind.basis == "value":
        props["thresholds"] = p.steps_json(p.value_steps(ind))
        props["custom.thresholdsStyle"] = {"mode": "dashed"}
    return props


def with_indicator_overrides(panel: PanelT, catalog: Catalog) -> PanelT:
    """Name, unit and catalog thresholds of the value series, whichever indicator is selected."""
    for ind in catalog.indicators:
        panel = panel.override_by_name(ind.id, p.props(_indicator_props(ind)))
    return panel


def _value_query(catalog: Catalog, ref: str = "A") -> prometheus.Dataquery:
    return p.prom(q.shown_any(catalog, q.any_indicator_value(catalog, SERIES)), ref=ref, legend="{{indicator}}")


def _small_stat(title: str, expr: str, unit: str) -> stat.Panel:
    return (stat.Panel().title(title).datasource(p.DATASOURCE).height(5).span(4).unit(unit).no_value("-")
            .graph_mode(common.BigValueGraphMode.NONE).with_target(p.prom(expr, instant=True)))


def _headline(catalog: Catalog) -> list[Builder[dm.Panel]]:
    value = (stat.Panel().title(p.title("当前值", "Current value")).datasource(p.DATASOURCE).height(5).span(6)
             .with_target(_value_query(catalog)).color_mode(common.BigValueColorMode.BACKGROUND)
             .graph_mode(common.BigValueGraphMode.AREA))
    return [
        with_indicator_overrides(value, catalog),
        wg.level_stat(p.title("当前等级", "Current level"), [p.prom(f"max({q.sel(mn.WARNING_LEVEL, SERIES)})")],
                      h=5, w=6, names=True),
        _small_stat(p.title("异常分数", "Anomaly score"), f"max({q.sel(mn.ANOMALY_SCORE, SERIES)})", "percentunit"),
        _small_stat(p.title("距上次读数", "Since last reading"),
                    f"max({q.sel(mn.SECONDS_SINCE_LAST_READING, SERIES)})", "s"),
        _small_stat(p.title("距橙色阈值", "Time to orange"),
                    f"min({q.sel(mn.SECONDS_TO_THRESHOLD, SERIES, q.eq('level', 'orange'))})", "s"),
    ]


def _band_panel(catalog: Catalog) -> timeseries.Panel:
    queries = [_value_query(catalog)] + [
        p.prom(q.shown_any(catalog, q.sel(mn.EXPECTED_VALUE, STREET_OR_DISTRICT, q.eq("bound", bound))), ref=ref,
               legend=BAND[bound])
        for ref, bound in (("B", "lower"), ("C", "mid"), ("D", "upper"))]
    panel = wg.graph(p.title("数值与预期区间", "Value and expected band"), queries, h=10, w=24)
    grey = {"color": {"mode": "fixed", "fixedColor": "text"}, "custom.lineStyle": {"fill": "dash", "dash": [4, 4]}}
    panel = panel.override_by_name(BAND["upper"], p.props({**grey, "custom.fillBelowTo": BAND["lower"],
                                                             "custom.fillOpacity": 15}))
    panel = panel.override_by_name(BAND["lower"], p.props({**grey, "custom.fillOpacity": 0}))
    panel = panel.override_by_name(BAND["mid"], p.props({"color": {"mode": "fixed", "fixedColor": "text"}}))
    return with_indicator_overrides(panel, catalog)


def _forecast_panel(catalog: Catalog) -> timeseries.Panel:
    forecast = p.prom(q.shown_any(catalog, q.sel(mn.FORECAST_VALUE, STREET_OR_DISTRICT)), ref="B",
                      legend="预测 forecast {{horizon}}")
    panel = wg.graph(p.title("预测", "Forecast"), [_value_query(catalog), forecast], h=9, w=12)
    panel = panel.description("Each forecast is drawn at the time it was made; it is for that time plus its horizon.")
    return with_indicator_overrides(panel, catalog)


def _details(catalog: Catalog) -> list[Builder[dm.Panel]]:
    score = wg.graph(p.title("异常分数", "Anomaly score"),
                     [p.prom(q.sel(mn.ANOMALY_SCORE, SERIES), legend="score")], h=9, w=12).min(0).max(1)
    timeline = wg.level_timeline(
        p.title("等级时间线", "Level timeline"),
        [p.prom(q.sel(mn.WARNING_LEVEL, SERIES), legend="当前 current"),
         p.prom(q.sel(mn.FORECAST_LEVEL, SERIES), ref="B", legend="预测 forecast {{horizon}}")], h=7, w=24)
    windows = wg.records_table(
        p.title("窗口统计", "Window statistics"),
        [p.prom(q.shown_any(catalog, q.any_indicator_value(catalog, STREET_OR_DISTRICT, stat_matcher='stat!="last"')),
                instant=True, table=True)],
        h=9, w=12, rename={"Value": p.title("值", "Value")},
        hide=("Time", "__name__", "indicator", "district", "scope"))
    explain = wg.records_table(
        p.title("异常解释", "Explanations"),
        [p.prom(q.sel(mn.ANOMALY_EXPLANATION, SERIES), instant=True, table=True)],
        h=9, w=12, rename={}, hide=("Time", "__name__", "indicator", "district", "street", "scope", "Value"))
    return [_forecast_panel(catalog), score, timeline, windows, explain]


def build_indicator(catalog: Catalog) -> dash.Dashboard:
    board = (dash.Dashboard(p.title("指标详情", "Indicator detail")).uid(UID)
             .description("One series: value, expected band, forecasts, anomaly score and warning level.")
             .tags(["city-vitals", "indicator"]).refresh("30s").time("now-6h", "now").timezone("browser")
             .tooltip(dm.DashboardCursorSync.CROSSHAIR).variables(_variables())
             .link(p.link(p.title("城市总览", "City wall"), "/d/city-wall"))
             .link(p.link(p.title("区县详情", "District"), "/d/district")))
    for panel in [*_headline(catalog), _band_panel(catalog), *_details(catalog)]:
        board = board.with_panel(panel)
    return board
