"""The annotations Prometheus should produce, computed in Python from the catalog and a scenario's input
values (an oracle for the Go templates of :mod:`vitals.alerting.annotations`)."""

from __future__ import annotations

from dataclasses import dataclass

from vitals import metric_names as m
from vitals.alerting import names
from vitals.alerting.catalog_rules import area_labels, indicator_labels
from vitals.alerting.options import LEVEL_VALUE, AlertingOptions
from vitals.alerting.rule_scenarios import Scenario
from vitals.catalog import Catalog

NA = "n/a"


def g4(value: float | None) -> str:
    return NA if value is None else f"{value:.4g}"


@dataclass
class Oracle:
    catalog: Catalog
    options: AlertingOptions
    scenario: Scenario

    # ---- catalog facts ----------------------------------------------------------------------------------
    def area(self, scope: str, key: str | None) -> dict[str, str] | None:
        for row in area_labels(self.catalog):
            if row["scope"] == scope and (key is None or row.get(scope) == key):
                return row
        return None

    def info(self, indicator: str) -> dict[str, str] | None:
        if indicator not in self.catalog.indicator_index:
            return None
        return indicator_labels(self.catalog.indicator(indicator))

    def fact(self, labels: dict[str, str], fact: str, fallback: str) -> str:
        info = self.info(labels["indicator"])
        return fallback if info is None else info[fact]

    def url(self, uid: str, labels: dict[str, str], variables: tuple[tuple[str, str], ...] = ()) -> str:
        base = f"{self.options.receivers.grafana_url.rstrip('/')}/d/{uid}"
        query = "&".join(f"var-{variable}={labels[name]}" for variable, name in variables)
        return base + (f"?{query}" if query else "")

    # ---- annotation groups ------------------------------------------------------------------------------
    def street(self, labels: dict[str, str]) -> dict[str, str]:
        row = self.area("street", labels["street"])
        fallback = f"{labels['district']}/{labels['street']}"
        return {
            "place_zh": row["place_zh"] if row else fallback, "place_en": row["place_en"] if row else fallback,
            "indicator_zh": self.fact(labels, "name_zh", labels["indicator"]),
            "indicator_en": self.fact(labels, "name_en", labels["indicator"]),
            "dashboard": self.url(names.DASHBOARD_INDICATOR, labels, names.INDICATOR_DASHBOARD_VARIABLES),
        }

    def current_value(self, labels: dict[str, str], k: int) -> str:
        info = self.info(labels["indicator"])
        if info is None:
            return NA
        return g4(self.scenario.value(info["metric"], k, street=labels["street"], stat="last"))

    def street_or_district(self, metric: str, labels: dict[str, str], k: int, **match: str) -> str:
        """The street's sample of ``metric``, else the district's (no street label) marked "(district)"."""
        street = self.scenario.value(metric, k, indicator=labels["indicator"], street=labels["street"], **match)
        if street is not None:
            return g4(street)
        district = [v for lb, v in self.scenario.select(metric, k, indicator=labels["indicator"],
                                                        district=labels["district"], **match) if "street" not in lb]
        return f"{g4(district[0])} (district)" if district else NA

    def forecast(self, labels: dict[str, str], k: int) -> str:
        return self.street_or_district(m.FORECAST_VALUE, labels, k, horizon=self.options.early_warning_horizon)

    def health(self, k: int, district: str | None) -> str:
        """The district's (or, without one, the city's) exported health index, as the annotation prints it."""
        match = {"scope": "city"} if district is None else {"scope": "district", "district": district}
        found = self.scenario.select(m.HEALTH_INDEX, k, **match)
        return f"{found[0][1]:.0f}" if found else NA

    def level(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        severity = labels["severity"]
        return {
            "summary": f"{severity} warning: {labels['indicator']} at {labels['district']}/{labels['street']}",
            **self.street(labels), "unit": self.fact(labels, "unit", ""), "value": self.current_value(labels, k),
            "threshold": self.fact(labels, f"condition_{severity}", NA), "forecast": self.forecast(labels, k),
            "health": self.health(k, labels["district"]),
        }

    def district(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        severity, district = labels["severity"], labels["district"]
        row = self.area("district", district)
        count = self.scenario_count(labels, k)
        return {
            "summary": f"{severity} warning across district {district}: {labels['indicator']}",
            "place_zh": row["place_zh"] if row else district, "place_en": row["place_en"] if row else district,
            "indicator_zh": self.fact(labels, "name_zh", labels["indicator"]),
            "indicator_en": self.fact(labels, "name_en", labels["indicator"]),
            "threshold": self.fact(labels, f"condition_{severity}", NA), "share": f"{value:.0f}",
            "streets": NA if count is None else f"{count:.0f}", "health": self.health(k, district),
            "dashboard": self.url(names.DASHBOARD_DISTRICT, labels, names.DISTRICT_DASHBOARD_VARIABLES),
        }

    def scenario_count(self, labels: dict[str, str], k: int) -> float | None:
        """Streets of the alert's district at or above its level (the recording rule's value)."""
        found = self.scenario.select(m.WARNING_LEVEL, k, indicator=labels["indicator"], district=labels["district"])
        hits = sum(1 for _, v in found if v >= LEVEL_VALUE[labels["severity"]])
        return float(hits) if hits else None

    def city(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        severity = labels["severity"]
        row = self.area("city", None)
        return {
            "summary": f"{severity} warning in many districts: {labels['indicator']}",
            "place_zh": row["place_zh"] if row else "city", "place_en": row["place_en"] if row else "city",
            "indicator_zh": self.fact(labels, "name_zh", labels["indicator"]),
            "indicator_en": self.fact(labels, "name_en", labels["indicator"]),
            "threshold": self.fact(labels, f"condition_{severity}", NA), "districts": f"{value:.0f}",
            "health": self.health(k, None), "dashboard": self.url(names.DASHBOARD_CITY, labels),
        }

    def early(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        level = self.options.sensitivity.early_warning_level
        return {
            "summary": f"{labels['indicator']} at {labels['district']}/{labels['street']} "
                       f"predicted to reach {level} in {value:.0f} min",
            **self.street(labels), "unit": self.fact(labels, "unit", ""), "value": self.current_value(labels, k),
            "threshold": self.fact(labels, f"condition_{level}", NA), "forecast": self.forecast(labels, k),
            "minutes": f"{value:.0f}",
        }

    def anomaly(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        found = self.scenario.select(m.ANOMALY_EXPLANATION, k, indicator=labels["indicator"], street=labels["street"])
        return {
            "summary": f"anomaly: {labels['indicator']} at {labels['district']}/{labels['street']}",
            **self.street(labels), "unit": self.fact(labels, "unit", ""), "value": self.current_value(labels, k),
            "expected": self.street_or_district(m.EXPECTED_VALUE, labels, k, bound="mid"), "score": f"{value:.2f}",
            "explanation": f"{found[0][0]['detector']}/{found[0][0]['feature']}" if found else NA,
        }

    def stale(self, labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        return {
            "summary": f"no {labels['indicator']} reading at {labels['district']}/{labels['street']} for {value:.0f} s",
            **self.street(labels), "silent_s": f"{value:.0f}", "cadence_s": self.fact(labels, "cadence_s", NA),
        }
