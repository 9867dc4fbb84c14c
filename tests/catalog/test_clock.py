"""Times for people follow the catalog's IANA zone with daylight saving (Europe/Berlin across the spring and autumn
changes of 2026), checked against pandas' own time zone conversion."""

from __future__ import annotations

import functools
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vitals_testing import SECOND_CITY

from vitals.backtest.city_report import _Names
from vitals.catalog import Catalog, load_catalog
from vitals.catalog.clock import local_iso, local_midnight_ns, local_ns, local_text, zone_label
from vitals.checkup.run import _iso

SPRING = int(pd.Timestamp("2026-03-29T01:00:00Z").value)  # 02:00 CET -> 03:00 CEST
AUTUMN = int(pd.Timestamp("2026-10-25T01:00:00Z").value)  # 03:00 CEST -> 02:00 CET
MINUTE = 60 * 10**9


@functools.cache
def berlin_city() -> Catalog:
    """The second city moved to Europe/Berlin."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "berlin.yaml"
        path.write_text(SECOND_CITY.read_text(encoding="utf-8").replace("timezone: Europe/Lisbon",
                                                                        "timezone: Europe/Berlin"), encoding="utf-8")
        return load_catalog(path)


@pytest.fixture
def berlin() -> Catalog:
    return berlin_city()


def pandas_text(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M")


def test_report_times_cross_the_spring_change(berlin: Catalog) -> None:
    before, after = SPRING - MINUTE, SPRING + MINUTE
    assert (local_text(berlin, before), local_text(berlin, after)) == ("2026-03-29 01:59", "2026-03-29 03:01")
    assert _Names(berlin).time(after) == "2026-03-29 03:01"  # the city backtest's page
    assert (_iso(before, berlin), _iso(after, berlin)) == ("2026-03-29T01:59:00+01:00", "2026-03-29T03:01:00+02:00")
    assert local_iso(berlin, AUTUMN + MINUTE) == "2026-10-25T02:01:00+01:00"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=SPRING - 3 * 86400 * 10**9, max_value=AUTUMN + 3 * 86400 * 10**9))
def test_local_time_is_pandas_time_zone_conversion(ns: int) -> None:
    assert local_text(berlin_city(), ns) == pandas_text(ns)


def test_local_days_are_23_and_25_hours_long(berlin: Catalog) -> None:
    starts = [local_midnight_ns(berlin, date(2026, m, d)) for m, d in ((3, 29), (3, 30), (10, 25), (10, 26))]
    assert [(b - a) / 3600e9 for a, b in zip(starts[::2], starts[1::2], strict=True)] == [23.0, 25.0]
    assert starts[0] == pd.Timestamp("2026-03-29", tz="Europe/Berlin").value


def test_day_numbers_and_axis_label(berlin: Catalog) -> None:
    ticks = np.arange(SPRING - 3600 * 10**9, SPRING + 3600 * 10**9, MINUTE, dtype=np.int64)
    wall = local_ns(berlin, ticks).astype("datetime64[ns]")
    expected = pd.DatetimeIndex(pd.to_datetime(ticks, utc=True).tz_convert("Europe/Berlin").tz_localize(None))
    assert (pd.DatetimeIndex(wall) == expected).all()
    assert zone_label(berlin, int(ticks[0]), int(ticks[-1])) == "Europe/Berlin, UTC+1/UTC+2"
    assert zone_label(berlin, SPRING + MINUTE, SPRING + 3600 * 10**9) == "UTC+2"
    assert zone_label(load_catalog(streets_total=76), SPRING, AUTUMN) == "UTC+8"  # Chongqing as before


def test_a_catalog_with_only_a_fixed_offset(tmp_path: Path) -> None:
    text = SECOND_CITY.read_text(encoding="utf-8").replace("timezone: Europe/Lisbon", "timezone_offset_hours: 1")
    path = tmp_path / "fixed.yaml"
    path.write_text(text, encoding="utf-8")
    fixed = load_catalog(path)
    assert local_text(fixed, SPRING + MINUTE) == "2026-03-29 02:01"  # no daylight saving without a zone
    assert local_iso(fixed, SPRING) == "2026-03-29T02:00:00+01:00"
