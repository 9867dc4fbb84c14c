"""Panel factories: the few kinds of panel the dashboards are made of, each coloured from the catalog."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from vitals.catalog.model import Indicator
from vitals.grafana import panels as p

LAST_NOT_NULL = ["lastNotNull"]


def _reduce() -> cb.ReduceDataOptions:
    return cb.ReduceDataOptions().calcs(LAST_NOT_NULL).values(False)


def _stat(title: str, queries: Sequence[prometheus.Dataquery], h: int, w: int) -> stat.Panel:
    panel = stat.Panel().title(title).datasource(p.DATASOURCE).height(h).span(w).reduce_options(_reduce())
    for q in queries:
        panel = panel.with_target(q)
    return panel


def level_stat(
    title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int, names: bool = False,
) -> stat.Panel:
    """Tiles coloured by warning level (0 green .. 4 red), the level's name as text."""
    mode = common.BigValueTextMode.VALUE_AND_NAME if names else common.BigValueTextMode.VALUE
    return (_stat(title, queries, h, w).thresholds(p.thresholds(p.level_steps())).mappings(p.level_mappings())
            .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
            .text_mode(mode).min(0).max(4).decimals(0))


def health_stat(title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int) -> stat.Panel:
    return (_stat(title, queries, h, w).thresholds(p.thresholds(p.health_steps())).unit("none").min(0).max(100)
            .decimals(0).color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.AREA))


def count_stat(
    title: str, queries: Sequence[prometheus.Dataquery], colours: Sequence[str], *, h: int, w: int,
) -> stat.Panel:
    """Counts, one tile per query, each in a fixed colour (queries must carry a legend)."""
    panel = (_stat(title, queries, h, w).decimals(0).color_mode(common.BigValueColorMode.BACKGROUND)
             .graph_mode(common.BigValueGraphMode.NONE).text_mode(common.BigValueTextMode.VALUE_AND_NAME)
             .thresholds(p.thresholds([dm.Threshold(value=None, color="text")])))
    for q, colour in zip(queries, colours, strict=True):
        legend = q.build().legend_format or ""
        panel = panel.override_by_name(legend, p.props({"color": {"mode": "fixed", "fixedColor": colour}}))
    return panel


def value_stat(ind: Indicator, expr: str, *, h: int, w: int, title_suffix: tuple[str, str]) -> stat.Panel:
    """An indicator's value coloured by its catalog thresholds (``basis=value`` indicators)."""
    steps = p.deviation_steps(ind) if ind.bad == "both" else p.value_steps(ind)
    zh, en = title_suffix
    return (_stat(p.title(f"{ind.name_zh}{zh}", f"{ind.name_en}{en}"), [p.prom(expr, legend=ind.id)], h, w)
            .description(p.thresholds_text(ind)).thresholds(p.thresholds(steps)).unit(p.grafana_unit(ind))
            .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.AREA))


def level_timeline(title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int) -> statetimeline.Panel:
    panel = (statetimeline.Panel().title(title).datasource(p.DATASOURCE).height(h).span(w)
             .thresholds(p.thresholds(p.level_steps())).mappings(p.level_mappings())
             .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS)).show_value(common.VisibilityMode.NEVER).merge_values(True)
             .min(0).max(4))
    for q in queries:
        panel = panel.with_target(q)
    return panel


def graph(
    title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int, unit: str = "none",
    stacked: bool = False,
) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).datasource(p.DATASOURCE).height(h).span(w).unit(unit)
             .fill_opacity(10).line_width(1)
             .legend(cb.VizLegendOptions().show_legend(True).display_mode(common.LegendDisplayMode.LIST)
                     .placement(common.LegendPlacement.BOTTOM)))
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL)).fill_opacity(40)
    for q in queries:
        panel = panel.with_target(q)
    return panel


HIDDEN_LABELS: tuple[str, ...] = ("Time", "__name__", "scope", "instance", "job")
ID_LABELS: tuple[str, ...] = ("indicator", "domain", "district", "street")
NAME_COLUMNS: dict[str, str] = {"place": p.title("地点", "Place"), "indicator_name": p.title("指标", "Indicator")}


def records_table(
    title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int, rename: dict[str, str],
    hide: Sequence[str] = HIDDEN_LABELS, names: bool = False,
) -> table.Panel:
    """Instant query results as rows: labels as columns, values renamed (``Value``/``Value #B`` ...). Scrape
    labels (``instance``, ``job``) are never shown; with ``names`` (queries built with ``queries.named``) the
    place and indicator names come first and the ids are hidden."""
    panel = table.Panel().title(title).datasource(p.DATASOURCE).height(h).span(w).filterable(False)
    for q in queries:
        panel = panel.with_target(q)
    if len(queries) > 1:
        panel = panel.with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
    hidden = [*HIDDEN_LABELS, *hide, *(ID_LABELS if names else ())]
    order = {column: k for k, column in enumerate(NAME_COLUMNS)} if names else {}
    organize = {"excludeByName": dict.fromkeys(hidden, True),
                "renameByName": {**(NAME_COLUMNS if names else {}), **rename}, "indexByName": order}
    return panel.with_transformation(dm.DataTransformerConfig(id_val="organize", options=organize))


def level_column(panel: table.Panel, column: str) -> table.Panel:
    """Colour one table column by warning level and show the level's name."""
    return panel.override_by_name(column, p.props({
        "custom.cellOptions": {"type": "color-background", "mode": "basic"},
        "thresholds": p.steps_json(p.level_steps()),
        "mappings": [m.to_json() for m in p.level_mappings()],
    }))


def gauge_column(panel: table.Panel, column: str, lo: float, hi: float, unit: str = "none") -> table.Panel:
    return panel.override_by_name(column, p.props({
        "custom.cellOptions": {"type": "gauge", "mode": "gradient"},
        "color": {"mode": "continuous-GrYlRd"}, "min": lo, "max": hi, "unit": unit,
    }))


def sorted_by(panel: table.Panel, column: str) -> table.Panel:
    return panel.sort_by([cb.TableSortByFieldState().display_name(column).desc(True)])


def health_bars(title: str, queries: Sequence[prometheus.Dataquery], *, h: int, w: int) -> bargauge.Panel:
    panel = (bargauge.Panel().title(title).datasource(p.DATASOURCE).height(h).span(w).min(0).max(100).decimals(0)
             .thresholds(p.thresholds(p.health_steps())).reduce_options(_reduce())
             .display_mode(common.BarGaugeDisplayMode.LCD).orientation(common.VizOrientation.HORIZONTAL))
    for q in queries:
        panel = panel.with_target(q)
    return panel
