"""The city and its areas in a catalog file: districts with their streets (or stations) listed, or generated.

A district's ``streets`` is either a whole number (that many streets are generated: ``<district>_sNNN``, placed
around the district's centre) or a list of streets, each with an id, a name and coordinates; ``stations`` is
the same list under another name. See docs/catalog.md.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vitals.catalog import checks as c
from vitals.catalog.model import City, District, Street

CITY_REQUIRED = {"id", "lat", "lon"}
CITY_OPTIONAL = {"name", "name_zh", "name_en", "timezone", "timezone_offset_hours"}
DISTRICT_REQUIRED = {"id", "lat", "lon"}
DISTRICT_OPTIONAL = {"name", "name_zh", "name_en", "streets", "stations"}
STREET_REQUIRED = {"id", "lat", "lon"}
STREET_OPTIONAL = {"name", "name_zh", "name_en"}


def zone_offsets(name: str) -> tuple[float, float] | None:
    """(standard, daylight) UTC offsets in hours of an IANA zone (equal without daylight saving), or None."""
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    year = datetime.now(UTC).year
    offsets = []
    for month in (1, 7):
        delta = datetime(year, month, 15, 12, tzinfo=UTC).astimezone(zone).utcoffset()
        offsets.append(delta.total_seconds() / 3600.0 if delta is not None else 0.0)
    return min(offsets), max(offsets)


def _offset(p: c.Problems, raw: Mapping[Any, Any]) -> tuple[float, str] | None:
    zone = raw.get("timezone")
    given = c.number(p, "city", "timezone_offset_hours", raw["timezone_offset_hours"]) \
        if "timezone_offset_hours" in raw else None
    if zone is None:
        if "timezone_offset_hours" not in raw:
            p.add("city", "missing field `timezone` (an IANA time zone such as Europe/Lisbon or Asia/Shanghai)")
        return None if given is None else (given, "")
    offsets = zone_offsets(zone) if isinstance(zone, str) else None
    if offsets is None:
        p.add("city", f"`timezone` {zone!r} is not an IANA time zone name (e.g. Europe/Lisbon, Asia/Shanghai, "
                      "America/Sao_Paulo)")
        return None
    if given is not None and given not in offsets:
        p.add("city", f"timezone_offset_hours {given:g} does not match timezone {zone} (UTC{offsets[0]:+g}); "
                      "leave timezone_offset_hours out")
        return None
    return offsets[0], str(zone)


def parse_city(p: c.Problems, raw: Any) -> City | None:
    if not isinstance(raw, Mapping):
        p.add("city", "must be a mapping with id, name, timezone, lat, lon")
        return None
    c.keys(p, "city", raw, CITY_REQUIRED, CITY_OPTIONAL)
    ident = c.ident(p, "city", raw["id"]) if "id" in raw else None
    names = c.names(p, "city", raw)
    where = c.coordinates(p, "city", raw)
    offset = _offset(p, raw)
    if ident is None or names is None or where is None or offset is None:
        return None
    return City(ident, names[0], names[1], offset[0], where[0], where[1], timezone=offset[1])


def _streets(p: c.Problems, entry: str, district: str, raw: Any) -> list[Street] | None:
    """The streets a district lists (each checked), or None when the list itself is wrong."""
    if not isinstance(raw, list) or not raw:
        p.add(entry, "`streets` must be a whole number >= 1 (generated streets) or a non-empty list of streets "
                     "with id, name, lat, lon")
        return None
    out = []
    for k, item in enumerate(raw):
        where = c.entry_name(f"{entry}.streets", k, item)
        if not isinstance(item, Mapping):
            p.add(where, f"a street must be a mapping with id, name, lat, lon, got {type(item).__name__}")
            continue
        n_before = len(p.items)
        c.keys(p, where, item, STREET_REQUIRED, STREET_OPTIONAL)
        ident = c.ident(p, where, item["id"], c.STREET_ID) if "id" in item else None
        names = c.names(p, where, item)
        coords = c.coordinates(p, where, item)
        if len(p.items) == n_before and ident and names and coords:
            out.append(Street(ident, names[0], names[1], district, coords[0], coords[1]))
    return out


def parse_district(p: c.Problems, i: int, raw: Any) -> tuple[District, list[Street] | None] | None:
    """A district and its listed streets (None: generated), or None when it has a problem."""
    n_before = len(p.items)
    entry = c.open_entry(p, "areas.districts", i, raw, "a district", required=DISTRICT_REQUIRED,
                         optional=DISTRICT_OPTIONAL)
    if entry is None:
        return None
    ident = c.ident(p, entry, raw["id"]) if "id" in raw else None
    names = c.names(p, entry, raw)
    coords = c.coordinates(p, entry, raw)
    if ("streets" in raw) == ("stations" in raw):
        p.add(entry, "give either `streets` (a count to generate, or a list) or `stations` (a list), not "
                     f"{'both' if 'streets' in raw else 'neither'}")
        return None
    spec = raw.get("streets", raw.get("stations"))
    listed: list[Street] | None = None
    if isinstance(spec, int) and not isinstance(spec, bool) and "streets" in raw:
        count = c.whole(p, entry, "streets", spec, 1) or 0
    else:
        listed = _streets(p, entry, str(ident or ""), spec)
        count = len(listed or ())
    if len(p.items) > n_before or ident is None or names is None or coords is None:
        return None
    return District(ident, names[0], names[1], coords[0], coords[1], count, listed=listed is not None), listed
