"""The catalog as constant series: one recording rule ``vector(1)`` per area and per indicator, with the
names, units and thresholds as labels. Alert annotations look names up in these series (so the alert rules
themselves stay generic and their number does not grow with the catalog), and the stale-data rule joins
the per-indicator cadence. A group of constants is evaluated once a minute: it costs next to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vitals.alerting import names
from vitals.alerting.options import LEVELS, AlertingOptions
from vitals.catalog import Catalog, Indicator
from vitals.health.levels import condition_text


def indicator_labels(indicator: Indicator) -> dict[str, str]:
    labels = {
        "indicator": indicator.id, "domain": indicator.domain, "metric": indicator.metric,
        "name_zh": indicator.name_zh, "name_en": indicator.name_en, "unit": indicator.unit,
        "bad": indicator.bad, "basis": indicator.basis, "cadence_s": str(indicator.cadence_s),
    }
    labels.update({f"condition_{level}": condition_text(indicator, level) for level in LEVELS})
    return labels


def area_labels(catalog: Catalog) -> list[dict[str, str]]:
    """Label sets of the city, every district and every street, in catalog order."""
    city = catalog.city
    rows = [{"scope": "city", "name_zh": city.name_zh, "name_en": city.name_en,
             "place_zh": city.name_zh, "place_en": city.name_en}]
    rows += [{"scope": "district", "district": d.id, "name_zh": d.name_zh, "name_en": d.name_en,
              "place_zh": d.name_zh, "place_en": d.name_en} for d in catalog.districts]
    district = {d.id: d for d in catalog.districts}
    rows += [{"scope": "street", "district": s.district_id, "street": s.id, "name_zh": s.name_zh,
              "name_en": s.name_en, "place_zh": f"{district[s.district_id].name_zh} {s.name_zh}",
              "place_en": f"{s.name_en}, {district[s.district_id].name_en}"} for s in catalog.streets]
    return rows


def _constant(record: str, labels: dict[str, str], value: float = 1.0) -> dict[str, Any]:
    return {"record": record, "expr": f"vector({value:g})", "labels": labels}


def catalog_groups(
    catalog: Catalog, options: AlertingOptions, keep_area: Callable[[dict[str, str]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Rule groups of constant catalog series (areas restricted to ``keep_area`` when given)."""
    stale = options.sensitivity.stale_cadences
    indicator_rules = [_constant(names.INDICATOR_INFO, indicator_labels(i)) for i in catalog.indicators]
    indicator_rules += [
        _constant(names.STALE_AFTER, {"indicator": i.id, "domain": i.domain}, stale * i.cadence_s)
        for i in catalog.indicators
    ]
    area_rules = [_constant(names.AREA_INFO, labels) for labels in area_labels(catalog)
                  if keep_area is None or keep_area(labels)]
    interval = {"interval": options.catalog_interval} if options.catalog_interval else {}
    return [{"name": "vitals-catalog-indicators", **interval, "rules": indicator_rules},
            {"name": "vitals-catalog-areas", **interval, "rules": area_rules}]
