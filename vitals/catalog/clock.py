"""The city's local time for people: report times, day boundaries and axis labels in the catalog's IANA zone,
daylight saving included (a catalog without ``timezone`` keeps its fixed ``timezone_offset_hours``).

The one home of "what time is it in the city" for human-facing text; the offsets come from
:func:`vitals.catalog.seasonality.local_time` (the zone's transitions, vectorized), so the check-up, the city
backtest and their plots agree with the seasonality the levels use.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import LocalTime, local_time
from vitals.units import NS_PER_S


def city_clock(catalog: Catalog) -> LocalTime:
    return local_time(catalog.city.timezone, catalog.city.timezone_offset_hours)


def local_ns(catalog: Catalog, ts_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """UTC nanosecond timestamps shifted to the city's wall clock (for naive local datetimes and day numbers)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    return ts + (city_clock(catalog).offset_s(ts) * NS_PER_S).astype(np.int64)


def local_text(catalog: Catalog, ns: int) -> str:
    """``YYYY-MM-DD HH:MM`` on the city's wall clock."""
    return str(np.datetime64(int(local_ns(catalog, [ns])[0]), "ns").astype("datetime64[m]")).replace("T", " ")


def local_iso(catalog: Catalog, ns: int) -> str:
    """ISO 8601 with the UTC offset in force then (``2026-03-29T03:10:00+02:00`` in Berlin's summer)."""
    offset_s = float(city_clock(catalog).offset_s(np.asarray([ns], dtype=np.int64))[0])
    moment = datetime.fromtimestamp(ns / NS_PER_S, UTC)
    return moment.astimezone(_zone(catalog, offset_s)).isoformat()


def local_midnight_ns(catalog: Catalog, day: date) -> int:
    """UTC nanoseconds of the start of a local day (23 or 25 hours long on a daylight-saving change)."""
    if catalog.city.timezone:
        start = datetime.combine(day, time(0), tzinfo=zoneinfo.ZoneInfo(catalog.city.timezone))
        return int(start.timestamp()) * NS_PER_S
    naive = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp()) * NS_PER_S
    return naive - round(catalog.city.timezone_offset_hours * 3600) * NS_PER_S


def zone_label(catalog: Catalog, start_ns: int, end_ns: int) -> str:
    """The offset(s) in force from ``start_ns`` to ``end_ns``: ``UTC+8``, or ``Europe/Berlin, UTC+1/UTC+2`` across
    a daylight-saving change."""
    clock = city_clock(catalog)
    inside = (clock.starts_ns > start_ns) & (clock.starts_ns <= end_ns)
    offsets = [float(clock.offset_s(np.asarray([start_ns], dtype=np.int64))[0]), *clock.offsets_s[inside].tolist()]
    texts = list(dict.fromkeys(f"UTC{o / 3600:+g}" for o in offsets))
    return texts[0] if len(texts) == 1 else f"{catalog.city.timezone}, {'/'.join(texts)}"


def _zone(catalog: Catalog, offset_s: float) -> tzinfo:
    return zoneinfo.ZoneInfo(catalog.city.timezone) if catalog.city.timezone else timezone(timedelta(seconds=offset_s))


def city_moment_ns(catalog: Catalog, option: str, text: str, *, end_of_day: bool = False) -> int:
    """A moment people give on the command line, as UTC nanoseconds: a local day of the city (``2025-06-02``: its
    start, or with ``end_of_day`` the start of the next day, so a period's last day is included) or an ISO 8601
    time with a zone (``2025-06-02T08:00+08:00``, ``2025-06-02T00:00Z``); one line naming ``option`` otherwise."""
    from vitals.errors import ConfigError

    text = text.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None:
            return local_midnight_ns(catalog, day + timedelta(days=1) if end_of_day else day)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = (f"{option} {text!r}: give a local day (2025-06-02) or a time with a zone "
               "(2025-06-02T08:00+08:00, 2025-06-02T00:00Z)")
        raise ConfigError(msg)
    return int(moment.timestamp()) * NS_PER_S + moment.microsecond * 1000

