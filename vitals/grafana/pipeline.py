"""Pipeline and model health (uid ``pipeline-health``): is the flow up and keeping pace, what it rejects and
why, how long batches take, how much state it holds, which model versions run, and data quality."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm

from vitals import metric_names as mn
from vitals.catalog.model import Catalog
from vitals.grafana import panels as p
from vitals.grafana import queries as q
from vitals.grafana import widgets as wg

UID = "pipeline-health"
QUANTILES = (0.5, 0.9, 0.99)


def _stat(title: str, expr: str, unit: str) -> stat.Panel:
    return (stat.Panel().title(title).datasource(p.DATASOURCE).height(5).span(5).unit(unit)
            .graph_mode(common.BigValueGraphMode.AREA).with_target(p.prom(expr)))


def _headline() -> list[Builder[dm.Panel]]:
    up = (stat.Panel().title(p.title("管道运行", "Pipeline up")).datasource(p.DATASOURCE).height(5).span(4)
          .with_target(p.prom(f"min({mn.UP})")).color_mode(common.BigValueColorMode.BACKGROUND)
          .graph_mode(common.BigValueGraphMode.NONE)
          .thresholds(p.thresholds([dm.Threshold(value=None, color="red"), dm.Threshold(value=1, color="green")]))
          .mappings([dm.ValueMap(options={
              "0": dm.ValueMappingResult(text="停止 Down", color="red", index=0),
              "1": dm.ValueMappingResult(text="运行 Up", color="green", index=1)})]))
    return [
        up,
        _stat(p.title("读数/秒", "Readings/s"), q.rate(mn.READINGS), "short"),
        _stat(p.title("最大延迟", "Max lag"), f"max({mn.LAG})", "s"),
        _stat(p.title("状态序列数", "Series in state"), f"sum({mn.STATE_SERIES})", "short"),
        _stat(p.title("状态内存", "State size"), f"sum({mn.STATE_BYTES})", "bytes"),
    ]


def _flow() -> list[Builder[dm.Panel]]:
    late = p.prom(q.rate(mn.READINGS_LATE), legend="迟到 late")
    duplicate = p.prom(q.rate(mn.READINGS_DUPLICATE), ref="B", legend="重复 duplicate")
    watermark = p.prom(f"time() - max by (partition) ({mn.WATERMARK})", ref="B", legend="watermark {{partition}}")
    return [
        wg.graph(p.title("各工作进程读数/秒", "Readings/s by worker"),
                 [p.prom(q.rate(mn.READINGS, by="worker"), legend="{{worker}}")], h=8, w=12, unit="short"),
        wg.graph(p.title("延迟与水位线", "Lag and watermark delay"),
                 [p.prom(f"max by (worker) ({mn.LAG})", legend="lag {{worker}}"), watermark], h=8, w=12, unit="s"),
        wg.graph(p.title("按原因拒收/秒", "Rejected/s by reason"),
                 [p.prom(q.rate(mn.READINGS_REJECTED, by="reason"), legend="{{reason}}")], h=8, w=12,
                 unit="short", stacked=True),
        wg.graph(p.title("迟到与重复/秒", "Late and duplicate/s"), [late, duplicate], h=8, w=12, unit="short"),
    ]


def _work() -> list[Builder[dm.Panel]]:
    quantiles = [p.prom(q.batch_seconds_quantile(x), ref=chr(ord("A") + i), legend=f"p{x * 100:g}")
                 for i, x in enumerate(QUANTILES)]
    state = wg.graph(p.title("状态规模", "State size by worker"),
                     [p.prom(f"sum by (worker) ({mn.STATE_SERIES})", legend="series {{worker}}"),
                      p.prom(f"sum by (worker) ({mn.STATE_BYTES})", ref="B", legend="bytes {{worker}}")],
                     h=8, w=12, unit="short")
    state = state.override_by_regexp("bytes .*", p.props({"unit": "bytes", "custom.axisPlacement": "right"}))
    models = wg.records_table(p.title("模型版本", "Model versions"), [p.prom(mn.MODEL_INFO, instant=True, table=True)],
                              h=8, w=12, rename={}, hide=("Time", "__name__", "Value"))
    return [
        wg.graph(p.title("批处理耗时分位数", "Batch processing seconds (quantiles)"), quantiles, h=8, w=12, unit="s"),
        state,
        models,
        _stat(p.title("最后事件时间", "Last event time"), f"max({mn.LAST_EVENT}) * 1000", "dateTimeFromNow")
        .height(8).span(12).graph_mode(common.BigValueGraphMode.NONE),
    ]


def _quality() -> list[Builder[dm.Panel]]:
    stuck = f"count({mn.SENSOR_STUCK} == 1) or vector(0)"
    return [
        wg.graph(p.title("卡滞传感器数", "Stuck sensors"), [p.prom(stuck, legend="stuck")], h=8, w=8, unit="short"),
        wg.graph(p.title("各指标缺测率(最差区县)", "Dropout ratio, worst district"),
                 [p.prom(f"max by (indicator) ({mn.DROPOUT_RATIO})", legend="{{indicator}}")],
                 h=8, w=8, unit="percentunit").min(0).max(1),
        wg.graph(p.title("各指标最长无读数时间", "Longest silence by indicator"),
                 [p.prom(f"max by (indicator) ({mn.SECONDS_SINCE_LAST_READING})", legend="{{indicator}}")],
                 h=8, w=8, unit="s"),
    ]


def build_pipeline(catalog: Catalog) -> dash.Dashboard:
    board = (dash.Dashboard(p.title("管道与模型健康", "Pipeline and model health")).uid(UID)
             .description(f"The streaming core behind {catalog.n_indicators} indicators.")
             .tags(["city-vitals", "pipeline"]).refresh("10s").time("now-1h", "now").timezone("browser")
             .tooltip(dm.DashboardCursorSync.CROSSHAIR)
             .link(p.link(p.title("城市总览", "City wall"), "/d/city-wall")))
    board = board.with_row(dash.Row(p.title("吞吐与延迟", "Throughput and lag")))
    for panel in [*_headline(), *_flow()]:
        board = board.with_panel(panel)
    board = board.with_row(dash.Row(p.title("处理、状态与模型", "Work, state and models")))
    for panel in _work():
        board = board.with_panel(panel)
    board = board.with_row(dash.Row(p.title("数据质量", "Data quality")))
    for panel in _quality():
        board = board.with_panel(panel)
    return board
