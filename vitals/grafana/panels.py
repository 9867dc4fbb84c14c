"""Panel parts shared by every dashboard: the datasource, queries, level colours, catalog thresholds, units.

Colours follow the catalog: level 0 green, 1 blue, 2 yellow, 3 orange, 4 red (``LEVEL_COLOURS``). A value panel
is coloured exactly where :func:`vitals.health.levels.warning_levels` puts a value: Grafana colours a value by the
last step whose value is at or below it, so for ``bad=down`` (a value at or *below* a threshold has that level)
the steps sit one float above each threshold (``math.nextafter``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from vitals.catalog.model import LEVEL_COLOURS, LEVEL_NAMES, LEVEL_NAMES_ZH, Indicator
from vitals.health.levels import value_edges

DATASOURCE_UID = "vitals-prometheus"
DATASOURCE_TYPE = "prometheus"
DATASOURCE = dm.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

LEVEL_COLOUR_LIST: tuple[str, ...] = tuple(LEVEL_COLOURS[name] for name in LEVEL_NAMES)
# The health index (0..100) is not a catalog level: these bands only shade it (worse = warmer).
HEALTH_STEPS: tuple[tuple[float | None, str], ...] = ((None, "red"), (50, "orange"), (70, "yellow"), (85, "green"))

DOMAIN_TITLES: dict[str, tuple[str, str]] = {
    "water": ("供水", "Water"), "power": ("电力", "Power"), "gas": ("燃气", "Gas"),
    "telecom": ("通信", "Telecom"), "traffic": ("道路交通", "Roads and traffic"), "bridge": ("桥梁", "Bridges"),
    "tunnel": ("隧道", "Tunnels"), "rail": ("轨道交通", "Rail"), "drainage": ("排水", "Drainage"),
    "flood": ("防汛", "Flood"), "air": ("空气质量", "Air"), "weather": ("气象", "Weather"),
    "hotline": ("12345热线", "Hotline"), "emergency": ("应急报警", "Emergency calls"), "crowds": ("人流", "Crowds"),
}
# The wall shows these domains first (the "water, power, gas, telecom, bridges, tunnels, rail" of the city).
WALL_DOMAIN_ORDER: tuple[str, ...] = ("water", "power", "gas", "telecom", "traffic", "bridge", "tunnel", "rail")

# Grafana unit ids for the units people read (``Indicator.shown_unit``); any other unit is shown as a suffix.
# Only fixed-unit ids: SI-scaling ids (lengthmm, lengthm) would print rain of 0.3 mm as "300 µm".
_UNITS: dict[str, str] = {
    "%": "percent", "% sites": "percent", "ppm": "ppm", "km/h": "velocitykmh", "°C": "celsius", "index": "none",
    "µg/m³": "conμgm3", "μg/m³": "conμgm3",   # Grafana's id is spelled with a Greek mu
}


def title(zh: str, en: str) -> str:
    """Bilingual titles: Chinese first, then English."""
    return f"{zh} / {en}"


def domain_title(domain: str) -> str:
    zh, en = DOMAIN_TITLES.get(domain, (domain, domain.capitalize()))
    return title(zh, en)


def grafana_unit(ind: Indicator) -> str:
    """Grafana's unit id for the unit an indicator is shown in (``suffix:<unit>`` when Grafana has none)."""
    unit = ind.shown_unit
    return _UNITS.get(unit, f"suffix:{unit}")


def prom(
    expr: str, *, ref: str = "A", legend: str | None = None, instant: bool = False, table: bool = False,
) -> prometheus.Dataquery:
    """A Prometheus query on the fixed datasource."""
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    q = q.instant() if instant else q.range()
    if legend is not None:
        q = q.legend_format(legend)
    if table:
        q = q.format(pm.PromQueryFormat.TABLE)
    return q


def thresholds(steps: list[dm.Threshold]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)


def level_steps() -> list[dm.Threshold]:
    """0 green, 1 blue, 2 yellow, 3 orange, 4 red."""
    return [dm.Threshold(value=None if lvl == 0 else float(lvl), color=c) for lvl, c in enumerate(LEVEL_COLOUR_LIST)]


