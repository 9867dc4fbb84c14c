"""Alerting rules about the pipeline itself (down, absent, lagging, model not loaded, catalog mismatch), and the
assembly of all alerting rule groups."""

from __future__ import annotations

from typing import Any

from vitals import metric_names as m
from vitals.alerting import alert_rules as rules
from vitals.alerting import annotations as a
from vitals.alerting import names
from vitals.alerting.options import AlertingOptions


def _pipeline_labels(severity: str, **extra: str) -> dict[str, str]:
    return {"kind": names.KIND_PIPELINE, "severity": severity, **extra}


def pipeline_rules(options: AlertingOptions) -> list[dict[str, Any]]:
    job = options.job
    link = a.dashboard_link(options.receivers.grafana_url, names.DASHBOARD_PIPELINE)
    instance = a.label("instance")
    lag_s = options.sensitivity.lag_s
    return [
        rules.alert_rule(
            names.PIPELINE_DOWN, f'up{{job="{job}"}} == 0\nor {m.UP}{{job="{job}"}} == 0',
            options.hold("pipeline_down"), _pipeline_labels("critical"),
            {"summary": f"city-vitals pipeline {instance} is down",
             "summary_zh": f"城市生命体征数据管道 {instance} 已停止", "dashboard": link},
        ),
        rules.alert_rule(
            names.PIPELINE_ABSENT, f'absent({m.UP}{{job="{job}"}})', options.hold("pipeline_absent"),
            _pipeline_labels("critical"),
            {"summary": f"no city-vitals pipeline reports to Prometheus (job {job})",
             "summary_zh": f"没有任何城市生命体征数据管道向 Prometheus 报告（job {job}）", "dashboard": link},
        ),
        rules.alert_rule(
            names.PIPELINE_LAGGING, f'{m.LAG}{{job="{job}"}} > {lag_s:g}', options.hold("lagging"),
            _pipeline_labels("warning"),
            {"summary": f"city-vitals pipeline {instance} lags {a.value_of_alert('%.0f')} s behind event time",
             "summary_zh": f"数据管道 {instance} 处理滞后 {a.value_of_alert('%.0f')} 秒",
             "lag_s": a.value_of_alert("%.0f"), "dashboard": link},
        ),
        rules.alert_rule(
            names.MODEL_NOT_LOADED, f'{m.MODEL_LOAD_FAILED}{{job="{job}"}} == 1', options.hold("model_load"),
            _pipeline_labels("warning"),
            {"summary": f"city-vitals pipeline {instance} cannot load {a.label('family')} {a.label('version')} "
                        "and runs without it (or on the version before); see its log, then promote a version "
                        "that loads with `vitals models promote`",
             "summary_zh": f"数据管道 {instance} 无法加载模型 {a.label('family')} {a.label('version')}，"
                           "正在无此模型（或旧版本）运行；请查看日志并用 vitals models promote 发布可加载的版本",
             "dashboard": link},
        ),
        rules.alert_rule(
            names.CATALOG_MISMATCH,
            f"count by (indicator) ({m.WARNING_LEVEL})\nunless on (indicator) {names.INDICATOR_INFO}",
            options.hold("catalog_mismatch"), _pipeline_labels("warning", unknown="indicator"),
            {"summary": f"indicator {a.label('indicator')} is exported but not in the alerting catalog; "
                        "rebuild the rules with `vitals alerts build` from the pipeline's catalog",
             "summary_zh": f"指标 {a.label('indicator')} 不在告警规则的目录中，请用 vitals alerts build 重新生成规则",
             "dashboard": link},
        ),
        rules.alert_rule(
            names.CATALOG_MISMATCH,
            f"count by (district, street) ({m.WARNING_LEVEL})\n"
            f'unless on (street) {names.AREA_INFO}{{scope="street"}}',
            options.hold("catalog_mismatch"), _pipeline_labels("warning", unknown="street"),
            {"summary": f"street {a.label('street')} is exported but not in the alerting catalog; "
                        "rebuild the rules with `vitals alerts build` from the pipeline's catalog",
             "summary_zh": f"街道 {a.label('street')} 不在告警规则的目录中，请用 vitals alerts build 重新生成规则",
             "dashboard": link},
        ),
    ]


def alert_groups(options: AlertingOptions) -> list[dict[str, Any]]:
    return [
        {"name": "vitals-warning-levels",
         "rules": rules.warning_level_rules(options) + rules.district_rules(options) + rules.city_rules(options)},
        {"name": "vitals-early-warnings", "rules": [rules.early_warning_rule(options)]},
        {"name": "vitals-anomalies", "rules": [rules.anomaly_rule(options)]},
        {"name": "vitals-data-quality", "rules": [rules.stale_rule(options)]},
        {"name": "vitals-pipeline", "rules": pipeline_rules(options)},
    ]
