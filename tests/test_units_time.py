"""``vitals.units.utc_iso`` and ``utc_date`` against pandas (Hypothesis): the one home of UTC text and days of
nanosecond event times."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vitals.units import utc_date, utc_iso

NS = st.integers(-(10**18), 4 * 10**18)  # 1938 .. 2096


@given(NS)
def test_utc_text_and_day_are_pandas(ns: int) -> None:
    stamp = pd.Timestamp(ns, unit="ns", tz="UTC")
    assert utc_iso(ns) == stamp.floor("s").strftime("%Y-%m-%dT%H:%M:%SZ")
    assert utc_iso(ns, "milliseconds") == stamp.floor("ms").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert utc_date(ns) == stamp.date()
