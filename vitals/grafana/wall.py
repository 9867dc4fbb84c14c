"""The city wall (uid ``city-wall``): what the operations center sees at a glance on one 1920x1080 kiosk screen,
with no controls to touch and nothing below the fold.

Top: city health and level, districts and streets by level, predicted orange within the early-warning horizon
(30 minutes on the 5-minute grid; :mod:`vitals.forecasting.cadence`). Then the risk
map (an offline tile-grid cartogram of the districts, :mod:`vitals.grafana.cartogram`) next to one tile per
district sorted worst first, and the active and early warnings named in Chinese and English. Each indicator's
worst current value, the top anomalies and the warnings over time are on the second screen, ``city-domains``
(:mod:`vitals.grafana.domains`).

Screen arithmetic (Grafana 11 grid: 24 columns, a grid row is 30 px high plus 8 px between rows): a panel
``h`` rows tall takes ``38 h - 8`` px, so ``WALL_ROWS = 26`` rows take 980 px and leave 100 px of a 1080 px
screen for the kiosk page padding; 24 columns share 1920 px (80 px each, less the 8 px gaps).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as dm

from vitals.catalog.model import LEVEL_NAMES, LEVEL_NAMES_ZH, Catalog, Indicator
from vitals.forecasting.cadence import catalog_cadence
from vitals.grafana import panels as p
from vitals.grafana import queries as q
from vitals.grafana import widgets as wg
from vitals.grafana.cartogram import risk_map
from vitals.units import duration_words

UID = "city-wall"
DOMAINS_UID = "city-domains"
DISTRICT_LINK = "/d/district?var-district=${__field.labels.district}"
INDICATOR_LINK = "/d/indicator-detail?var-indicator=${__data.fields.indicator}&var-area=${__data.fields.street}"
SCREEN_PX = (1920, 1080)
ROW_PX, ROW_GAP_PX = 30, 8
WALL_ROWS = 26  # 38 * 26 - 8 = 980 px <= 1080 px less the kiosk padding


def rows_px(rows: int) -> int:
    """Height in pixels of ``rows`` grid rows (Grafana 11: 30 px per row, 8 px between rows)."""
    return rows * ROW_PX + (rows - 1) * ROW_GAP_PX


def _level_counts(title: str, scope: str, w: int) -> Builder[dm.Panel]:
    counts = [p.prom(q.areas_at_level(scope, lvl), ref=chr(ord("A") + lvl - 1),
                     legend=f"{LEVEL_NAMES_ZH[lvl]} {name.capitalize()}", instant=True)
              for lvl, name in enumerate(LEVEL_NAMES) if lvl > 0]
    return wg.count_stat(title, counts, p.LEVEL_COLOUR_LIST[1:], h=4, w=w)


def _headline(catalog: Catalog) -> list[Builder[dm.Panel]]:
    within = catalog_cadence(catalog).early_warning_horizon_s
    return [
        wg.health_stat(p.title("城市健康指数", "City health"), [p.prom(q.area_health("city"))], h=4, w=4),
        wg.level_stat(p.title("城市预警等级", "City warning level"), [p.prom(q.area_level("city"))], h=4, w=3,
                      names=False),
        _level_counts(p.title("各级预警区县数", "Districts by warning level"), "district", 6),
        _level_counts(p.title("各级预警街道数", "Streets by warning level"), "street", 6),
        wg.count_stat(p.title(f"{duration_words(within, 'zh')}内将达橙色",
                              f"Predicted orange within {duration_words(within)}"),
                      [p.prom(q.predicted_orange_soon(catalog), legend="预测 Forecast", instant=True)], ["orange"], h=4,
                      w=5),
    ]


def _district_tiles(catalog: Catalog) -> Builder[dm.Panel]:
    panel = wg.level_stat(p.title("各区县预警等级(由重到轻)", "District warning levels (worst first)"),
                          [p.prom(f"sort_desc({q.area_level('district', by='district')})", legend="{{district}}",
                                  instant=True)],
                          h=13, w=12, names=True)
    panel = panel.data_links([dash.DashboardLink(p.title("区县详情", "District detail")).url(DISTRICT_LINK)])
    for d in catalog.districts:
        panel = panel.override_by_name(d.id, p.props({"displayName": f"{d.name_zh} {d.name_en}"}))
    return panel


def _warnings() -> list[Builder[dm.Panel]]:
    level_col = p.title("等级", "Level")
    active = wg.records_table(p.title("当前预警", "Active warnings"),
                              [p.prom(q.active_warnings(), instant=True, table=True)],
                              h=9, w=12, rename={"Value": level_col}, names=True)
    active = wg.sorted_by(wg.level_column(active, level_col), level_col)
    predicted_col, eta_col = p.title("预测等级", "Predicted level"), p.title("距橙色", "Time to orange")
    early = wg.records_table(
        p.title("提前预警", "Early warnings"),
        [p.prom(q.early_warnings(names=True), instant=True, table=True),
         p.prom(q.seconds_to_orange_of_early_warnings(), ref="B", instant=True, table=True)],
        h=9, w=12, rename={"Value #A": predicted_col, "Value #B": eta_col}, names=True)
    early = wg.sorted_by(wg.level_column(early, predicted_col), predicted_col).override_by_name(
        eta_col, p.props({"unit": "s"}))
    return [active, early]


def anomalies_and_trend() -> list[Builder[dm.Panel]]:
    """Top anomalies (named, linked to the indicator detail) and the warnings over time by level."""
    score_col = p.title("异常分数", "Anomaly score")
    anomalies = wg.records_table(p.title("异常前十", "Top anomalies"),
                                 [p.prom(q.top_anomalies_named(), instant=True, table=True)],
                                 h=8, w=12, rename={"Value": score_col}, names=True)
    anomalies = wg.sorted_by(wg.gauge_column(anomalies, score_col, 0, 1), score_col)
    anomalies = anomalies.data_links([dash.DashboardLink(p.title("指标详情", "Indicator detail")).url(INDICATOR_LINK)])
    trend = wg.graph(p.title("预警序列数趋势", "Warnings over time"),
                     [p.prom(q.count_at_level(lvl), ref=chr(ord("A") + lvl - 1),
                             legend=f"{LEVEL_NAMES_ZH[lvl]} {LEVEL_NAMES[lvl]}") for lvl in range(1, 5)],
                     h=8, w=12, stacked=True)
    for lvl in range(1, 5):
        trend = trend.override_by_name(f"{LEVEL_NAMES_ZH[lvl]} {LEVEL_NAMES[lvl]}", p.props(
            {"color": {"mode": "fixed", "fixedColor": p.LEVEL_COLOUR_LIST[lvl]}}))
    return [anomalies, trend]


def indicator_panel(ind: Indicator, w: int) -> Builder[dm.Panel]:
    """The city's worst current value of one indicator (in the unit people read), or its worst level for the
    seasonal z-score indicators (their thresholds apply to a z-score, not to the value)."""
    if ind.basis == "zscore":
        panel = wg.level_stat(p.title(f"{ind.name_zh} 最高等级", f"{ind.name_en}: worst level"),
                              [p.prom(q.worst_level(q.eq("indicator", ind.id)), legend=ind.id)], h=4, w=w,
                              names=True)
        return panel.description(p.thresholds_text(ind))
    suffix = ("最大偏差", ": largest deviation") if ind.bad == "both" else ("最差值", ": worst value")
    return wg.value_stat(ind, q.worst_value(ind), h=4, w=w, title_suffix=(f" {suffix[0]}", suffix[1]))


def build_wall(catalog: Catalog) -> dash.Dashboard:
    board = (dash.Dashboard(p.title("城市运行生命体征", "City vitals wall")).uid(UID)
             .description("Kiosk view of the city on one 1920x1080 screen: open /d/city-wall?kiosk on the wall; "
                          "the second screen is /d/city-domains?kiosk.")
             .tags(["city-vitals", "wall"]).refresh("10s").time("now-1h", "now").timezone("browser").readonly()
             .tooltip(dm.DashboardCursorSync.CROSSHAIR).timepicker(dash.TimePicker().hidden(True))
             .link(p.link(p.title("分领域体征", "By domain"), f"/d/{DOMAINS_UID}"))
             .link(p.link(p.title("区县详情", "District"), "/d/district"))
             .link(p.link(p.title("指标详情", "Indicator"), "/d/indicator-detail"))
             .link(p.link(p.title("管道健康", "Pipeline"), "/d/pipeline-health")))
    panels = [*_headline(catalog), risk_map(catalog, h=13, w=12, link=DISTRICT_LINK), _district_tiles(catalog),
              *_warnings()]
    for panel in panels:
        board = board.with_panel(panel)
    return board
