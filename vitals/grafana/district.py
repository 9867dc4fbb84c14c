"""District drill-down (uid ``district``, variable ``district``): the district's health and level, its streets
as points on an offline map and by health and level, which indicators are at warning, its active warnings
and anomalies (named in Chinese and English), and its planned works (``--planned-works``: in progress or to
come)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as geomap_model

from vitals import metric_names as mn
from vitals.catalog.model import Catalog
from vitals.grafana import panels as p
from vitals.grafana import queries as q
from vitals.grafana import widgets as wg

UID = "district"
IN_DISTRICT = q.eq("district", "$district")
OFFLINE_BASE_GEOJSON = "public/maps/countries.geojson"  # shipped inside every Grafana 11
STREET_LINK = "/d/indicator-detail?var-district=$district&var-area=${__field.labels.street}"


def district_variable(label: str = p.title("区县", "District")) -> dash.QueryVariable:
    query = f'label_values({q.sel(mn.AREA_WARNING_LEVEL, q.eq("scope", "district"))}, district)'
    return (dash.QueryVariable("district").label(label).datasource(p.DATASOURCE).query(query)
            .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD).sort(dm.VariableSort.ALPHABETICAL_ASC))


def _headline() -> list[Builder[dm.Panel]]:
    streets_at_warning = (f"count({q.area_level('street', by='street', extra=IN_DISTRICT)} >= 1) or vector(0)")
    warnings = f"count({q.sel(mn.WARNING_LEVEL, IN_DISTRICT)} >= 1) or vector(0)"
    return [
        wg.health_stat(p.title("区县健康指数", "District health"),
                       [p.prom(q.area_health("district", extra=IN_DISTRICT))], h=5, w=6),
        wg.level_stat(p.title("区县预警等级", "District warning level"),
                      [p.prom(q.area_level("district", extra=IN_DISTRICT))], h=5, w=6, names=True),
        wg.count_stat(p.title("预警街道数", "Streets at warning"),
                      [p.prom(streets_at_warning, legend="街道 Streets", instant=True)], ["orange"], h=5, w=6),
        wg.count_stat(p.title("预警序列数", "Series at warning"),
                      [p.prom(warnings, legend="序列 Series", instant=True)], ["orange"], h=5, w=6),
    ]


def street_map() -> geomap.Panel:
    """The district's streets as points at their centroids (from ``vitals_area_info``), coloured by level.

    The base layer is Grafana's own bundled world outline (``public/maps/countries.geojson``, served by Grafana
    itself): no tile server is needed, so the map draws on an isolated network (a plain background with the
    points, named in Chinese and English)."""
    base = (cb.MapLayerOptions().type("geojson").name("offline base")
            .config({"src": OFFLINE_BASE_GEOJSON, "rules": [],
                     "style": {"color": {"fixed": "#404040"}, "opacity": 0.2}}))
    markers = (cb.MapLayerOptions().type("markers").name("streets")
               .location(cb.FrameGeometrySource().mode(common.FrameGeometrySourceMode.COORDS)
                         .latitude("lat").longitude("lon"))
               .config({"showLegend": True, "style": {
                   "color": {"field": "Value", "fixed": "green"}, "opacity": 0.9,
                   "size": {"fixed": 10, "min": 6, "max": 14},
                   "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                   "text": {"mode": "field", "field": "name", "fixed": ""},
                   "textConfig": {"fontSize": 10, "offsetY": -12, "textAlign": "center", "textBaseline": "bottom"},
               }}))
    conversions = [{"targetField": f, "destinationType": "number"} for f in ("lat", "lon")]
    return (geomap.Panel().title(p.title("街道分布与等级", "Streets by warning level (map)"))
            .datasource(p.DATASOURCE).height(12).span(12)
            .with_target(p.prom(q.street_levels_on_map(IN_DISTRICT), instant=True, table=True))
            .with_transformation(dm.DataTransformerConfig(id_val="convertFieldType",
                                                          options={"conversions": conversions, "fields": {}}))
            .thresholds(p.thresholds(p.level_steps())).mappings(p.level_mappings())
            .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .view(geomap.MapViewConfig().id("fit").all_layers(False).last_only(False).layer("streets").padding(10))
            .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(False).show_attribution(False))
            .basemap(base).layers([markers]).tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS)))


def _streets() -> list[Builder[dm.Panel]]:
    street_levels = q.area_level("street", by="street", extra=IN_DISTRICT)
    tiles = wg.level_stat(p.title("街道预警等级", "Streets by warning level"),
                          [p.prom(street_levels, legend="{{street}}", instant=True)], h=12, w=12, names=True)
    tiles = tiles.data_links([dash.DashboardLink(p.title("街道指标", "Street indicators")).url(STREET_LINK)])
    health = q.area_health("street", by="street", extra=IN_DISTRICT)
    return [
        street_map(),
        tiles,
        wg.health_bars(p.title("街道健康指数(由低到高)", "Streets by health (worst first)"),
                       [p.prom(f"sort({health})", legend="{{street}}", instant=True)], h=14, w=12),
        wg.graph(p.title("健康指数趋势", "Health over time"),
                 [p.prom(q.area_health("district", extra=IN_DISTRICT), legend="$district"),
                  p.prom(f"bottomk(5, {health})", ref="B", legend="{{street}}")], h=14, w=12),
        wg.level_timeline(p.title("街道等级时间线", "Street levels over time"),
                          [p.prom(street_levels, legend="{{street}}")], h=12, w=24),
        wg.level_timeline(p.title("指标等级时间线", "Indicator levels over time"),
                          [p.prom(f"max by (indicator) ({q.sel(mn.WARNING_LEVEL, IN_DISTRICT)})",
                                  legend="{{indicator}}")], h=12, w=24),
    ]


def _tables() -> list[Builder[dm.Panel]]:
    level_col, score_col = p.title("等级", "Level"), p.title("异常分数", "Anomaly score")
    active = wg.records_table(p.title("本区当前预警", "Active warnings in the district"),
                              [p.prom(q.active_warnings(IN_DISTRICT), instant=True, table=True)],
                              h=10, w=12, rename={"Value": level_col}, names=True)
    anomalies = wg.records_table(p.title("本区异常前十", "Top anomalies in the district"),
                                 [p.prom(q.top_anomalies_named(IN_DISTRICT), instant=True, table=True)],
                                 h=10, w=12, rename={"Value": score_col}, names=True)
    works_col = p.title("进行中", "In progress")
    works = wg.records_table(p.title("本区计划施工(其读数不训练异常检测)",
                                     "Planned works in the district (the detector does not learn their readings)"),
                             [p.prom(q.sel(mn.PLANNED_WORKS_ACTIVE, IN_DISTRICT), instant=True, table=True)],
                             h=6, w=24, rename={"Value": works_col, "works": p.title("施工", "Works")},
                             hide=["district"])
    return [wg.sorted_by(wg.level_column(active, level_col), level_col),
            wg.sorted_by(wg.gauge_column(anomalies, score_col, 0, 1), score_col),
            wg.sorted_by(works, works_col)]


def build_district(catalog: Catalog) -> dash.Dashboard:
    """The drill-down; ``catalog`` names the districts in the description (the variable lists live ones)."""
    board = (dash.Dashboard(p.title("区县详情", "District drill-down")).uid(UID)
             .description(f"One of {len(catalog.districts)} districts: streets by health and level.")
             .tags(["city-vitals", "district"]).refresh("30s").time("now-6h", "now").timezone("browser")
             .tooltip(dm.DashboardCursorSync.CROSSHAIR).with_variable(district_variable())
             .link(p.link(p.title("城市总览", "City wall"), "/d/city-wall")))
    for panel in [*_headline(), *_streets(), *_tables()]:
        board = board.with_panel(panel)
    return board
