"""A zone's UTC offsets over time straight from its TZif file (RFC 8536) and the POSIX TZ rule in its footer.

:func:`vitals.catalog.seasonality.local_time` needs every change of a zone's UTC offset from 1970 to 2100. Asking
``datetime.fromtimestamp`` once a day for 130 years costs ~0.8 CPU s per process; the zone's file lists the
changes: explicit transitions, then a rule (``EST5EDT,M3.2.0,M11.1.0``) for the years after them. This module
reads both with the semantics of :mod:`zoneinfo` (before the first transition: the first standard-time type; after
the last: the rule). :func:`offset_changes` returns None for what it does not read (no file found, leap-second
``right/`` zones, a malformed file or rule): the caller then asks :mod:`zoneinfo` day by day as before.
"""

from __future__ import annotations

import bisect
import calendar
import importlib.resources
import re
import struct
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

_HEADER = struct.Struct(">4sc15x6l")
_OFFSET = r"([+-]?)(\d{1,3})(?::(\d{1,2}))?(?::(\d{1,2}))?"
_NAME = r"(?:<[^>]*>|[A-Za-z]{3,})"
_TZ_STRING = re.compile(rf"^{_NAME}{_OFFSET}(?:({_NAME})(?:{_OFFSET})?(?:,([^,]+),([^,]+))?)?$")
_DATE_RULE = re.compile(rf"^(?:J(\d+)|(\d+)|M(\d+)\.(\d)\.(\d))(?:/{_OFFSET})?$")


def _zone_bytes(zone: str) -> bytes | None:
    """The TZif file of an IANA zone, where :mod:`zoneinfo` looks for it (its search path, then ``tzdata``)."""
    if not zone or zone.startswith("/") or ".." in zone.split("/"):
        return None
    for root in zoneinfo.TZPATH:
        path = Path(root) / zone
        if path.is_file():
            return path.read_bytes()
    package, _, name = f"tzdata.zoneinfo.{zone}".replace("/", ".").rpartition(".")
    try:
        return importlib.resources.files(package).joinpath(name).read_bytes()
    except (ImportError, OSError, ValueError):
        return None


def _seconds(sign: str, hours: str, minutes: str | None, seconds: str | None) -> int:
    value = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return -value if sign == "-" else value


def _rule_day(rule: str, year: int) -> tuple[int, int]:
    """(days since 1970-01-01 of the rule's date in ``year``, seconds after local midnight) of a POSIX date rule."""
    m = _DATE_RULE.match(rule)
    if m is None:
        raise ValueError(rule)
    julian, zero_based, month, week, weekday = m.group(1, 2, 3, 4, 5)
    at = _seconds(*m.group(6, 7, 8, 9)) if m.group(7) is not None else 7200
    jan1 = calendar.timegm((year, 1, 1, 0, 0, 0)) // 86400
    if julian is not None:  # Jn: 1..365, February 29 never counted
        n = int(julian)
        return jan1 + n - 1 + (1 if calendar.isleap(year) and n >= 60 else 0), at
    if zero_based is not None:  # n: 0..365, February 29 counted
        return jan1 + int(zero_based), at
    mon, wk, wd = int(month), int(week), int(weekday)  # Mm.w.d: the w-th weekday d (0 Sunday) of month m, 5 = last
    first = calendar.timegm((year, mon, 1, 0, 0, 0)) // 86400
    day = first + (wd - (first + 4) % 7) % 7  # 1970-01-01 was a Thursday (weekday 4, Sunday 0)
    day += 7 * (wk - 1)
    while wk == 5 and day - first >= calendar.monthrange(year, mon)[1]:
        day -= 7
    return day, at


