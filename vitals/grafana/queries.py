"""PromQL for the dashboards, built from the catalog and :mod:`vitals.metric_names` only.

Per-indicator values are ``<Indicator.metric>{indicator, district, street, stat, window}``; the latest value is
``stat="last", window="now"``. Place names and coordinates come from the catalog, not from the exporter: the
map joins the district levels with a constant vector built here (one series per district carrying its name,
latitude and longitude as labels), so the map needs nothing but the level metric.
"""

from __future__ import annotations

from vitals import metric_names as mn
from vitals.catalog.model import Catalog, Indicator
from vitals.forecasting.cadence import catalog_cadence

LAST = 'stat="last",window="now"'


def sel(metric: str, *matchers: str) -> str:
    """A selector ``metric{m1,m2}`` (empty matchers are left out, and so are empty braces)."""
    inner = ",".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


def eq(label: str, value: str) -> str:
    """A label matcher ``label="value"``."""
    return f'{label}="{value}"'


def indicator_value(ind: Indicator, extra: str = "") -> str:
    """The latest value of every street of one indicator, optionally narrowed by ``extra`` matchers."""
    return sel(ind.metric, eq("indicator", ind.id), LAST, extra)


def any_indicator_value(catalog: Catalog, extra: str, stat_matcher: str = LAST) -> str:
    """Values of whichever catalog indicator ``extra`` selects (e.g. ``indicator="$indicator"``).

    The metric name differs per indicator, so the selector names every catalog metric in ``__name__``.
    """
    names = "|".join(dict.fromkeys(i.metric for i in catalog.indicators))
    name_matcher = f'__name__=~"{names}"'
    return sel("", name_matcher, extra, stat_matcher)


def number(x: float) -> str:
    """A PromQL number literal (no exponent for the factors in use: 3.6, 100, 1000, 1000000)."""
    return format(x, ".15g")


def shown(ind: Indicator, expr: str) -> str:
    """``expr`` (base unit) in the unit people read: times the catalog's ``display_factor``."""
    return expr if ind.display_factor == 1 else f"{expr} * {number(ind.display_factor)}"


def display_factors(catalog: Catalog) -> str:
    """A constant vector: the display factor of every indicator shown in another unit than its base unit."""
    terms = [f'label_replace(vector({number(i.display_factor)}), "indicator", "{i.id}", "", "")'
             for i in catalog.indicators if i.display_factor != 1]
    return " or ".join(terms)


def shown_any(catalog: Catalog, expr: str) -> str:
    """Values of any indicator (an ``indicator`` label) in the unit people read: the scaled ones multiplied by
    their factor, the others as they are."""
    factors = display_factors(catalog)
    if not factors:
        return expr
    return f"({expr}) * on (indicator) group_left () ({factors}) or (({expr}) unless on (indicator) ({factors}))"


def worst_value(ind: Indicator) -> str:
    """The city's worst current value: max for bad=up, min for bad=down, max distance from center for both;
    in the unit people read."""
    sel = indicator_value(ind)
    if ind.bad == "up":
        return shown(ind, f"max({sel})")
    if ind.bad == "down":
        return shown(ind, f"min({sel})")
    deviation = f"abs({sel})" if ind.center == 0 else f"abs({sel} - {ind.center:g})"
    return shown(ind, f"max({deviation})")


def worst_level(extra: str) -> str:
    return f"max({sel(mn.WARNING_LEVEL, extra)})"


def area_level(scope: str, by: str = "", extra: str = "") -> str:
    levels = sel(mn.AREA_WARNING_LEVEL, eq("scope", scope), extra)
    return f"max by ({by}) ({levels})" if by else f"max({levels})"


def area_health(scope: str, by: str = "", extra: str = "") -> str:
    health = sel(mn.HEALTH_INDEX, eq("scope", scope), extra)
    return f"min by ({by}) ({health})" if by else f"min({health})"


def count_at_level(level: int, extra: str = "") -> str:
    """How many series are at exactly this level (0 when none)."""
    return f"count({sel(mn.WARNING_LEVEL, extra)} == {level}) or vector(0)"


def areas_at_level(scope: str, level: int) -> str:
    """How many areas of a scope (district, street) are at exactly this area level (0 when none)."""
    return f"count({area_level(scope, by=scope)} == {level}) or vector(0)"


def active_warnings(extra: str = "", limit: int = 50) -> str:
    return f"topk({limit}, {named(sel(mn.WARNING_LEVEL, extra) + ' >= 1')})"


