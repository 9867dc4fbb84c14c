"""The ts column of a history read for training or a city backtest means what it means in a replay
(`vitals.readings.timestamps.history_ts_ns`): numbers are Unix seconds, text is ISO 8601 with a timezone, a
timestamp needs a timezone. Before, `pd.to_datetime` read an integer column as nanoseconds (a history of
Unix seconds trained on times in January 1970) and took naive times for UTC, where a replay rejects them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_training import history_frame

from vitals.backtest.city import history_batches
from vitals.catalog import Catalog
from vitals.errors import HistoryError
from vitals.readings.timestamps import history_ts_ns
from vitals.training import from_frame


def _as(frame: pd.DataFrame, ts: object) -> pd.DataFrame:
    return frame.assign(ts=ts)


def test_unix_seconds_iso_text_and_timestamps_train_the_same(small_catalog: Catalog) -> None:
    frame = history_frame(small_catalog, days=1)
    ns = frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    reference = from_frame(small_catalog, frame)
    for ts in (ns // 10**9, (ns // 10**9).astype(np.float64),
               frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
               frame["ts"].dt.tz_convert("Asia/Shanghai")):
        other = from_frame(small_catalog, _as(frame, ts))
        assert (other.start_ns, other.end_ns, other.sha256) == (reference.start_ns, reference.end_ns, reference.sha256)


def test_the_city_backtest_reads_unix_seconds_as_seconds(small_catalog: Catalog) -> None:
    frame = history_frame(small_catalog, days=1)
    frame = frame[frame["indicator"] != "nope"]
    seconds = _as(frame, frame["ts"].to_numpy(dtype="datetime64[ns]").astype(np.int64) // 10**9)
    a = [b.ts_ns for b in history_batches(small_catalog, frame)]
    b = [b.ts_ns for b in history_batches(small_catalog, seconds)]
    assert len(a) == len(b) > 1 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(("ts", "message"), [
    (pd.Series(pd.date_range("2026-03-02", periods=3, freq="5min")), "has no timezone"),
    (pd.Series(["2026-03-02T00:00:00Z", "yesterday", "2026-03-02T00:10:00Z"]), "row 1"),
    (pd.Series([1.7e9, np.nan, 1.7e9 + 300]), "row 1: no time"),
    (pd.Series([True, False, True]), "expected text, Unix seconds or a timestamp with timezone"),
])
def test_times_a_replay_rejects_are_one_line(ts: pd.Series, message: str) -> None:
    with pytest.raises(HistoryError, match=r"history\.parquet: ") as caught:
        history_ts_ns(ts, "history.parquet")
    assert message in str(caught.value) and "\n" not in str(caught.value)
