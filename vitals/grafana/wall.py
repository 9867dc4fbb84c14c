"""The city wall (uid ``city-wall``): what the operations center sees at a glance, with no controls to touch.

Top: city health and level, series by level, predicted orange within 30 minutes. Then a map of the districts
by level next to one tile per district, the active and early warnings, the top anomalies, and one row per
domain (water, power, gas, telecom, roads, bridges, tunnels, rail first, then the rest of the catalog) with
each indicator's worst current value coloured by its catalog thresholds.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as geomap_model

from vitals.catalog.model import LEVEL_NAMES, LEVEL_NAMES_ZH, Catalog, Indicator
from vitals.grafana import panels as p
from vitals.grafana import queries as q
from vitals.grafana import widgets as wg

UID = "city-wall"
DISTRICT_LINK = "/d/district?var-district=${__field.labels.district}"
INDICATOR_LINK = "/d/indicator-detail?var-indicator=${__data.fields.indicator}&var-area=${__data.fields.street}"


def _headline() -> list[Builder[dm.Panel]]:
    levels = [p.prom(q.count_at_level(lvl), ref=chr(ord("A") + lvl - 1), legend=f"{LEVEL_NAMES_ZH[lvl]} {name}",
                     instant=True)
              for lvl, name in enumerate(LEVEL_NAMES) if lvl > 0]
    return [
        wg.health_stat(p.title("城市健康指数", "City health"), [p.prom(q.area_health("city"))], h=4, w=4),
        wg.level_stat(p.title("城市预警等级", "City warning level"), [p.prom(q.area_level("city"))], h=4, w=4,
                      names=False),
        wg.count_stat(p.title("各级预警序列数", "Series at each warning level"), levels,
                      p.LEVEL_COLOUR_LIST[1:], h=4, w=10),
        wg.count_stat(p.title("30分钟内将达橙色", "Predicted orange within 30 min"),
                      [p.prom(q.predicted_orange_soon(), legend="预测 Forecast", instant=True)], ["orange"], h=4, w=6),
    ]


def _district_map(catalog: Catalog) -> geomap.Panel:
    markers = (cb.MapLayerOptions().type("markers").name("districts")
               .location(cb.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                         .latitude("lat").longitude("lon"))
               .config({"showLegend": True, "style": {
                   "color": {"field": "Value", "fixed": "green"}, "opacity": 0.85,
                   "size": {"fixed": 12, "min": 8, "max": 16},
                   "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                   "text": {"mode": "field", "field": "name", "fixed": ""},
                   "textConfig": {"fontSize": 11, "offsetY": -14, "textAlign": "center", "textBaseline": "bottom"},
               }}))
    conversions = [{"targetField": f, "destinationType": "number"} for f in ("lat", "lon")]
    return (geomap.Panel().title(p.title("各区预警地图", "Districts by warning level")).datasource(p.DATASOURCE)
            .height(12).span(10)
            .with_target(p.prom(q.district_levels_on_map(catalog), instant=True, table=True))
            .with_transformation(dm.DataTransformerConfig(id_val="convertFieldType",
                                                          options={"conversions": conversions, "fields": {}}))
            .thresholds(p.thresholds(p.level_steps())).mappings(p.level_mappings())
            .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .view(geomap.MapViewConfig().id("fit").zoom(7).all_layers(True).padding(5))
            .controls(geomap.ControlsOptions().show_zoom(False).mouse_wheel_zoom(False).show_attribution(True))
            .basemap(cb.MapLayerOptions().type("default").name("basemap"))
            .layers([markers]).tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS)))


def _district_tiles(catalog: Catalog) -> Builder[dm.Panel]:
    panel = wg.level_stat(p.title("各区县预警等级", "District warning levels"),
                          [p.prom(q.area_level("district", by="district"), legend="{{district}}", instant=True)],
                          h=12, w=14, names=True)
    panel = panel.data_links([dash.DashboardLink(p.title("区县详情", "District detail")).url(DISTRICT_LINK)])
    for d in catalog.districts:
        panel = panel.override_by_name(d.id, p.props({"displayName": f"{d.name_zh} {d.name_en}"}))
    return panel


def _warnings() -> list[Builder[dm.Panel]]:
    level_col = p.title("等级", "Level")
    active = wg.records_table(p.title("当前预警", "Active warnings"), [p.prom(q.active_warnings(), instant=True,
                                                                        table=True)],
                              h=8, w=12, rename={"Value": level_col})
    active = wg.sorted_by(wg.level_column(active, level_col), level_col)
    predicted_col, eta_col = p.title("预测等级", "Predicted level"), p.title("距橙色秒数", "Seconds to orange")
    early = wg.records_table(
        p.title("提前预警", "Early warnings"),
        [p.prom(q.early_warnings(), instant=True, table=True),
         p.prom(q.seconds_to_orange_of_early_warnings(), ref="B", instant=True, table=True)],
        h=8, w=12, rename={"Value #A": predicted_col, "Value #B": eta_col})
    early = wg.sorted_by(wg.level_column(early, predicted_col), predicted_col).override_by_name(
        eta_col, p.props({"unit": "s"}))
    score_col = p.title("异常分数", "Anomaly score")
    anomalies = wg.records_table(p.title("异常前十", "Top anomalies"),
                                 [p.prom(q.top_anomalies(), instant=True, table=True)],
                                 h=8, w=12, rename={"Value": score_col})
    anomalies = wg.sorted_by(wg.gauge_column(anomalies, score_col, 0, 1), score_col)
    anomalies = anomalies.data_links([dash.DashboardLink(p.title("指标详情", "Indicator detail")).url(INDICATOR_LINK)])
    trend = wg.graph(p.title("预警序列数趋势", "Warnings over time"),
                     [p.prom(q.count_at_level(lvl), ref=chr(ord("A") + lvl - 1),
                             legend=f"{LEVEL_NAMES_ZH[lvl]} {LEVEL_NAMES[lvl]}") for lvl in range(1, 5)],
                     h=8, w=12, stacked=True)
    for lvl in range(1, 5):
        trend = trend.override_by_name(f"{LEVEL_NAMES_ZH[lvl]} {LEVEL_NAMES[lvl]}", p.props(
            {"color": {"mode": "fixed", "fixedColor": p.LEVEL_COLOUR_LIST[lvl]}}))
    return [active, early, anomalies, trend]


def _indicator_panel(ind: Indicator, w: int) -> Builder[dm.Panel]:
    if ind.basis == "zscore":
        panel = wg.level_stat(p.title(f"{ind.name_zh} 最高等级", f"{ind.name_en}: worst level"),
                              [p.prom(q.worst_level(q.eq("indicator", ind.id)), legend=ind.id)], h=4, w=w,
                              names=True)
        return panel.description(p.thresholds_text(ind))
    suffix = ("最大偏差", ": largest deviation") if ind.bad == "both" else ("最差值", ": worst value")
    return wg.value_stat(ind, q.worst_value(ind), h=4, w=w, title_suffix=(f" {suffix[0]}", suffix[1]))


def domain_order(catalog: Catalog) -> list[str]:
    present = catalog.domain_names
    return [d for d in p.WALL_DOMAIN_ORDER if d in present] + [d for d in present if d not in p.WALL_DOMAIN_ORDER]


def build_wall(catalog: Catalog) -> dash.Dashboard:
    board = (dash.Dashboard(p.title("城市运行生命体征", "City vitals wall")).uid(UID)
             .description("Kiosk view of the city: open /d/city-wall?kiosk on the wall screen.")
             .tags(["city-vitals", "wall"]).refresh("10s").time("now-1h", "now").timezone("browser").readonly()
             .tooltip(dm.DashboardCursorSync.CROSSHAIR).timepicker(dash.TimePicker().hidden(True))
             .link(p.link(p.title("区县详情", "District"), "/d/district"))
             .link(p.link(p.title("指标详情", "Indicator"), "/d/indicator-detail"))
             .link(p.link(p.title("管道健康", "Pipeline"), "/d/pipeline-health")))
    for panel in [*_headline(), _district_map(catalog), _district_tiles(catalog), *_warnings()]:
        board = board.with_panel(panel)
    for domain in domain_order(catalog):
        indicators = [i for i in catalog.indicators if i.domain == domain]
        board = board.with_row(dash.Row(p.domain_title(domain)))
        width = max(4, min(8, 24 // len(indicators)))
        for ind in indicators:
            board = board.with_panel(_indicator_panel(ind, width))
    return board