# Names for tables: the exporter's info families, one name label each (max by: one sample per name even when
# several processes export them).
INDICATOR_NAME, PLACE = "indicator_name", "place"
NAME_LABELS = (INDICATOR_NAME, PLACE)


def _names(metric: str, matcher: str, key: str, target: str) -> str:
    joined = f'label_join({sel(metric, matcher)}, "{target}", " ", "name_zh", "name_en")'
    return f"max by ({key}, {target}) ({joined})"


def named(expr: str) -> str:
    """Series with ``indicator, district, street`` labels, with ``indicator_name`` (e.g. "供水管网压力 Water network
    pressure") and ``place`` (e.g. "渝中区第1街道 Yuzhong Street 1") from the exporter's info families. A series
    whose names are missing keeps its ids as names, so a missing info series never hides a row."""
    indicators = _names(mn.INDICATOR_INFO, "", "indicator", INDICATOR_NAME)
    places = _names(mn.AREA_INFO, eq("scope", "street"), "street", PLACE)
    with_names = (f"({expr}) * on (indicator) group_left ({INDICATOR_NAME}) {indicators}"
                  f" * on (street) group_left ({PLACE}) {places}")
    ids = f'label_join(label_join({expr}, "{INDICATOR_NAME}", "", "indicator"), "{PLACE}", "", "street")'
    return f"({with_names}) or on (indicator, district, street) ({ids})"


SERIES = "indicator, district, street"


def early_warnings(limit: int = 50, names: bool = False) -> str:
    """Series whose forecast level (any horizon) is above their current level (with names for tables)."""
    ahead = f"max by ({SERIES}) ({mn.FORECAST_LEVEL}) > max by ({SERIES}) ({mn.WARNING_LEVEL})"
    return f"topk({limit}, {named(ahead) if names else ahead})"


def seconds_to_orange_of_early_warnings(limit: int = 50) -> str:
    return (f'min by ({SERIES}) ({mn.SECONDS_TO_THRESHOLD}{{level="orange"}}) '
            f"and on ({SERIES}) ({early_warnings(limit)})")


def top_anomalies_named(extra: str = "", limit: int = 10) -> str:
    return f"topk({limit}, {named(sel(mn.ANOMALY_SCORE, extra))})"


def street_levels_on_map(extra: str) -> str:
    """Street area levels with each street's name and centroid (``name``, ``lat``, ``lon``) from the exporter's
    ``vitals_area_info`` (for the drill-down map)."""
    info = f'label_join({sel(mn.AREA_INFO, eq("scope", "street"), extra)}, "name", " ", "name_zh", "name_en")'
    return (f"{area_level('street', by='street', extra=extra)} "
            f"* on (street) group_left (name, lat, lon) max by (street, name, lat, lon) ({info})")


def predicted_orange_soon(catalog: Catalog) -> str:
    """Series predicted to be at orange or worse within the early-warning horizon of the catalog's cadence: its
    forecasts up to that horizon (15m and 30m on the 5-minute grid, 3h and 6h on an hourly one)."""
    cadence = catalog_cadence(catalog)
    horizons = "|".join(cadence.horizons_within(cadence.early_warning_horizon_s))
    return (f'count(max by ({SERIES}) ({mn.FORECAST_LEVEL}{{horizon=~"{horizons}"}}) >= 3 '
            f"unless max by ({SERIES}) ({mn.WARNING_LEVEL}) >= 3) or vector(0)")


def top_anomalies(extra: str = "", limit: int = 10) -> str:
    return f"topk({limit}, {sel(mn.ANOMALY_SCORE, extra)})"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def district_places(catalog: Catalog) -> str:
    """A constant vector: one series of value 1 per district with labels district, name, lat, lon."""
    terms = []
    for d in catalog.districts:
        expr = "vector(1)"
        labels = (("district", d.id), ("name", f"{d.name_zh} {d.name_en}"), ("lat", f"{d.lat:g}"),
                  ("lon", f"{d.lon:g}"))
        for key, value in labels:
            expr = f'label_replace({expr}, "{key}", "{_quote(value)}", "", "")'
        terms.append(expr)
    return " or ".join(terms)


def district_levels_on_map(catalog: Catalog) -> str:
    """District levels with each district's name and coordinates as labels (for the geomap)."""
    return (f"{area_level('district', by='district')} "
            f"* on (district) group_left (name, lat, lon) ({district_places(catalog)})")


def rate(metric: str, by: str = "") -> str:
    inner = f"rate({metric}[$__rate_interval])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def batch_seconds_quantile(q: float) -> str:
    return f"histogram_quantile({q:g}, sum by (le) (rate({mn.BATCH_SECONDS}_bucket[$__rate_interval])))"