def level_mappings() -> list[dm.ValueMapping]:
    options = {
        str(lvl): dm.ValueMappingResult(text=f"{zh} {en.capitalize()}", color=colour, index=lvl)
        for lvl, (zh, en, colour) in enumerate(zip(LEVEL_NAMES_ZH, LEVEL_NAMES, LEVEL_COLOUR_LIST, strict=True))
    }
    return [dm.ValueMap(options=options)]


def health_steps() -> list[dm.Threshold]:
    return [dm.Threshold(value=None if v is None else float(v), color=c) for v, c in HEALTH_STEPS]


def increasing_steps(levels: Sequence[float]) -> list[dm.Threshold]:
    """Steps for a quantity where higher is worse and a value at a threshold has that level."""
    return [dm.Threshold(value=None, color=LEVEL_COLOUR_LIST[0])] + [
        dm.Threshold(value=float(t), color=LEVEL_COLOUR_LIST[lvl]) for lvl, t in enumerate(levels, start=1)
        if not math.isnan(t)  # a level the catalog does not set has no step
    ]


def _decreasing_steps(levels: Sequence[float]) -> list[dm.Threshold]:
    """Steps for a quantity where lower is worse: level k for values at or below threshold k (levels the
    catalog does not set, NaN, are skipped: the next lower set level's colour goes on)."""
    set_levels = [(lvl, float(t)) for lvl, t in enumerate(levels, start=1) if not math.isnan(t)]
    if not set_levels:
        return [dm.Threshold(value=None, color=LEVEL_COLOUR_LIST[0])]
    steps = [dm.Threshold(value=None, color=LEVEL_COLOUR_LIST[set_levels[-1][0]])]
    below = [0] + [lvl for lvl, _ in set_levels[:-1]]  # the level just above each threshold
    for (_, t), lower in zip(reversed(set_levels), reversed(below), strict=True):
        steps.append(dm.Threshold(value=math.nextafter(t, math.inf), color=LEVEL_COLOUR_LIST[lower]))
    return steps


def shown_thresholds(ind: Indicator) -> tuple[float, ...]:
    """The catalog thresholds in the unit the dashboards show (``x display_factor``; z-scores as they are)."""
    if ind.basis == "zscore":
        return ind.thresholds.as_tuple()
    return tuple(t * ind.display_factor for t in ind.thresholds.as_tuple())


def value_steps(ind: Indicator) -> list[dm.Threshold]:
    """Steps that colour an indicator's shown value by its catalog warning level (``basis=value`` only): the
    level edges of :func:`vitals.health.levels.value_edges` in the shown unit, lowest values first."""
    steps: list[dm.Threshold] = []
    for edge in value_edges(ind, ind.display_factor):
        side = increasing_steps(edge.thresholds) if edge.worse_above else _decreasing_steps(edge.thresholds)
        steps += side[1:] if steps else side  # one base step: the next side starts where the first one ends
    return steps


def deviation_steps(ind: Indicator) -> list[dm.Threshold]:
    """Steps for ``|value - center|`` of a ``bad=both`` indicator: the catalog thresholds themselves (shown unit)."""
    return increasing_steps(shown_thresholds(ind))


def thresholds_text(ind: Indicator) -> str:
    t = ind.thresholds
    basis = "seasonal z-score / 季节性Z分数" if ind.basis == "zscore" else ind.shown_unit
    side = f" (|value - {ind.center * ind.display_factor:g}|)" if ind.bad == "both" else ""
    shown = " / ".join("-" if math.isnan(v) else f"{v:g}" for v in shown_thresholds(ind))
    if not t.given():
        return f"no warning thresholds (anomaly scores and forecasts only) / 无预警阈值 {basis}{side}"
    return f"蓝/黄/橙/红 blue/yellow/orange/red: {shown} {basis}{side}"


def props(properties: dict[str, object]) -> list[dm.DynamicConfigValue]:
    """Override properties (for ``Panel.override_by_name``) from a plain mapping."""
    return [dm.DynamicConfigValue(id_val=k, value=v) for k, v in properties.items()]


def steps_json(steps: list[dm.Threshold]) -> dict[str, object]:
    """A thresholds config as plain JSON, for overrides."""
    return {"mode": "absolute", "steps": [{"value": s.value, "color": s.color} for s in steps]}


def link(title_text: str, url: str) -> dash.DashboardLink:
    return dash.DashboardLink(title_text).type(dm.DashboardLinkType.LINK).url(url)