def _rule_changes(tz_string: str, first_year: int, last_year: int) -> tuple[int, list[tuple[int, int]]]:
    """(standard offset, [(UTC second, offset from then on)] in time order, years ``first_year..last_year``)."""
    m = _TZ_STRING.match(tz_string)
    if m is None:
        raise ValueError(tz_string)
    std = -_seconds(*m.group(1, 2, 3, 4))  # POSIX offsets count west of Greenwich
    if m.group(5) is None:
        return std, []
    dst = -_seconds(*m.group(6, 7, 8, 9)) if m.group(7) is not None else std + 3600
    start, end = m.group(10), m.group(11)
    if start is None or end is None:
        raise ValueError(tz_string)  # zoneinfo needs the rule too
    changes = []
    for year in range(first_year, last_year + 1):
        on_day, on_at = _rule_day(start, year)
        off_day, off_at = _rule_day(end, year)
        changes.append((on_day * 86400 + on_at - std, dst))  # the start is given in standard local time
        changes.append((off_day * 86400 + off_at - dst, std))  # the end in daylight-saving local time
    changes.sort()
    return std, changes


def _parse(data: bytes) -> tuple[list[int], list[int], list[int], list[bool], str]:
    """(transition UTC seconds, type index per transition, UTC offset per type, DST flag per type, footer rule)."""
    magic, version, *counts = _HEADER.unpack_from(data, 0)
    if magic != b"TZif":
        raise ValueError("not a TZif file")
    isut, isstd, leap, timecnt, typecnt, charcnt = counts
    if version == b"\x00":  # version 1: 32-bit times, no footer
        width, offset, footer = 4, _HEADER.size, ""
    else:  # skip the 32-bit block to the 64-bit one
        offset = _HEADER.size + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut
        magic, _, *counts = _HEADER.unpack_from(data, offset)
        isut, isstd, leap, timecnt, typecnt, charcnt = counts
        width, offset = 8, offset + _HEADER.size
        end = offset + timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut
        footer = data[end:].strip(b"\n").decode("ascii")
    if leap:
        raise ValueError("leap seconds")
    times = list(struct.unpack_from(f">{timecnt}{'q' if width == 8 else 'l'}", data, offset))
    offset += timecnt * width
    index = list(data[offset:offset + timecnt])
    offset += timecnt
    types = [struct.unpack_from(">lBB", data, offset + 6 * i) for i in range(typecnt)]
    if not types or any(i >= typecnt for i in index):
        raise ValueError("bad type index")
    return times, index, [t[0] for t in types], [bool(t[1]) for t in types], footer


def offset_changes(zone: str, until_s: int) -> tuple[int, list[tuple[int, int]]] | None:
    """(UTC offset at 1970-01-01 00:00 UTC, [(UTC second in (0, ``until_s``], offset from then on)], each change
    of offset once) of an IANA zone, or None when its file cannot be read here (see module doc)."""
    data = _zone_bytes(zone)
    if data is None:
        return None
    try:
        times, index, utoff, isdst, footer = _parse(data)
        first_year = 1969 if not times else _year(times[-1]) - 1
        std, rule = _rule_changes(footer, first_year, _year(until_s) + 1) if footer else (0, [])
    except (struct.error, ValueError, IndexError, UnicodeDecodeError):
        return None
    # zoneinfo's reading: before the first transition the first standard-time type, up to the last transition the
    # transitions, after it the footer's rule (or, without a footer, the last transition's type)
    before = next((off for off, dst in zip(utoff, isdst, strict=True) if not dst), utoff[0])
    after_last = std if footer else utoff[index[-1]] if times else utoff[0]
    rule_times = [t for t, _ in rule]

    def offset_at(x: int) -> int:
        if times and x < times[0]:
            return before
        if times and x <= times[-1]:
            return utoff[index[bisect.bisect_right(times, x) - 1]]
        k = bisect.bisect_right(rule_times, x)
        return rule[k - 1][1] if k else after_last

    start = offset_at(0)
    candidates = sorted({t for t in [*times, *(t + 1 for t in times), *rule_times] if 0 < t <= until_s})
    changes, current = [], start
    for t in candidates:
        off = offset_at(t)
        if off != current:
            changes.append((t, off))
            current = off
    return start, changes


def _year(t: int) -> int:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=t)).year
