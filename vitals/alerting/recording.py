"""Recording rules: roll-ups of warning level, health, anomaly and forecast from street to district to city,
the per-district counts the district-wide alerts need, and pipeline rates for the health dashboard."""

from __future__ import annotations

from typing import Any

from vitals import metric_names as m
from vitals.alerting import names
from vitals.alerting.options import LEVEL_VALUE, LEVELS


def _rule(record: str, expr: str, **labels: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": record, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def level_rollups() -> list[dict[str, Any]]:
    """Worst level by indicator/domain and area, each built on the previous (rules of a group run in order)."""
    return [
        _rule(names.INDICATOR_DISTRICT_LEVEL_MAX, f"max by (indicator, domain, district) ({m.WARNING_LEVEL})"),
        _rule(names.DOMAIN_DISTRICT_LEVEL_MAX,
              f"max by (domain, district) ({names.INDICATOR_DISTRICT_LEVEL_MAX})"),
        _rule(names.DISTRICT_LEVEL_MAX, f"max by (district) ({names.DOMAIN_DISTRICT_LEVEL_MAX})"),
        _rule(names.INDICATOR_LEVEL_MAX, f"max by (indicator, domain) ({names.INDICATOR_DISTRICT_LEVEL_MAX})"),
        _rule(names.DOMAIN_LEVEL_MAX, f"max by (domain) ({names.DOMAIN_DISTRICT_LEVEL_MAX})"),
        _rule(names.CITY_LEVEL_MAX, f"max ({names.DISTRICT_LEVEL_MAX})"),
        _rule(names.DISTRICT_AREA_LEVEL_MAX, f'max by (district) ({m.AREA_WARNING_LEVEL}{{scope="street"}})'),
        _rule(names.CITY_AREA_LEVEL_MAX, f"max ({names.DISTRICT_AREA_LEVEL_MAX})"),
    ]


def level_counts() -> list[dict[str, Any]]:
    """Series exactly at each level per district and city; streets at or above each level per indicator and
    district, as a count and as a share of the district's streets reporting that indicator."""
    rules = []
    for level in LEVELS:
        value = LEVEL_VALUE[level]
        rules.append(_rule(names.DISTRICT_SERIES_AT_LEVEL,
                           f"count by (district) ({m.WARNING_LEVEL} == {value})", severity=level))
    rules.append(_rule(names.CITY_SERIES_AT_LEVEL, f"sum by (severity) ({names.DISTRICT_SERIES_AT_LEVEL})"))
    for level in LEVELS:
        value = LEVEL_VALUE[level]
        rules.append(_rule(names.STREETS_AT_OR_ABOVE,
                           f"count by (indicator, domain, district) ({m.WARNING_LEVEL} >= {value})", severity=level))
        rules.append(_rule(
            names.STREETS_AT_OR_ABOVE_RATIO,
            f'{names.STREETS_AT_OR_ABOVE}{{severity="{level}"}}\n'
            f"  / ignoring (severity)\ncount by (indicator, domain, district) ({m.WARNING_LEVEL})",
            severity=level,
        ))
    return rules


def vital_rollups() -> list[dict[str, Any]]:
    """Worst street health, anomaly, forecast and staleness by area. The district's and the city's own health is
    the pipeline's ``vitals_health_index{scope="district"|"city"}`` (severity and breadth per domain): an average
    of street healths would be another, weaker number, so there is no rule for it."""
    return [
        _rule(names.DISTRICT_HEALTH_MIN, f'min by (district) ({m.HEALTH_INDEX}{{scope="street"}})'),
        _rule(names.CITY_HEALTH_MIN, f"min ({names.DISTRICT_HEALTH_MIN})"),
        _rule(names.INDICATOR_DISTRICT_ANOMALY_MAX, f"max by (indicator, district) ({m.ANOMALY_SCORE})"),
        _rule(names.DISTRICT_ANOMALY_MAX, f"max by (district) ({names.INDICATOR_DISTRICT_ANOMALY_MAX})"),
        _rule(names.DISTRICT_FORECAST_LEVEL_MAX, f"max by (district, horizon) ({m.FORECAST_LEVEL})"),
        _rule(names.CITY_FORECAST_LEVEL_MAX, f"max by (horizon) ({names.DISTRICT_FORECAST_LEVEL_MAX})"),
        _rule(names.INDICATOR_DISTRICT_STALE,
              f"count by (indicator, domain, district) (\n  {m.SECONDS_SINCE_LAST_READING}\n"
              f"  > on (indicator) group_left (domain) {names.STALE_AFTER}\n)"),
    ]


def pipeline_rollups() -> list[dict[str, Any]]:
    return [
        _rule(names.JOB_READINGS_RATE, f"sum by (job) (rate({m.READINGS}[1m]))"),
        _rule(names.JOB_REJECTED_RATE, f"sum by (job, reason) (rate({m.READINGS_REJECTED}[5m]))"),
        _rule(names.JOB_LATE_RATE, f"sum by (job) (rate({m.READINGS_LATE}[5m]))"),
        _rule(names.JOB_LAG_MAX, f"max by (job) ({m.LAG})"),
        _rule(names.JOB_BATCH_P99,
              f"histogram_quantile(0.99, sum by (job, le) (rate({m.BATCH_SECONDS}_bucket[5m])))"),
    ]


def recording_groups() -> list[dict[str, Any]]:
    return [
        {"name": "vitals-level-rollups", "rules": level_rollups() + level_counts()},
        {"name": "vitals-vital-rollups", "rules": vital_rollups()},
        {"name": "vitals-pipeline-rollups", "rules": pipeline_rollups()},
    ]
