"""Route test cases for ``amtool config routes test``: every scope x level combination, early warnings,
anomalies, data quality and pipeline alerts, each with the receivers the escalation table expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vitals.alerting import names
from vitals.alerting.options import LEVELS
from vitals.alerting.routing import expected_receivers
from vitals.catalog import Catalog


@dataclass(frozen=True)
class RouteCase:
    name: str
    labels: dict[str, str]
    receivers: list[str]

    def amtool_labels(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.labels.items()]


def _case(name: str, *, alertname: str, kind: str, scope: str | None, severity: str,
          area: dict[str, str]) -> RouteCase:
    labels = {"alertname": alertname, "kind": kind, "severity": severity}
    if scope is not None:
        labels["scope"] = scope
        labels.update({k: v for k, v in area.items() if k in {"street": ("district", "street"),
                       "district": ("district",), "city": ()}[scope]})
        labels.update({"indicator": area["indicator"], "domain": area["domain"]})
    receivers = expected_receivers(kind, scope or "city", severity)
    return RouteCase(name, labels, receivers)


def route_cases(catalog: Catalog) -> list[RouteCase]:
    street = catalog.streets[0]
    indicator = catalog.indicators[0]
    area = {"district": street.district_id, "street": street.id, "indicator": indicator.id,
            "domain": indicator.domain}
    alert_of = {"street": names.WARNING_LEVEL, "district": names.DISTRICT_WARNING_LEVEL,
                "city": names.CITY_WARNING_LEVEL}
    cases = [_case(f"{scope} {level}", alertname=alert_of[scope], kind=names.KIND_LEVEL, scope=scope,
                   severity=level, area=area) for scope in ("street", "district", "city") for level in LEVELS]
    cases += [_case(f"early warning {level}", alertname=names.EARLY_WARNING, kind=names.KIND_EARLY, scope="street",
                    severity=level, area=area) for level in LEVELS]
    others = (("anomaly", names.ANOMALY, names.KIND_ANOMALY, "street", "warning"),
              ("stale data", names.STALE_DATA, names.KIND_DATA_QUALITY, "street", "warning"),
              ("pipeline down", names.PIPELINE_DOWN, names.KIND_PIPELINE, None, "critical"),
              ("pipeline lagging", names.PIPELINE_LAGGING, names.KIND_PIPELINE, None, "warning"))
    cases += [_case(name, alertname=alertname, kind=kind, scope=scope, severity=severity, area=area)
              for name, alertname, kind, scope, severity in others]
    return cases


def route_cases_document(catalog: Catalog) -> dict[str, Any]:
    return {"cases": [{"name": c.name, "labels": c.labels, "receivers": c.receivers} for c in route_cases(catalog)]}
