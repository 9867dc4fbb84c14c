"""Small validators shared by the catalog sections: each adds a plain problem and returns None when a field is
wrong, so one pass over a file reports every mistake (see :mod:`vitals.catalog.loader`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from vitals.errors import CatalogError

ID = re.compile(r"^[a-z][a-z0-9_]*$")
"""Ids of indicators, domains and districts (they appear in metric labels, rule names and receiver names)."""
METRIC = re.compile(r"^vitals_[a-z0-9_]+$")
STREET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
"""Ids of streets and stations: letters of either case, digits, ``_ . : -``, as the readings' ``area`` gives them."""


class Problems:
    """Collects problems as 'entry: explanation' lines; raises them all at once."""

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


def entry_name(prefix: str, i: int, raw: Any) -> str:
    """``prefix[i]``, with the entry's id when it has a text one: ``indicators[3] (water_pressure)``."""
    ident = raw.get("id") if isinstance(raw, Mapping) else None
    return f"{prefix}[{i}]" + (f" ({ident})" if isinstance(ident, str) else "")


def keys(p: Problems, entry: str, raw: Mapping[Any, Any], required: set[str], optional: set[str]) -> None:
    """Report missing required fields and unknown fields (with the known ones)."""
    missing = sorted(required - set(raw))
    if missing:
        p.add(entry, f"missing field(s) {', '.join(missing)}")
    extra = sorted(set(map(str, raw)) - required - optional)
    if extra:
        known = ", ".join(sorted(required | optional))
        p.add(entry, f"unknown field(s) {', '.join(extra)}; known fields: {known}")


def open_entry(
    p: Problems, prefix: str, i: int, raw: Any, kind: str, *, required: set[str], optional: set[str],
) -> str | None:
    """The entry name of ``prefix[i]`` after checking it is a mapping with known fields (None: not a mapping)."""
    entry = entry_name(prefix, i, raw)
    if not isinstance(raw, Mapping):
        p.add(entry, f"{kind} must be a mapping of fields, got {type(raw).__name__}")
        return None
    keys(p, entry, raw, required, optional)
    return entry


def nonempty_list(p: Problems, where: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        p.add(where, "must be a non-empty list")
        return []
    return value


def number(p: Problems, entry: str, field: str, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        p.add(entry, f"`{field}` must be a number, got {value!r}")
        return None
    if not math.isfinite(float(value)):
        p.add(entry, f"`{field}` must be finite, got {value!r}")
        return None
    return float(value)


def whole(p: Problems, entry: str, field: str, value: Any, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        p.add(entry, f"`{field}` must be a whole number >= {minimum}, got {value!r}")
        return None
    return int(value)


def text(p: Problems, entry: str, field: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        p.add(entry, f"`{field}` must be a non-empty text, got {value!r}")
        return None
    return value


def ident(p: Problems, entry: str, value: Any, pattern: re.Pattern[str] = ID, field: str = "id") -> str | None:
    if not isinstance(value, str) or not pattern.match(value):
        rule = ("lower-case letters, digits and _ starting with a letter" if pattern is ID
                else "letters, digits, _ . : - (at most 64, starting with a letter or digit)")
        p.add(entry, f"`{field}` must be {rule}, got {value!r}")
        return None
    return value


def names(p: Problems, entry: str, raw: Mapping[Any, Any]) -> tuple[str, str] | None:
    """(name_zh, name_en) from ``name`` (any language), ``name_zh`` and ``name_en``: at least one is needed;
    a missing one takes ``name`` (or the other)."""
    given = {k: text(p, entry, k, raw[k]) for k in ("name", "name_zh", "name_en") if k in raw}
    if not given:
        p.add(entry, "needs a name: `name` (any language), and optionally `name_zh` / `name_en`")
        return None
    if None in given.values():
        return None
    first = str(given.get("name") or given.get("name_en") or given.get("name_zh"))
    return str(given.get("name_zh") or first), str(given.get("name_en") or first)


def coordinates(p: Problems, entry: str, raw: Mapping[Any, Any]) -> tuple[float, float] | None:
    lat = number(p, entry, "lat", raw["lat"]) if "lat" in raw else None
    lon = number(p, entry, "lon", raw["lon"]) if "lon" in raw else None
    if lat is not None and not -90 <= lat <= 90:
        p.add(entry, f"`lat` must be within [-90, 90], got {lat:g}")
        lat = None
    if lon is not None and not -180 <= lon <= 180:
        p.add(entry, f"`lon` must be within [-180, 180], got {lon:g}")
        lon = None
    return None if lat is None or lon is None else (lat, lon)


def duplicates(p: Problems, kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            p.add(kind, f"duplicate id {item!r}; ids must be unique")
        seen.add(item)


def texts_of(items: list[Any], key: str) -> list[str]:
    """The text values of ``key`` in the mapping items of a list (others are reported elsewhere)."""
    return [str(r[key]) for r in items if isinstance(r, Mapping) and isinstance(r.get(key), str)]
