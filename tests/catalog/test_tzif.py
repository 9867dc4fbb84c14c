"""A zone's offsets read from its TZif file equal the day-by-day zoneinfo scan, and zoneinfo's own conversion."""

from __future__ import annotations

import struct
import zoneinfo
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import tzif
from vitals.catalog.seasonality import local_time, scan_local_time

# daylight saving north and south, none, half-hour and 45-minute offsets, rule changes, a sub-minute offset
# (Monrovia until 1972), Morocco's explicit Ramadan transitions, a footer rule with a negative time (Nuuk)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Shanghai", "UTC", "Etc/GMT-8", "Australia/Sydney",
         "America/Santiago", "Africa/Casablanca", "Asia/Tehran", "Pacific/Chatham", "America/Nuuk",
         "Africa/Monrovia", "Asia/Kolkata", "Europe/Dublin", "Antarctica/Troll")


def _same(a: object, b: object) -> bool:
    return (np.array_equal(a.starts_ns, b.starts_ns)  # type: ignore[attr-defined]
            and np.array_equal(a.offsets_s, b.offsets_s))  # type: ignore[attr-defined]


@pytest.mark.parametrize("zone", ZONES)
def test_tzif_reading_equals_the_day_by_day_scan(zone: str) -> None:
    assert tzif.offset_changes(zone, 4102358400) is not None  # read from the file, not the fallback
    assert _same(local_time.__wrapped__(zone), scan_local_time(zone))


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(zoneinfo.available_timezones())))
def test_any_zone_equals_the_scan(zone: str) -> None:
    assert _same(local_time.__wrapped__(zone), scan_local_time(zone))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), st.integers(min_value=0, max_value=4102358400))
def test_offset_is_zoneinfo_at_any_second(zone: str, t: int) -> None:
    expected = datetime.fromtimestamp(t, zoneinfo.ZoneInfo(zone)).utcoffset()
    assert expected is not None
    got = local_time(zone).offset_s(np.array([t * 10**9], dtype=np.int64))[0]
    # the reading keeps a change from the whole minute at or after it (as the scan did): equal but in that minute
    at_minute = datetime.fromtimestamp(-(-t // 60) * 60, zoneinfo.ZoneInfo(zone)).utcoffset()
    assert got in {expected.total_seconds(), at_minute.total_seconds() if at_minute else None}


def test_fixed_offset_without_a_zone() -> None:
    lt = local_time("", 8.0)
    assert lt.offset_s(np.array([0, 2**62], dtype=np.int64)).tolist() == [28800.0, 28800.0]


def test_unreadable_zone_files_fall_back_to_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    # a file this reader refuses (leap seconds, a foreign format): zoneinfo itself answers, day by day
    monkeypatch.setattr(tzif, "_zone_bytes", lambda zone: b"TZif2" + b"\0" * 60)
    assert tzif.offset_changes("Europe/Berlin", 4102358400) is None
    assert _same(local_time.__wrapped__("Europe/Berlin"), scan_local_time("Europe/Berlin"))


def test_leap_second_files_are_refused() -> None:
    header = struct.pack(">4sc15x6l", b"TZif", b"\0", 0, 0, 1, 0, 1, 4)
    data = header + struct.pack(">lBB", 0, 0, 0) + b"UTC\0" + b"\0" * 8
    with pytest.raises(ValueError, match="leap"):
        tzif._parse(data)


def test_posix_rules() -> None:
    # New York 2026: second Sunday of March 02:00 EST, first Sunday of November 02:00 EDT
    std, changes = tzif._rule_changes("EST5EDT,M3.2.0,M11.1.0", 2026, 2026)
    assert std == -5 * 3600
    assert changes == [(int(datetime(2026, 3, 8, 7, tzinfo=UTC).timestamp()), -4 * 3600),
                       (int(datetime(2026, 11, 1, 6, tzinfo=UTC).timestamp()), -5 * 3600)]
    # Julian days without February 29 (J60 is March 1 in a leap year), zero-based days with it
    assert tzif._rule_day("J60", 2028)[0] == datetime(2028, 3, 1, tzinfo=UTC).timestamp() // 86400
    assert tzif._rule_day("59", 2028)[0] == datetime(2028, 2, 29, tzinfo=UTC).timestamp() // 86400
    assert tzif._rule_day("M2.5.0/-1", 2026) == (datetime(2026, 2, 22, tzinfo=UTC).timestamp() // 86400, -3600)
