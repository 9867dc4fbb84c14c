"""Alerting rules, generic over the catalog (their number does not grow with indicators or streets).

Warning levels: one family per scope (street series, district-wide, city-wide), one rule per level with
``level >= N`` and a ``severity`` label. A series at red therefore also satisfies the blue..orange rules:
their pending clocks are not reset when a level escalates, and Alertmanager's inhibition rules mute the
lower levels of the same series (see :mod:`vitals.alerting.routing`), so only the worst level notifies.
"""

from __future__ import annotations

from typing import Any

from vitals import metric_names as m
from vitals.alerting import annotations as a
from vitals.alerting import names
from vitals.alerting.options import LEVEL_VALUE, LEVELS, AlertingOptions, Hold


def alert_rule(name: str, expr: str, hold: Hold, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if hold.for_s:
        rule["for"] = hold.for_
    if hold.keep_s:
        rule["keep_firing_for"] = hold.keep_firing_for
    rule["labels"] = labels
    rule["annotations"] = annotations
    return rule


def warning_level_rules(options: AlertingOptions) -> list[dict[str, Any]]:
    grafana = options.receivers.grafana_url
    horizon = options.early_warning_horizon
    rules = []
    for level in LEVELS:
        annotations = {
            "summary": f"{level} warning: {a.label('indicator')} at {a.label('district')}/{a.label('street')}",
            **a.street_annotations(grafana), "unit": a.indicator_fact("unit", ""),
            "value": a.current_value(), "threshold": a.threshold(level), "forecast": a.forecast(horizon),
            "health": a.area_health("district"),
        }
        rules.append(alert_rule(names.WARNING_LEVEL, f"{m.WARNING_LEVEL} >= {LEVEL_VALUE[level]}", options.hold(level),
                            {"kind": names.KIND_LEVEL, "scope": "street", "severity": level}, annotations))
    return rules


def district_condition(level: str, options: AlertingOptions) -> str:
    """A district-wide level: enough of the district's streets at or above it (share in percent)."""
    s = options.sensitivity
    return (f'100 * {names.STREETS_AT_OR_ABOVE_RATIO}{{severity="{level}"}} >= {100 * s.district_share:g}\n'
            f'and {names.STREETS_AT_OR_ABOVE}{{severity="{level}"}} >= {s.district_min_streets}')


def district_rules(options: AlertingOptions) -> list[dict[str, Any]]:
    link = a.dashboard_link(options.receivers.grafana_url, names.DASHBOARD_DISTRICT,
                            names.DISTRICT_DASHBOARD_VARIABLES)
    rules = []
    for level in LEVELS:
        annotations = {
            "summary": f"{level} warning across district {a.label('district')}: {a.label('indicator')}",
            "place_zh": a.district_place("zh"), "place_en": a.district_place("en"), **a.indicator_names(),
            "threshold": a.threshold(level), "share": a.value_of_alert("%.0f"),
            "streets": a.streets_at_level(level), "health": a.area_health("district"), "dashboard": link,
        }
        rules.append(alert_rule(names.DISTRICT_WARNING_LEVEL, district_condition(level, options),
                            options.hold("district"),
                            {"kind": names.KIND_LEVEL, "scope": "district", "severity": level}, annotations))
    return rules


def city_rules(options: AlertingOptions) -> list[dict[str, Any]]:
    link = a.dashboard_link(options.receivers.grafana_url, names.DASHBOARD_CITY)
    rules = []
    for level in LEVELS:
        condition = district_condition(level, options).replace("\n", "\n  ")
        expr = f"count by (indicator, domain) (\n  {condition}\n) >= {options.sensitivity.city_min_districts}"
        annotations = {
            "summary": f"{level} warning in many districts: {a.label('indicator')}",
            "place_zh": a.city_place("zh"), "place_en": a.city_place("en"), **a.indicator_names(),
            "threshold": a.threshold(level), "districts": a.value_of_alert("%.0f"), "health": a.area_health("city"),
            "dashboard": link,
        }
        rules.append(alert_rule(names.CITY_WARNING_LEVEL, expr, options.hold("city"),
                            {"kind": names.KIND_LEVEL, "scope": "city", "severity": level}, annotations))
    return rules


def early_warning_rule(options: AlertingOptions) -> dict[str, Any]:
    """Predicted to reach the level within the horizon (from the time-to-threshold, or failing that from
    the forecast level at the horizon), and not there yet. The value is the minutes left. The horizon follows the
    catalog's cadence (:meth:`AlertingOptions.for_catalog`): 30 minutes on the 5-minute grid, 6 hours on an hourly
    one, so both halves can fire on any grid."""
    s = options.sensitivity
    seconds, horizon = options.early_warning_horizon_s, options.early_warning_horizon
    level, value, minutes = s.early_warning_level, LEVEL_VALUE[s.early_warning_level], seconds / 60
    expr = (
        "(\n"
        f'    max without (level) ({m.SECONDS_TO_THRESHOLD}{{level="{level}"}} <= {seconds}) / 60\n'
        "  or on (indicator, district, street)\n"
        f'    max without (horizon) ({m.FORECAST_LEVEL}{{horizon="{horizon}"}} >= {value}) * 0 + {minutes:g}\n'
        ")\n"
        f"* on (indicator) group_left (domain) {names.INDICATOR_INFO}\n"
        f"unless on (indicator, district, street) {m.WARNING_LEVEL} >= {value}"
    )
    annotations = {
        "summary": f"{a.label('indicator')} at {a.label('district')}/{a.label('street')} "
                   f"predicted to reach {level} in {a.value_of_alert('%.0f')} min",
        **a.street_annotations(options.receivers.grafana_url), "unit": a.indicator_fact("unit", ""),
        "value": a.current_value(), "threshold": a.threshold(level), "forecast": a.forecast(horizon),
        "minutes": a.value_of_alert("%.0f"),
    }
    return alert_rule(names.EARLY_WARNING, expr, options.hold("early_warning"),
                  {"kind": names.KIND_EARLY, "scope": "street", "severity": level}, annotations)


def anomaly_rule(options: AlertingOptions) -> dict[str, Any]:
    expr = (f"{m.ANOMALY_SCORE} * on (indicator) group_left (domain) {names.INDICATOR_INFO}\n"
            f">= {options.sensitivity.anomaly_score:g}")
    annotations = {
        "summary": f"anomaly: {a.label('indicator')} at {a.label('district')}/{a.label('street')}",
        **a.street_annotations(options.receivers.grafana_url), "unit": a.indicator_fact("unit", ""),
        "value": a.current_value(), "expected": a.expected_value(), "score": a.value_of_alert("%.2f"),
        "explanation": a.explanation(),
    }
    return alert_rule(names.ANOMALY, expr, options.hold("anomaly"),
                  {"kind": names.KIND_ANOMALY, "scope": "street", "severity": "warning"}, annotations)


def stale_rule(options: AlertingOptions) -> dict[str, Any]:
    expr = f"{m.SECONDS_SINCE_LAST_READING}\n> on (indicator) group_left (domain) {names.STALE_AFTER}"
    annotations = {
        "summary": f"no {a.label('indicator')} reading at {a.label('district')}/{a.label('street')} "
                   f"for {a.value_of_alert('%.0f')} s",
        **a.street_annotations(options.receivers.grafana_url),
        "silent_s": a.value_of_alert("%.0f"), "cadence_s": a.indicator_fact("cadence_s", a.NA),
    }
    return alert_rule(names.STALE_DATA, expr, options.hold("stale"),
                  {"kind": names.KIND_DATA_QUALITY, "scope": "street", "severity": "warning"}, annotations)
