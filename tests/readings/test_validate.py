"""Validation of coded batches (e.g. the simulator's in-process batches)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from readings_support import RECEIVED_NS

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.readings import ReadingParser, validate


def _batch(catalog: Catalog, rows: list[tuple[int, int, int, float]], sensor: list[str | None] | None = None
           ) -> ReadingBatch:
    ts, ind, street, value = zip(*rows, strict=True)
    return ReadingBatch(
        ts_ns=np.array(ts, dtype=np.int64), indicator=np.array(ind, dtype=np.int16),
        street=np.array(street, dtype=np.int32), value=np.array(value, dtype=np.float64),
        sensor=None if sensor is None else np.array(sensor, dtype=object), received_ns=RECEIVED_NS,
        partition="sim-1", seq=12,
    )


def test_coded_batch_reasons_details_and_raw(catalog: Catalog) -> None:
    water = catalog.indicator_index["water_pressure"]
    high = catalog.indicators[water].valid_max
    ok_ts = RECEIVED_NS - 60 * 10**9
    rows = [
        (ok_ts, water, 0, high / 2),
        (ok_ts, catalog.n_indicators, 0, 1.0),
        (ok_ts, water, -1, high / 2),
        (ok_ts, water, 0, np.inf),
        (ok_ts, water, 0, high * 2),
        (10**9, water, 0, high / 2),
        (RECEIVED_NS + 301 * 10**9, water, 0, high / 2),
    ]
    kept, rejections = validate(catalog, _batch(catalog, rows, ["a", None, None, None, "s9", None, None]))
    assert kept.value.tolist() == [high / 2]
    assert kept.sensor is not None and kept.sensor.tolist() == ["a"]
    assert (kept.partition, kept.seq) == ("sim-1", 12)
    assert [r.reason for r in rejections] == ["unknown_indicator", "unknown_area", "non_finite", "out_of_range",
                                               "bad_timestamp", "future_timestamp"]
    assert all((r.partition, r.seq) == ("sim-1", 12) for r in rejections)
    out_of_range = rejections[3]
    assert out_of_range.detail.startswith(f"value {high * 2:g} outside valid range")
    raw = json.loads(out_of_range.raw)
    assert raw == {"ts": "2024-05-31T23:59:00Z", "indicator": "water_pressure",
                   "area": catalog.streets[0].id, "value": high * 2, "sensor": "s9"}
    assert json.loads(rejections[0].raw)["indicator"] == catalog.n_indicators
    assert "is before 2000-01-01T00:00:00Z" in rejections[4].detail


def test_clean_batch_is_returned_as_is(catalog: Catalog) -> None:
    batch = _batch(catalog, [(RECEIVED_NS, 0, 0, catalog.indicators[0].valid_min)])
    kept, rejections = validate(catalog, batch)
    assert kept is batch and rejections == []


def test_parser_validate_uses_its_rules_and_naive_min_time_is_refused(catalog: Catalog) -> None:
    batch = _batch(catalog, [(RECEIVED_NS + 10 * 10**9, 0, 0, catalog.indicators[0].valid_min)])
    assert validate(catalog, batch)[1] == []
    assert [r.reason for r in ReadingParser(catalog, max_future_s=5).validate(batch)[1]] == ["future_timestamp"]
    late_start = ReadingParser(catalog, min_time=datetime(2030, 1, 1, tzinfo=UTC))
    assert [r.reason for r in late_start.validate(batch)[1]] == ["bad_timestamp"]
    with pytest.raises(ConfigError, match="no timezone"):
        ReadingParser(catalog, min_time=datetime(2000, 1, 1))
