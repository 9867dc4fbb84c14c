"""Expected values from the catalog's seasonality, vectorized over arrays of readings.

The same function drives the simulator's normal behaviour and the z-score basis of warning levels.
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.tzif import offset_changes
from vitals.units import DAY_S, NS_PER_S

log = logging.getLogger(__name__)

_PROFILE_CODES = {"flat": 0, "commute": 1, "daytime": 2, "evening": 3}


@dataclass(frozen=True, eq=False)
class LocalTime:
    """A city's UTC offset over time, daylight saving included: offset ``offsets_s[i]`` from ``starts_ns[i]`` on
    (transitions of the IANA zone from 1970 to 2100, found to the minute; a fixed offset without a zone)."""

    starts_ns: npt.NDArray[np.int64]
    offsets_s: npt.NDArray[np.float64]

    def offset_s(self, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """UTC offset in seconds at each UTC nanosecond timestamp."""
        if self.offsets_s.size == 1:
            return np.full(np.shape(ts_ns), self.offsets_s[0])
        return self.offsets_s[np.searchsorted(self.starts_ns, ts_ns, side="right") - 1]


_LAST_DAY_S = int(datetime(2099, 12, 31, tzinfo=UTC).timestamp())  # transitions up to this day are kept


@functools.lru_cache(maxsize=32)
def local_time(zone: str, fixed_hours: float = 0.0) -> LocalTime:
    """The :class:`LocalTime` of an IANA zone (``fixed_hours`` when ``zone`` is empty: older catalogs): the changes
    of its UTC offset from its TZif file (:mod:`vitals.catalog.tzif`), each at the first whole minute at or after
    it; where that file cannot be read, found by asking :mod:`zoneinfo` day by day (:func:`scan_local_time`, the
    same result, ~0.8 CPU s)."""
    first = np.array([np.iinfo(np.int64).min], dtype=np.int64)
    if not zone:
        return LocalTime(first, np.array([fixed_hours * 3600.0]))
    found = offset_changes(zone, _LAST_DAY_S)
    if found is None:
        log.debug("time zone %s: no readable TZif file, scanning its offsets day by day", zone)
        return scan_local_time(zone)
    start, changes = found
    starts = [int(first[0])] + [-(-t // 60) * 60 * NS_PER_S for t, _ in changes]
    offsets = [start] + [offset for _, offset in changes]
    return LocalTime(np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.float64))


def scan_local_time(zone: str) -> LocalTime:
    """:func:`local_time` of an IANA zone from :mod:`zoneinfo` alone: its offset at every UTC midnight from 1970 to
    2099, each change bisected to the minute (the oracle of the TZif reading, and its fallback)."""
    first = np.array([np.iinfo(np.int64).min], dtype=np.int64)
    tz = zoneinfo.ZoneInfo(zone)

    def offset(t: int) -> float:
        delta = datetime.fromtimestamp(t, tz).utcoffset()
        return delta.total_seconds() if delta is not None else 0.0

    days = range(0, _LAST_DAY_S + 1, 86400)
    starts, offsets = [int(first[0])], [offset(0)]
    previous = offsets[0]
    for day in days:
        now = offset(day)
        if now == previous:
            continue
        lo, hi = day - 86400, day  # the change lies in (lo, hi]: bisect to the minute
        while hi - lo > 60:
            mid = (lo + hi) // 2 // 60 * 60
            lo, hi = (mid, hi) if offset(mid) == previous else (lo, mid)
        starts.append(hi * NS_PER_S)
        offsets.append(now)
        previous = now
    return LocalTime(np.asarray(starts, dtype=np.int64), np.asarray(offsets, dtype=np.float64))


def local_hour_and_weekend(
    ts_ns: npt.NDArray[np.int64], offset_hours: float | LocalTime
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Fractional local hour of day and a weekend flag for UTC nanosecond timestamps (``offset_hours``: a fixed
    offset, or the city's :class:`LocalTime` with daylight saving)."""
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    shift = offset_hours.offset_s(ts_ns) if isinstance(offset_hours, LocalTime) else offset_hours * 3600.0
    local_s = ts_ns.astype(np.float64) / NS_PER_S + shift
    days = np.floor(local_s / DAY_S)
    hour = (local_s - days * DAY_S) / 3600.0
    dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return hour, dow >= 5


def profile_values(codes: npt.NDArray[np.integer], hour: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Profile shape in [0, 1] for profile codes at local hours."""
    commute = np.maximum(np.exp(-0.5 * ((hour - 8.0) / 1.5) ** 2), np.exp(-0.5 * ((hour - 18.0) / 1.5) ** 2))
    daytime = 0.5 * (1.0 + np.cos(2.0 * np.pi * (hour - 14.0) / 24.0))
    evening = 0.5 * (1.0 + np.cos(2.0 * np.pi * (hour - 20.0) / 24.0))
    out = np.zeros_like(hour)
    out = np.where(codes == 1, commute, out)
    out = np.where(codes == 2, daytime, out)
    return np.where(codes == 3, evening, out)


class SeasonalModel:
    """Per-indicator arrays of the catalog's seasonality, for fast vectorized expected values."""

    def __init__(self, catalog: Catalog) -> None:
        inds = catalog.indicators
        self.offset_hours = catalog.city.timezone_offset_hours  # standard time (displays)
        self.local = local_time(catalog.city.timezone, catalog.city.timezone_offset_hours)  # with daylight saving
        self.profile = np.array([_PROFILE_CODES[i.seasonality.profile] for i in inds], dtype=np.int8)
        self.base = np.array([i.seasonality.base for i in inds], dtype=np.float64)
        self.amplitude = np.array([i.seasonality.amplitude for i in inds], dtype=np.float64)
        self.weekend = np.array([i.seasonality.weekend for i in inds], dtype=np.float64)
        self.noise = np.array([i.seasonality.noise for i in inds], dtype=np.float64)

    def expected(
        self, indicator: npt.NDArray[np.integer], ts_ns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Expected (normal) value of each reading's indicator at its time."""
        hour, weekend = local_hour_and_weekend(ts_ns, self.local_time())
        shape = profile_values(self.profile[indicator], hour)
        factor = np.where(weekend, self.weekend[indicator], 1.0)
        return self.base[indicator] + self.amplitude[indicator] * shape * factor

    def local_time(self) -> LocalTime | float:
        """The city's local time (a model pickled in a recovery snapshot before daylight saving: its fixed offset)."""
        return getattr(self, "local", self.offset_hours)

    def zscore(
        self, indicator: npt.NDArray[np.integer], ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return (value - self.expected(indicator, ts_ns)) / self.noise[indicator]
