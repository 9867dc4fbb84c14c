"""One indicator entry of a catalog file: every field checked, every problem reported (docs/catalog.md)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from vitals.catalog import checks as c
from vitals.catalog.model import LEVELS, Indicator, Seasonality, Thresholds

PROFILES = ("flat", "commute", "daytime", "evening")
REQUIRED = {"id", "domain", "unit", "cadence_s", "valid_range", "bad"}
OPTIONAL = {"name", "name_zh", "name_en", "metric", "basis", "center", "thresholds", "seasonality", "weight",
            "flat_is_normal", "display"}
SEASON_KEYS = {"profile", "base", "amplitude", "weekend", "noise"}
FLAT_NORMAL = {False: "no", True: "any", "zero": "zero"}


def _ordered(p: c.Problems, entry: str, given: tuple[tuple[str, float], ...], bad: str) -> bool:
    values = [v for _, v in given]
    if bad == "down":
        ok = all(a > b for a, b in itertools.pairwise(values))
        order = "decreasing (lower values are worse)"
    else:
        ok = all(a < b for a, b in itertools.pairwise(values))
        order = "increasing (higher values are worse)" if bad == "up" else "increasing distances from center"
    if not ok:
        shown = ", ".join(f"{n}={v:g}" for n, v in given)
        p.add(entry, f"thresholds out of order ({shown}); for bad={bad} they must be strictly {order}")
    return ok


def _thresholds(p: c.Problems, entry: str, raw: Any, bad: str) -> Thresholds | None:
    """Any subset of the four levels (none: anomaly scores and forecasts only, no warning levels)."""
    if raw is None:
        return Thresholds()
    if not isinstance(raw, Mapping):
        p.add(entry, "`thresholds` must be a mapping of level: value for some of blue, yellow, orange, red")
        return None
    extra = sorted(set(map(str, raw)) - set(LEVELS))
    if extra:
        p.add(entry, f"`thresholds` has unknown level(s) {', '.join(extra)}; use blue, yellow, orange, red")
    values = {k: c.number(p, entry, f"thresholds.{k}", raw[k]) for k in LEVELS if k in raw}
    if extra or None in values.values():
        return None
    th = Thresholds(**{k: float(v) for k, v in values.items() if v is not None})
    if bad in ("up", "down", "both") and not _ordered(p, entry, th.given(), bad):
        return None
    return th


def _seasonality(p: c.Problems, entry: str, raw: Any) -> Seasonality | None:
    if not isinstance(raw, Mapping):
        p.add(entry, "`seasonality` must be a mapping with profile, base, amplitude, weekend, noise")
        return None
    missing = sorted(SEASON_KEYS - set(raw))
    if missing:
        p.add(entry, f"`seasonality` is missing {', '.join(missing)}")
    extra = sorted(set(map(str, raw)) - SEASON_KEYS)
    if extra:
        p.add(entry, f"`seasonality` has unknown field(s) {', '.join(extra)}")
    profile = raw.get("profile")
    if "profile" in raw and profile not in PROFILES:
        p.add(entry, f"seasonality profile {profile!r} is unknown; use one of {', '.join(PROFILES)}")
    nums = {k: c.number(p, entry, f"seasonality.{k}", raw[k]) for k in ("base", "amplitude", "weekend", "noise")
            if k in raw}
    noise = nums.get("noise")
    if noise is not None and noise <= 0:
        p.add(entry, f"seasonality noise must be > 0 (one standard deviation), got {noise:g}")
        return None
    if missing or extra or profile not in PROFILES or None in nums.values():
        return None
    return Seasonality(profile, float(nums["base"] or 0.0), float(nums["amplitude"] or 0.0),
                       float(nums["weekend"] or 0.0), float(noise or 0.0))


def default_seasonality(vmin: float, vmax: float, bad: str, center: float, th: Thresholds) -> Seasonality:
    """A flat expectation for an indicator without ``seasonality`` (docs/catalog.md): halfway between the
    normal end of the valid range and the first threshold (``center`` for bad=both), noise one eighth of the
    distance to that threshold; without thresholds the middle of the valid range, noise 1 % of the range."""
    first = th.given()[0][1] if th.given() else math.nan
    if bad == "both":
        base = center
        reach = first if math.isfinite(first) else math.nan
    elif math.isfinite(first):
        base = (vmin + first) / 2 if bad == "up" else (first + vmax) / 2
        reach = abs(first - base)
    else:
        base, reach = (vmin + vmax) / 2, math.nan
    noise = reach / 8 if math.isfinite(reach) and reach > 0 else (vmax - vmin) / 100
    return Seasonality("flat", base, 0.0, 1.0, max(noise, 1e-9))


def parse_indicator(p: c.Problems, i: int, raw: Any) -> Indicator | None:
    n_before = len(p.items)
    entry = c.open_entry(p, "indicators", i, raw, "an indicator", required=REQUIRED, optional=OPTIONAL)
    if entry is None:
        return None
    ident = c.ident(p, entry, raw.get("id")) if "id" in raw else None
    domain = c.ident(p, entry, raw["domain"], field="domain") if "domain" in raw else None
    names = c.names(p, entry, raw)
    unit = c.text(p, entry, "unit", raw["unit"]) if "unit" in raw else None
    metric = raw.get("metric", f"vitals_{ident}")
    if not isinstance(metric, str) or not c.METRIC.match(metric) or metric.endswith("_total"):
        p.add(entry, f"`metric` must match vitals_[a-z0-9_]+ and not end in _total, got {metric!r}")
    cadence = c.whole(p, entry, "cadence_s", raw["cadence_s"], 1) if "cadence_s" in raw else None
    bad = raw.get("bad")
    if "bad" in raw and bad not in ("up", "down", "both"):
        p.add(entry, f"`bad` must be up, down or both, got {bad!r}")
    basis = raw.get("basis", "value")
    if basis not in ("value", "zscore"):
        p.add(entry, f"`basis` must be value or zscore, got {basis!r}")
    vrange = _valid_range(p, entry, raw["valid_range"]) if "valid_range" in raw else None
    center = c.number(p, entry, "center", raw.get("center", 0.0))
    weight = c.number(p, entry, "weight", raw.get("weight", 1.0))
    if weight is not None and weight < 0:
        p.add(entry, f"`weight` must be >= 0, got {weight:g}")
    flat = raw.get("flat_is_normal", False)
    if not (isinstance(flat, bool) or flat == "zero"):
        p.add(entry, f"`flat_is_normal` must be false, true (any flat line is normal) or zero, got {flat!r}")
    thresholds = _thresholds(p, entry, raw.get("thresholds"), str(bad))
    display_unit, display_factor = _display(p, entry, raw.get("display"))
    seasonality: Seasonality | None = None
    if "seasonality" in raw:
        seasonality = _seasonality(p, entry, raw["seasonality"])
    elif basis == "zscore":
        p.add(entry, "basis zscore needs a `seasonality` (the z-score is against the seasonal expected value)")
    if thresholds and vrange and basis == "value" and bad != "both":
        outside = [f"{n}={v:g}" for n, v in thresholds.given() if not vrange[0] <= v <= vrange[1]]
        if outside:
            p.add(entry, f"threshold(s) {', '.join(outside)} lie outside valid_range [{vrange[0]:g}, {vrange[1]:g}]")
    if len(p.items) > n_before or thresholds is None or vrange is None or names is None:
        return None
    if "seasonality" not in raw:
        seasonality = default_seasonality(vrange[0], vrange[1], str(bad), float(center or 0.0), thresholds)
    if seasonality is None:  # pragma: no cover - reported above
        return None
    return Indicator(
        id=str(ident), domain=str(domain), name_zh=names[0], name_en=names[1], unit=str(unit), metric=str(metric),
        cadence_s=int(cadence or 1), valid_min=vrange[0], valid_max=vrange[1], bad=str(bad),  # type: ignore[arg-type]
        basis=basis,
        center=float(center or 0.0), thresholds=thresholds, seasonality=seasonality, weight=float(weight or 0.0),
        flat_normal=FLAT_NORMAL[flat],  # type: ignore[arg-type]
        display_unit=display_unit, display_factor=display_factor,
    )


def _display(p: c.Problems, entry: str, raw: Any) -> tuple[str, float]:
    """The optional ``display: {unit, factor}``: dashboards show ``value * factor`` in ``unit``."""
    if raw is None:
        return "", 1.0
    if not isinstance(raw, Mapping) or set(map(str, raw)) != {"unit", "factor"}:
        p.add(entry, f"`display` must be a mapping with exactly unit and factor, got {raw!r}")
        return "", 1.0
    unit = c.text(p, entry, "display.unit", raw["unit"])
    factor = c.number(p, entry, "display.factor", raw["factor"])
    if factor is not None and factor <= 0:
        p.add(entry, f"`display.factor` must be > 0 (shown value = value x factor), got {factor:g}")
    return str(unit or ""), float(factor or 1.0)


def _valid_range(p: c.Problems, entry: str, vr: Any) -> tuple[float, float] | None:
    if not isinstance(vr, list | tuple) or len(vr) != 2:
        p.add(entry, f"`valid_range` must be [min, max], got {vr!r}")
        return None
    vmin, vmax = c.number(p, entry, "valid_range[0]", vr[0]), c.number(p, entry, "valid_range[1]", vr[1])
    if vmin is None or vmax is None:
        return None
    if vmin >= vmax:
        p.add(entry, f"valid_range min {vmin:g} must be below max {vmax:g}")
        return None
    return vmin, vmax
