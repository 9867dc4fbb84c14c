"""The indicator catalog: the single source for schemas, metric names, thresholds, rules and dashboards."""

from vitals.catalog.loader import default_catalog_path, load_catalog, parse_catalog
from vitals.catalog.model import (
    DOMAINS,
    LEVEL_NAMES,
    LEVEL_NAMES_ZH,
    Catalog,
    City,
    District,
    Indicator,
    Street,
    Thresholds,
)
from vitals.catalog.seasonality import SeasonalModel

__all__ = [
    "DOMAINS", "LEVEL_NAMES", "LEVEL_NAMES_ZH", "Catalog", "City", "District", "Indicator", "SeasonalModel",
    "Street", "Thresholds", "default_catalog_path", "load_catalog", "parse_catalog",
]
