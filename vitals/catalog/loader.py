"""Load and validate a catalog file. Every mistake is collected and reported at once.

A problem names the file, the entry (e.g. ``indicators[3] (water_pressure)``) and says in plain words
what is wrong and what is expected. Anything unexpected in the file raises :class:`CatalogError`,
never another exception.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from vitals.catalog.model import (
    DOMAINS,
    Catalog,
    City,
    District,
    Hysteresis,
    Indicator,
    Seasonality,
    Thresholds,
)
from vitals.catalog.streets import generate_streets
from vitals.errors import CatalogError

log = logging.getLogger(__name__)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_METRIC = re.compile(r"^vitals_[a-z0-9_]+$")
_PROFILES = ("flat", "commute", "daytime", "evening")
_LEVELS = ("blue", "yellow", "orange", "red")
_INDICATOR_KEYS = {
    "id", "domain", "name_zh", "name_en", "unit", "metric", "cadence_s", "valid_range", "bad", "basis",
    "center", "thresholds", "seasonality", "weight", "display",
}
_SEASON_KEYS = {"profile", "base", "amplitude", "weekend", "noise"}
_DISTRICT_KEYS = {"id", "name_zh", "name_en", "lat", "lon", "streets"}

DEFAULT_CATALOG_NAME = "catalog.yaml"


def default_catalog_path() -> Path:
    """Path of the catalog shipped inside the package."""
    return Path(str(resources.files("vitals").joinpath("data", DEFAULT_CATALOG_NAME)))


class _Problems:
    """Collects problems as 'entry: explanation' lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, entry: str, message: str) -> None:
        self.items.append(f"{entry}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            lines = "\n".join(f"  - {p}" for p in self.items)
            msg = f"catalog {self.source} has {len(self.items)} problem(s):\n{lines}"
            raise CatalogError(msg)


def _number(p: _Problems, entry: str, field: str, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        p.add(entry, f"`{field}` must be a number, got {value!r}")
        return None
    if not math.isfinite(float(value)):
        p.add(entry, f"`{field}` must be finite, got {value!r}")
        return None
    return float(value)


def _text(p: _Problems, entry: str, field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        p.add(entry, f"`{field}` must be a non-empty text, got {value!r}")
        return None
    return value


def _thresholds_in_order(p: _Problems, entry: str, th: tuple[float, ...], bad: str) -> bool:
    if bad == "down":
        ok = all(a > b for a, b in itertools.pairwise(th))
        order = "decreasing (lower values are worse)"
    else:
        ok = all(a < b for a, b in itertools.pairwise(th))
        order = "increasing (higher values are worse)" if bad == "up" else "increasing distances from center"
    if not ok:
        shown = ", ".join(f"{n}={v:g}" for n, v in zip(_LEVELS, th, strict=True))
        p.add(entry, f"thresholds out of order ({shown}); for bad={bad} they must be strictly {order}")
    return ok


def _parse_thresholds(p: _Problems, entry: str, raw: Any, bad: str) -> Thresholds | None:
    if not isinstance(raw, Mapping):
        p.add(entry, "`thresholds` must be a mapping with blue, yellow, orange and red")
        return None
    missing = [k for k in _LEVELS if k not in raw]
    if missing:
        p.add(entry, f"`thresholds` is missing {', '.join(missing)}")
        return None
    extra = sorted(set(map(str, raw)) - set(_LEVELS))
    if extra:
        p.add(entry, f"`thresholds` has unknown level(s) {', '.join(extra)}; use blue, yellow, orange, red")
    values = [_number(p, entry, f"thresholds.{k}", raw[k]) for k in _LEVELS]
    if any(v is None for v in values):
        return None
    th = tuple(float(v) for v in values if v is not None)
    if bad in ("up", "down", "both") and not _thresholds_in_order(p, entry, th, bad):
        return None
    return Thresholds(*th)


def _parse_seasonality(p: _Problems, entry: str, raw: Any) -> Seasonality | None:
    if not isinstance(raw, Mapping):
        p.add(entry, "`seasonality` must be a mapping with profile, base, amplitude, weekend, noise")
        return None
    missing = sorted(_SEASON_KEYS - set(raw))
    if missing:
        p.add(entry, f"`seasonality` is missing {', '.join(missing)}")
        return None
    extra = sorted(set(map(str, raw)) - _SEASON_KEYS)
    if extra:
        p.add(entry, f"`seasonality` has unknown field(s) {', '.join(extra)}")
    profile = raw["profile"]
    if profile not in _PROFILES:
        p.add(entry, f"seasonality profile {profile!r} is unknown; use one of {', '.join(_PROFILES)}")
        return None
    nums = [_number(p, entry, f"seasonality.{k}", raw[k]) for k in ("base", "amplitude", "weekend", "noise")]
    if any(v is None for v in nums):
        return None
    base, amp, weekend, noise = (float(v) for v in nums if v is not None)
    if noise <= 0:
        p.add(entry, f"seasonality noise must be > 0 (one standard deviation), got {noise:g}")
        return None
    return Seasonality(profile, base, amp, weekend, noise)


def _parse_display(p: _Problems, entry: str, raw: Any) -> tuple[str, float]:
    """The optional ``display: {unit, factor}``: how dashboards show the value (``value * factor`` in ``unit``)."""
    if raw is None:
        return "", 1.0
    if not isinstance(raw, Mapping) or set(map(str, raw)) != {"unit", "factor"}:
        p.add(entry, f"`display` must be a mapping with exactly unit and factor, got {raw!r}")
        return "", 1.0
    unit = _text(p, entry, "display.unit", raw["unit"])
    factor = _number(p, entry, "display.factor", raw["factor"])
    if factor is not None and factor <= 0:
        p.add(entry, f"`display.factor` must be > 0 (shown value = value x factor), got {factor:g}")
    return str(unit or ""), float(factor or 1.0)


def _parse_indicator(p: _Problems, i: int, raw: Any) -> Indicator | None:
    ident = raw.get("id") if isinstance(raw, Mapping) else None
    entry = f"indicators[{i}]" + (f" ({ident})" if isinstance(ident, str) else "")
    if not isinstance(raw, Mapping):
        p.add(entry, f"an indicator must be a mapping of fields, got {type(raw).__name__}")
        return None
    required = _INDICATOR_KEYS - {"center", "display"}
    missing = sorted(required - set(raw))
    if missing:
        p.add(entry, f"missing field(s) {', '.join(missing)}")
        return None
    extra = sorted(set(map(str, raw)) - _INDICATOR_KEYS)
    if extra:
        p.add(entry, f"unknown field(s) {', '.join(extra)}")
    n_before = len(p.items)
    if not isinstance(ident, str) or not _ID.match(ident):
        p.add(entry, f"`id` must be lower-case letters, digits and _ starting with a letter, got {ident!r}")
    domain = raw["domain"]
    if domain not in DOMAINS:
        p.add(entry, f"unknown domain {domain!r}; known domains: {', '.join(DOMAINS)}")
    texts = {k: _text(p, entry, k, raw[k]) for k in ("name_zh", "name_en", "unit")}
    metric = raw["metric"]
    if not isinstance(metric, str) or not _METRIC.match(metric) or metric.endswith("_total"):
        p.add(entry, f"`metric` must match vitals_[a-z0-9_]+ and not end in _total, got {metric!r}")
    cadence = raw["cadence_s"]
    if isinstance(cadence, bool) or not isinstance(cadence, int) or cadence <= 0:
        p.add(entry, f"`cadence_s` must be a positive whole number of seconds, got {cadence!r}")
    bad = raw["bad"]
    if bad not in ("up", "down", "both"):
        p.add(entry, f"`bad` must be up, down or both, got {bad!r}")
    basis = raw["basis"]
    if basis not in ("value", "zscore"):
        p.add(entry, f"`basis` must be value or zscore, got {basis!r}")
    vr = raw["valid_range"]
    vmin = vmax = None
    if not isinstance(vr, list | tuple) or len(vr) != 2:
        p.add(entry, f"`valid_range` must be [min, max], got {vr!r}")
    else:
        vmin, vmax = _number(p, entry, "valid_range[0]", vr[0]), _number(p, entry, "valid_range[1]", vr[1])
        if vmin is not None and vmax is not None and vmin >= vmax:
            p.add(entry, f"valid_range min {vmin:g} must be below max {vmax:g}")
    center = _number(p, entry, "center", raw.get("center", 0.0))
    weight = _number(p, entry, "weight", raw["weight"])
    if weight is not None and weight < 0:
        p.add(entry, f"`weight` must be >= 0, got {weight:g}")
    thresholds = _parse_thresholds(p, entry, raw["thresholds"], str(bad))
    display_unit, display_factor = _parse_display(p, entry, raw.get("display"))
    seasonality = _parse_seasonality(p, entry, raw["seasonality"])
    if thresholds and vmin is not None and vmax is not None and basis == "value" and bad != "both":
        outside = [f"{n}={v:g}" for n, v in zip(_LEVELS, thresholds.as_tuple(), strict=True)
                   if not vmin <= v <= vmax]
        if outside:
            p.add(entry, f"threshold(s) {', '.join(outside)} lie outside valid_range [{vmin:g}, {vmax:g}]")
    if len(p.items) > n_before:
        return None
    if thresholds is None or seasonality is None:  # already reported above
        return None
    return Indicator(
        id=str(ident), domain=str(domain), name_zh=str(texts["name_zh"]), name_en=str(texts["name_en"]),
        unit=str(texts["unit"]), metric=str(metric), cadence_s=int(cadence), valid_min=float(vmin or 0.0),
        valid_max=float(vmax or 0.0), bad=bad, basis=basis, center=float(center or 0.0),
        thresholds=thresholds, seasonality=seasonality, weight=float(weight or 0.0),
        display_unit=display_unit, display_factor=display_factor,
    )


def _parse_district(p: _Problems, i: int, raw: Any) -> District | None:
    ident = raw.get("id") if isinstance(raw, Mapping) else None
    entry = f"areas.districts[{i}]" + (f" ({ident})" if isinstance(ident, str) else "")
    if not isinstance(raw, Mapping):
        p.add(entry, f"a district must be a mapping of fields, got {type(raw).__name__}")
        return None
    missing = sorted(_DISTRICT_KEYS - set(raw))
    if missing:
        p.add(entry, f"missing field(s) {', '.join(missing)}")
        return None
    extra = sorted(set(map(str, raw)) - _DISTRICT_KEYS)
    if extra:
        p.add(entry, f"unknown field(s) {', '.join(extra)}")
    n_before = len(p.items)
    if not isinstance(ident, str) or not _ID.match(ident):
        p.add(entry, f"`id` must be lower-case pinyin letters, digits and _, got {ident!r}")
    zh, en = _text(p, entry, "name_zh", raw["name_zh"]), _text(p, entry, "name_en", raw["name_en"])
    lat, lon = _number(p, entry, "lat", raw["lat"]), _number(p, entry, "lon", raw["lon"])
    if lat is not None and not -90 <= lat <= 90:
        p.add(entry, f"`lat` must be within [-90, 90], got {lat:g}")
    if lon is not None and not -180 <= lon <= 180:
        p.add(entry, f"`lon` must be within [-180, 180], got {lon:g}")
    n = raw["streets"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        p.add(entry, f"`streets` must be a whole number >= 1, got {n!r}")
    if len(p.items) > n_before:
        return None
    return District(str(ident), str(zh), str(en), float(lat or 0), float(lon or 0), int(n))


def _texts_of(items: list[Any], key: str) -> list[str]:
    """The text values of ``key`` in the mapping items of a list (others are reported elsewhere)."""
    return [str(r[key]) for r in items if isinstance(r, Mapping) and isinstance(r.get(key), str)]


def _duplicates(p: _Problems, kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            p.add(kind, f"duplicate id {ident!r}; ids must be unique")
        seen.add(ident)


def _parse_city(p: _Problems, raw: Any) -> City | None:
    if not isinstance(raw, Mapping):
        p.add("city", "must be a mapping with id, name_zh, name_en, timezone_offset_hours, lat, lon")
        return None
    try:
        return City(str(raw["id"]), str(raw["name_zh"]), str(raw["name_en"]),
                    float(raw["timezone_offset_hours"]), float(raw["lat"]), float(raw["lon"]))
    except (KeyError, TypeError, ValueError) as exc:
        p.add("city", f"missing or invalid field ({exc}); needs id, name_zh, name_en, "
                      "timezone_offset_hours, lat, lon")
        return None


def _parse_hysteresis(p: _Problems, raw: Any) -> Hysteresis:
    if raw is None:
        return Hysteresis(0.05, 3)
    if not isinstance(raw, Mapping):
        p.add("hysteresis", "must be a mapping with margin and intervals")
        return Hysteresis(0.05, 3)
    margin = _number(p, "hysteresis", "margin", raw.get("margin", 0.05))
    intervals = raw.get("intervals", 3)
    if margin is not None and not 0 <= margin < 1:
        p.add("hysteresis", f"`margin` must be within [0, 1), got {margin:g}")
    if isinstance(intervals, bool) or not isinstance(intervals, int) or intervals < 1:
        p.add("hysteresis", f"`intervals` must be a whole number >= 1, got {intervals!r}")
        intervals = 3
    return Hysteresis(float(margin or 0.0), int(intervals))


def parse_catalog(data: Any, source: str = "<memory>", streets_total: int | None = None) -> Catalog:
    """Validate a parsed catalog document and build a :class:`Catalog`.

    ``streets_total`` scales the generated streets (default: the sum of the districts' counts).
    """
    p = _Problems(source)
    if not isinstance(data, Mapping):
        p.add("<top>", f"a catalog must be a mapping with city, indicators and areas, got {type(data).__name__}")
        p.raise_if_any()
    for key in ("city", "indicators", "areas"):
        if key not in data:
            p.add("<top>", f"missing section `{key}`")
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        p.add("version", f"must be a whole number, got {version!r}")
        version = 1
    city = _parse_city(p, data.get("city"))
    hysteresis = _parse_hysteresis(p, data.get("hysteresis"))
    raw_inds = data.get("indicators", [])
    if not isinstance(raw_inds, list) or not raw_inds:
        p.add("indicators", "must be a non-empty list")
        raw_inds = []
    indicators = [_parse_indicator(p, i, r) for i, r in enumerate(raw_inds)]
    _duplicates(p, "indicators", _texts_of(raw_inds, "id"))
    _duplicates(p, "indicators (metric)", _texts_of(raw_inds, "metric"))
    areas = data.get("areas", {})
    raw_d = areas.get("districts", []) if isinstance(areas, Mapping) else []
    if not isinstance(raw_d, list) or not raw_d:
        p.add("areas.districts", "must be a non-empty list")
        raw_d = []
    districts = [_parse_district(p, i, r) for i, r in enumerate(raw_d)]
    _duplicates(p, "areas.districts", _texts_of(raw_d, "id"))
    if streets_total is not None and (streets_total < len(raw_d)):
        p.add("streets_total", f"{streets_total} is fewer than one street per district ({len(raw_d)})")
    p.raise_if_any()
    if city is None:  # pragma: no cover - a missing city is reported above
        msg = f"catalog {source}: no city"
        raise CatalogError(msg)
    good_d = tuple(d for d in districts if d is not None)
    return Catalog(
        version=int(version), city=city, hysteresis=hysteresis,
        indicators=tuple(i for i in indicators if i is not None), districts=good_d,
        streets=generate_streets(good_d, streets_total), source=source,
    )


def load_catalog(path: str | Path | None = None, streets_total: int | None = None) -> Catalog:
    """Load a catalog file (default: the model city shipped with the package)."""
    file = Path(path) if path is not None else default_catalog_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read catalog {file}: {exc.strerror or exc}; pass an existing YAML file"
        raise CatalogError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"catalog {file} is not UTF-8 text ({exc.reason})"
        raise CatalogError(msg) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"catalog {file} is not valid YAML: {exc}"
        raise CatalogError(msg) from exc
    catalog = parse_catalog(data, source=str(file), streets_total=streets_total)
    log.debug("loaded catalog %s: %d indicators, %d districts, %d streets", file,
              catalog.n_indicators, len(catalog.districts), catalog.n_streets)
    return catalog

