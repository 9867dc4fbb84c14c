"""PromQL for the dashboards, built from the catalog and :mod:`vitals.metric_names` only.

Per-indicator values are ``<Indicator.metric>{indicator, district, street, stat, window}``; the latest value is
``stat="last", window="now"``. Place names and coordinates come from the catalog, not from the exporter: the
map joins the district levels with a constant vector built here (one series per district carrying its name,
latitude and longitude as labels), so the map needs nothing but the level metric.
"""

from __future__ import annotations

from vitals import metric_names as mn
from vitals.catalog.model import Catalog, Indicator

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


def worst_value(ind: Indicator) -> str:
    """The city's worst current value: max for bad=up, min for bad=down, max distance from center for both."""
    sel = indicator_value(ind)
    if ind.bad == "up":
        return f"max({sel})"
    if ind.bad == "down":
        return f"min({sel})"
    deviation = f"abs({sel})" if ind.center == 0 else f"abs({sel} - {ind.center:g})"
    return f"max({deviation})"


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


def active_warnings(extra: str = "", limit: int = 50) -> str:
    return f"topk({limit}, {sel(mn.WARNING_LEVEL, extra)} >= 1)"


SERIES = "indicator, district, street"


def early_warnings(limit: int = 50) -> str:
    """Series whose forecast level (any horizon) is above their current level."""
    return (f"topk({limit}, max by ({SERIES}) ({mn.FORECAST_LEVEL}) "
            f"> max by ({SERIES}) ({mn.WARNING_LEVEL}))")


def seconds_to_orange_of_early_warnings(limit: int = 50) -> str:
    return (f'min by ({SERIES}) ({mn.SECONDS_TO_THRESHOLD}{{level="orange"}}) '
            f"and on ({SERIES}) ({early_warnings(limit)})")


def predicted_orange_soon() -> str:
    """Series predicted to be at orange or worse within 30 minutes (horizons 15m and 30m)."""
    return (f'count(max by ({SERIES}) ({mn.FORECAST_LEVEL}{{horizon=~"15m|30m"}}) >= 3 '
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
