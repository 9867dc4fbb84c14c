"""What is exported at which level (street, district, city): the cardinality decision, as configuration.

The full-scale model city has 1,031 streets x 28 indicators = 28,868 series. Exporting every vital of every
series (last, EWMA, 5 statistics x 3 windows, data quality, scores, forecasts: ~30 numbers) would be ~870k
samples per scrape. :class:`ExportPolicy` keeps what an operator acts on per street (the value, the warning
level, staleness, and *exceptional* states: stuck sensors, high anomaly scores, forecast warnings) and moves
window statistics and model context to the district (1,064 indicator x district groups); everything else stays in
the Parquet history. ``docs/metrics.md`` explains each choice; :func:`estimate_samples` gives the sizes.

Column names of the :class:`~vitals.state.view.VitalsView` that feed each family (columns a view does not have
are skipped, so detectors and forecasters add families by adding columns):
``last, ewma, <stat>_<window>, level, seconds_since_last, stuck, dropout_ratio, anomaly_score,
expected_lower|expected_mid|expected_upper, forecast_<h>, forecast_level_<h>, seconds_to_<level>``. The
forecast horizons ``<h>`` follow the catalog's cadence (:mod:`vitals.forecasting.cadence`: ``15m``, ``30m``, ``1h``
on the 5-minute grid, ``3h``, ``6h``, ``12h`` on an hourly one), so :func:`series_families` takes the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.catalog.model import LEVELS
from vitals.errors import ConfigError
from vitals.forecasting.cadence import catalog_cadence

Aggregation = Literal["mean", "weighted_mean", "min", "max", "sum"]
WINDOW_STAT_AGGREGATION: dict[str, Aggregation] = {
    # how a district value is made from its streets' values of the same statistic
    "last": "mean", "ewma": "mean", "mean": "weighted_mean", "min": "min", "max": "max",
    "p95": "max",  # the worst street's p95: an upper bound of the pooled p95
    "rate": "mean",
}


@dataclass(frozen=True)
class Member:
    """One view column feeding a family, with the fixed labels its samples carry."""

    column: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SeriesFamily:
    """A family with one sample per series (street scope) or per indicator x district (district scope)."""

    name: str
    help: str
    members: tuple[Member, ...]
    with_domain: bool = False      # add the ``domain`` label
    district_aggregation: Aggregation = "max"


def series_families(catalog: Catalog) -> dict[str, SeriesFamily]:
    """The per-series families of a catalog (the forecast families carry its cadence's horizons)."""
    return _families(catalog_cadence(catalog).horizon_labels)


def _families(horizons: tuple[str, ...]) -> dict[str, SeriesFamily]:
    return {f.name: f for f in (
        SeriesFamily(mn.WARNING_LEVEL, "Warning level after hysteresis: 0 normal, 1 blue, 2 yellow, 3 orange, 4 red.",
                     (Member("level"),), with_domain=True),
        SeriesFamily(mn.SECONDS_SINCE_LAST_READING,
                     "Seconds from the last reading to the shard's event-time clock, or the wall clock (live) or "
                     "replay clock (paced) when later.",
                     (Member("seconds_since_last"),)),
        SeriesFamily(mn.SENSOR_STUCK, "1 when the value has not changed for the configured number of cadences.",
                     (Member("stuck"),)),
        SeriesFamily(mn.DROPOUT_RATIO, "Share of the readings expected over the last hour (catalog cadence) missing.",
                     (Member("dropout_ratio"),), district_aggregation="mean"),
        SeriesFamily(mn.ANOMALY_SCORE, "Anomaly score calibrated to [0, 1] (higher is more abnormal).",
                     (Member("anomaly_score"),)),
        SeriesFamily(mn.EXPECTED_VALUE, "Expected value (seasonal baseline) and its band, in the indicator's unit.",
                     tuple(Member(f"expected_{b}", (("bound", b),)) for b in ("lower", "mid", "upper")),
                     district_aggregation="mean"),
        SeriesFamily(mn.FORECAST_VALUE, "Forecast value at each horizon, in the indicator's unit.",
                     tuple(Member(f"forecast_{h}", (("horizon", h),)) for h in horizons), district_aggregation="mean"),
        SeriesFamily(mn.FORECAST_LEVEL, "Warning level the forecast reaches at each horizon (0..4).",
                     tuple(Member(f"forecast_level_{h}", (("horizon", h),)) for h in horizons)),
        SeriesFamily(mn.SECONDS_TO_THRESHOLD, "Seconds until the forecast crosses each warning threshold.",
                     tuple(Member(f"seconds_to_{lv}", (("level", lv),)) for lv in LEVELS),
                     district_aggregation="min"),
    )}


FAMILY_NAMES: tuple[str, ...] = tuple(_families(()))

DEFAULT_DISTRICT_VALUE_STATS: tuple[str, ...] = (
    *(f"{stat}_{window}" for window in mn.WINDOWS for stat in ("mean", "min", "max", "p95", "rate")), "ewma",
)


@dataclass(frozen=True)
class ExportPolicy:
    """Which vitals are exported per street and per district (area health is always per street/district/city).

    ``*_value_stats`` name view columns of the per-indicator value families (``Indicator.metric``):
    ``last``/``ewma`` (labels stat=<name>, window="now") or ``<stat>_<window>`` (e.g. ``p95_1h``).
    ``street_sparse_min`` exports a street-scope family only where its value is at least the given minimum
    (e.g. only stuck sensors, only anomaly scores >= 0.5): absent means "below", which alert rules and
    ``topk`` panels handle naturally. A family or statistic is exported at one scope only, so that one
    family never mixes street rows and district aggregates.
    """

    street_value_stats: tuple[str, ...] = ("last",)
    district_value_stats: tuple[str, ...] = DEFAULT_DISTRICT_VALUE_STATS
    street_families: tuple[str, ...] = (
        mn.WARNING_LEVEL, mn.SECONDS_SINCE_LAST_READING, mn.SENSOR_STUCK, mn.ANOMALY_SCORE, mn.FORECAST_LEVEL,
        mn.SECONDS_TO_THRESHOLD,
    )
    district_families: tuple[str, ...] = (mn.DROPOUT_RATIO, mn.EXPECTED_VALUE, mn.FORECAST_VALUE)
    street_sparse_min: tuple[tuple[str, float], ...] = (
        (mn.SENSOR_STUCK, 1.0), (mn.ANOMALY_SCORE, mn.ANOMALY_THRESHOLD), (mn.FORECAST_LEVEL, 1.0),
    )
    street_indicators: tuple[str, ...] | None = None  # restrict street-scope samples to these indicator ids
    explain_min: float = mn.ANOMALY_THRESHOLD  # explanation info for series with an anomaly score at least this
    area: bool = True          # health index and worst level per street, district and city
    static_info: bool = True   # vitals_area_info, vitals_indicator_info, vitals_threshold

    def __post_init__(self) -> None:
        problems = [f"unknown family {name!r}" for name in (*self.street_families, *self.district_families)
                    if name not in FAMILY_NAMES]
        problems += [f"{name} is exported at both street and district scope; choose one"
                     for name in set(self.street_families) & set(self.district_families)]
        problems += [f"value statistic {stat!r} is exported at both scopes; choose one"
                     for stat in set(self.street_value_stats) & set(self.district_value_stats)]
        problems += [f"value statistic {stat!r} is not last, ewma or <stat>_<window>"
                     for stat in (*self.street_value_stats, *self.district_value_stats) if not _valid_stat(stat)]
        if problems:
            msg = "invalid export policy: " + "; ".join(problems)
            raise ConfigError(msg)

    def sparse_min(self, family: str) -> float | None:
        return dict(self.street_sparse_min).get(family)

    @classmethod
    def everything_per_street(cls) -> ExportPolicy:
        """Every vital of every series at street level: for small catalogs and tests, not for 28k series."""
        stats = ("last", "ewma", *(f"{s}_{w}" for w in mn.WINDOWS for s in ("mean", "min", "max", "p95", "rate")))
        return cls(street_value_stats=stats, district_value_stats=(), street_families=FAMILY_NAMES,
                   district_families=(), street_sparse_min=())


def stat_labels(stat: str) -> tuple[str, str]:
    """(stat, window) label values of a value statistic: ``last`` -> (last, now), ``p95_1h`` -> (p95, 1h)."""
    if stat in ("last", "ewma"):
        return stat, "now"
    name, _, window = stat.partition("_")
    return name, window


def _valid_stat(stat: str) -> bool:
    if stat in ("last", "ewma"):
        return True
    name, _, window = stat.partition("_")
    return name in WINDOW_STAT_AGGREGATION and bool(window)


def estimate_samples(catalog: Catalog, policy: ExportPolicy, sparse_share: float = 0.02) -> dict[str, int]:
    """Samples per scrape by scope when every series has data and every optional column exists.

    Sparse street families are counted at ``sparse_share`` of the series (e.g. 2% stuck or anomalous).
    """
    n_ind = len(policy.street_indicators) if policy.street_indicators is not None else catalog.n_indicators
    street_series = n_ind * catalog.n_streets
    groups = catalog.n_indicators * len(catalog.districts)
    families = series_families(catalog)
    street = street_series * len(policy.street_value_stats)
    for name in policy.street_families:
        share = sparse_share if policy.sparse_min(name) is not None or name == mn.SECONDS_TO_THRESHOLD else 1.0
        street += round(street_series * len(families[name].members) * share)
    district = groups * (len(policy.district_value_stats)
                         + sum(len(families[n].members) for n in policy.district_families))
    areas = 1 + len(catalog.districts) + catalog.n_streets
    area = 2 * areas if policy.area else 0
    static = areas + catalog.n_indicators * 5 if policy.static_info else 0
    return {"street": street, "district": district, "area": area, "static": static,
            "total": street + district + area + static}
