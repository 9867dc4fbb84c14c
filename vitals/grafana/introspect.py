"""Read generated dashboards back: their panels, PromQL expressions and variables.

For the end-to-end test that runs every panel query against a real Prometheus::

    from vitals.grafana import all_panel_queries, build_dashboards, expand_variables
    for uid, title, expr in all_panel_queries(build_dashboards(catalog)):
        promql = expand_variables(expr, {"district": "yuzhong", "indicator": "water_pressure",
                                         "area": "yuzhong_s001"})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from vitals.errors import ExportError

# Grafana's built-in variables, with values that make sense for a query run by hand (override as needed).
GRAFANA_BUILTINS: dict[str, str] = {
    "__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)(?::[\w]+)?\]\]")


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard JSON, rows included, panels inside collapsed rows included."""
    for panel in dashboard.get("panels") or []:
        yield panel
        yield from panel.get("panels") or []


def panel_exprs(panel: Mapping[str, Any]) -> list[str]:
    return [t["expr"] for t in panel.get("targets") or [] if t.get("expr")]


def all_panel_queries(dashboards: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL expression) for every query of every panel, in dashboard order."""
    return [(str(d["uid"]), str(panel.get("title", "")), expr)
            for d in dashboards for panel in iter_panels(d) for expr in panel_exprs(panel)]


def variables_in(text: str) -> set[str]:
    """Names of the variables a query or URL refers to (``$x``, ``${x}``, ``${x:fmt}``, ``[[x]]``)."""
    return {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)}


def dashboard_variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Variable name -> its query, for the dashboard's template variables."""
    items = (dashboard.get("templating") or {}).get("list") or []
    return {v["name"]: str(v.get("query", "")) for v in items}


def expand_variables(expr: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """Replace dashboard and Grafana built-in variables by concrete values.

    A list value becomes a regex alternation (``a|b``), as Grafana does for multi-value variables in PromQL.
    Unknown variables raise :class:`ExportError` naming them.
    """
    known: dict[str, str | Sequence[str]] = {**GRAFANA_BUILTINS, **values}
    missing = sorted(variables_in(expr) - set(known))
    if missing:
        msg = f"no value for variable(s) {', '.join(missing)} in: {expr[:120]}"
        raise ExportError(msg)

    def value_of(match: re.Match[str]) -> str:
        value = known[next(g for g in match.groups() if g)]
        return value if isinstance(value, str) else "|".join(value)

    return _VARIABLE.sub(value_of, expr)
