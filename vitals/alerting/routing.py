"""Alertmanager routing and inhibition, derived from one escalation table.

Who is notified (receivers in the order Alertmanager resolves them)::

    alert scope \\ level   blue, yellow (and anomalies)   orange, red
    street                street                         street, district, city
    district              district                       district, city
    city                  city                           city
    early warning (street, predicted orange): street, district
    data quality and pipeline: platform

One receiver per tier of centers (street centers, district centers, the city center) instead of one per
area: addresses inside a tier are chosen per notification from the group labels (district, street) by
templates generated from the catalog, so the configuration grows by one template line per district and
not at all per street, while repeat intervals can still differ per severity.
"""

from __future__ import annotations

from typing import Any

from vitals.alerting import names
from vitals.alerting.options import LEVELS, AlertingOptions
from vitals.catalog.model import LEVEL_NAMES, ORANGE

STREET_CENTERS = "street-centers"
DISTRICT_CENTERS = "district-centers"
CITY_CENTER = "city-center"
PLATFORM = "platform"
RECEIVERS: tuple[str, ...] = (CITY_CENTER, DISTRICT_CENTERS, STREET_CENTERS, PLATFORM)

ESCALATING_LEVELS: tuple[str, ...] = LEVEL_NAMES[ORANGE:]  # orange, red
GROUP_BY_STREET = ["alertname", "severity", "district", "street", "domain"]
GROUP_BY_DISTRICT = ["alertname", "severity", "district", "domain"]
GROUP_BY_CITY = ["alertname", "severity", "domain"]
GROUP_BY_PLATFORM = ["alertname", "severity", "job", "district", "domain"]


def expected_receivers(kind: str, scope: str, severity: str) -> list[str]:
    """The escalation table above as a function (the route tests compare the tree against it)."""
    if kind in (names.KIND_PIPELINE, names.KIND_DATA_QUALITY):
        return [PLATFORM]
    escalates = severity in ESCALATING_LEVELS
    tiers = {"street": [STREET_CENTERS, DISTRICT_CENTERS, CITY_CENTER],
             "district": [DISTRICT_CENTERS, CITY_CENTER], "city": [CITY_CENTER]}[scope]
    if not escalates:
        return tiers[:1]
    if kind == names.KIND_EARLY:
        return [t for t in tiers if t != CITY_CENTER]
    return tiers


def _by_severity(severities: tuple[str, ...], options: AlertingOptions) -> list[dict[str, Any]]:
    """Child routes that only set the repeat interval of each severity."""
    return [{"matchers": [f'severity="{s}"'], "repeat_interval": options.notify.repeat[s]} for s in severities]


def _regex(values: tuple[str, ...]) -> str:
    return "|".join(values)


def route_tree(options: AlertingOptions) -> dict[str, Any]:
    notify = options.notify
    escalating = _regex(ESCALATING_LEVELS)
    routes = [
        {"receiver": PLATFORM, "matchers": [f'kind=~"{names.KIND_PIPELINE}|{names.KIND_DATA_QUALITY}"'],
         "group_by": GROUP_BY_PLATFORM, "routes": _by_severity(("critical", "warning"), options)},
        {"receiver": STREET_CENTERS, "matchers": ['scope="street"'], "group_by": GROUP_BY_STREET, "continue": True,
         "routes": _by_severity((*LEVELS, "warning"), options)},
        {"receiver": DISTRICT_CENTERS, "matchers": ['scope="district"'], "group_by": GROUP_BY_DISTRICT,
         "continue": True, "routes": _by_severity(LEVELS, options)},
        {"receiver": DISTRICT_CENTERS, "matchers": ['scope="street"', f'severity=~"{escalating}"'],
         "group_by": GROUP_BY_DISTRICT, "continue": True, "routes": _by_severity(ESCALATING_LEVELS, options)},
        {"receiver": CITY_CENTER, "matchers": ['scope="city"'], "group_by": GROUP_BY_CITY,
         "routes": _by_severity(LEVELS, options)},
        {"receiver": CITY_CENTER, "matchers": [f'kind="{names.KIND_LEVEL}"', f'severity=~"{escalating}"'],
         "group_by": GROUP_BY_DISTRICT, "routes": _by_severity(ESCALATING_LEVELS, options)},
    ]
    return {
        "receiver": CITY_CENTER, "group_by": GROUP_BY_DISTRICT, "group_wait": notify.group_wait,
        "group_interval": notify.group_interval, "repeat_interval": notify.repeat["warning"], "routes": routes,
    }


def count_routes(route: dict[str, Any]) -> int:
    """Routes in a tree, the root included."""
    return 1 + sum(count_routes(child) for child in route.get("routes", []))


def _inhibit(source: list[str], target: list[str], equal: list[str]) -> dict[str, Any]:
    return {"source_matchers": source, "target_matchers": target, "equal": equal}


def inhibit_rules() -> list[dict[str, Any]]:
    """Lower levels of the same series or area; street alerts under a district-wide alert of the same
    indicator and no higher level; district-wide alerts under a city-wide one; early warnings once the
    level is reached; secondary pipeline alerts while the pipeline is down."""
    level_alerts = _regex(names.LEVEL_ALERTS)
    rules = []
    for i, level in enumerate(LEVELS[1:], start=1):
        rules.append(_inhibit([f'alertname=~"{level_alerts}"', f'severity="{level}"'],
                              [f'alertname=~"{level_alerts}"', f'severity=~"{_regex(LEVELS[:i])}"'],
                              ["alertname", "indicator", "district", "street"]))
    for i, level in enumerate(LEVELS):
        at_most = _regex(LEVELS[: i + 1])
        rules.append(_inhibit([f'alertname="{names.DISTRICT_WARNING_LEVEL}"', f'severity="{level}"'],
                              [f'alertname=~"{names.WARNING_LEVEL}|{names.EARLY_WARNING}"',
                               f'severity=~"{at_most}"'], ["indicator", "district"]))
        rules.append(_inhibit([f'alertname="{names.CITY_WARNING_LEVEL}"', f'severity="{level}"'],
                              [f'alertname="{names.DISTRICT_WARNING_LEVEL}"', f'severity=~"{at_most}"'],
                              ["indicator"]))
    rules.append(_inhibit([f'alertname="{names.WARNING_LEVEL}"', f'severity=~"{_regex(ESCALATING_LEVELS)}"'],
                          [f'alertname="{names.EARLY_WARNING}"'], ["indicator", "district", "street"]))
    rules.append(_inhibit([f'alertname="{names.PIPELINE_DOWN}"'],
                          [f'alertname=~"{names.PIPELINE_LAGGING}|{names.PIPELINE_ABSENT}"'], ["job"]))
    return rules
