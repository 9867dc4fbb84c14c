"""Every rejection reason produced by a concrete input, with its detail and raw text."""

from __future__ import annotations

import json

import pytest
from readings_support import RECEIVED_NS

from vitals.catalog import Catalog, load_catalog
from vitals.readings import ReadingParser
from vitals.readings.validate import DEFAULT_MIN_TIME

WATER = load_catalog().indicator("water_pressure")
LOW, HIGH = WATER.valid_min, WATER.valid_max
MID = (LOW + HIGH) / 2
GOOD = {"ts": "2024-05-31T08:00:00+08:00", "indicator": "water_pressure", "area": "wanzhou_s001", "value": MID}


def line(**changes: object) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not ...})


CASES = [
    ("not json at all", "malformed", "not valid JSON"),
    ('["an", "array"]', "malformed", "must be a JSON object, got array"),
    (line(value="0.3"), "malformed", "value must be a number, got text"),
    (line(value=True), "malformed", "value must be a number, got boolean"),
    (line(indicator=7), "malformed", "indicator must be text, got number"),
    (line(ts=...), "malformed", "missing ts"),
    (line(value=None), "missing", "no value"),
    (line(value=...), "missing", "a gap in the series"),
    (line(value="NA"), "missing", "no value"),
    (line(value=" NaN "), "missing", "no value"),
    (line(value=""), "missing", "no value"),
    (line(value=None, area="nowhere"), "unknown_area", "unknown area 'nowhere'"),
    (line(value=None, ts="garbage"), "missing", "no value"),
    (line(area=...), "malformed", "missing area"),
    (line(sensor=3), "malformed", "sensor must be text, got number"),
    (line(indicator="water_presure"), "unknown_indicator", "unknown indicator 'water_presure'"),
    (line(area="wanzhou_s999"), "unknown_area", "unknown area 'wanzhou_s999'"),
    (line(area="wanzhou"), "unknown_area", "'wanzhou' is a district"),
    (line(value=float("nan")), "non_finite", "value nan for water_pressure is not a finite number"),
    (line(value=float("-inf")), "non_finite", "not a finite number"),
    (line(value=10**400), "non_finite", "not a finite number"),
    (line(value=HIGH * 2 + 1), "out_of_range",
     f"value {HIGH * 2 + 1:g} outside valid range [{LOW:g}, {HIGH:g}] for water_pressure"),
    (line(ts="2024-05-31T08:00:00"), "bad_timestamp", "has no timezone"),
    (line(ts="31/05/2024 08:00"), "bad_timestamp", "cannot read timestamp '31/05/2024 08:00'"),
    (line(ts="2024-02-30T00:00:00Z"), "bad_timestamp", "cannot read timestamp"),
    (line(ts="1999-12-31T23:59:59Z"), "bad_timestamp", "is before 2000-01-01T00:00:00Z"),
    (line(ts=1e300), "bad_timestamp", "are not a finite time"),
    (line(ts=1717113600000), "bad_timestamp",
     "as Unix milliseconds it would be 2024-05-31T00:00:00Z: send seconds (or ISO 8601 text)"),
    (line(ts=1717113600000000000), "bad_timestamp", "as Unix nanoseconds it would be 2024-05-31T00:00:00Z"),
    (line(ts="2024-06-01T00:05:01Z"), "future_timestamp", "is 301 s ahead of its arrival"),
]


@pytest.mark.parametrize(("text", "reason", "detail"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_each_reason_from_jsonl(parser: ReadingParser, text: str, reason: str, detail: str) -> None:
    result = parser.parse_jsonl(f"{line()}\n{text}\n", partition="p3", seq=9, received_ns=RECEIVED_NS)
    assert len(result.batch) == 1
    [rejection] = result.rejections
    assert (rejection.reason, rejection.raw, rejection.partition, rejection.seq) == (reason, text, "p3", 9)
    assert detail in rejection.detail
    assert "\n" not in rejection.detail


def test_first_reason_in_catalog_order_wins(parser: ReadingParser) -> None:
    text = line(indicator="nope", area="nowhere", value=float("nan"), ts="garbage")
    assert [r.reason for r in parser.parse_jsonl(text, received_ns=RECEIVED_NS).rejections] == ["unknown_indicator"]
    text = line(value=HIGH * 2 + 1, ts="1980-01-01T00:00:00Z")
    assert [r.reason for r in parser.parse_jsonl(text, received_ns=RECEIVED_NS).rejections] == ["out_of_range"]


def test_valid_range_is_inclusive_and_boundaries_accepted(parser: ReadingParser) -> None:
    data = "\n".join([line(value=LOW), line(value=HIGH), line(ts="2024-06-01T00:05:00Z"),
                      line(ts=DEFAULT_MIN_TIME.isoformat())])
    result = parser.parse_jsonl(data, received_ns=RECEIVED_NS)
    assert result.rejections == []
    assert result.batch.value.tolist() == [LOW, HIGH, MID, MID]


def test_time_rules_are_configurable(catalog: Catalog) -> None:
    strict = ReadingParser(catalog, max_future_s=0.0)
    result = strict.parse_jsonl(line(ts="2024-06-01T00:00:01Z"), received_ns=RECEIVED_NS)
    assert [r.reason for r in result.rejections] == ["future_timestamp"]


def test_every_reason_of_the_parser_is_covered() -> None:
    covered = {reason for _, reason, _ in CASES}
    assert covered == {"malformed", "unknown_indicator", "unknown_area", "non_finite", "out_of_range",
                       "bad_timestamp", "future_timestamp", "missing"}


def test_gaps_in_csv_are_missing_not_malformed(parser: ReadingParser) -> None:
    rows = "".join(f"2024-06-01T00:00:00Z,water_pressure,wanzhou_s001,,{v}\n"
                   for v in ("", "NA", "N/A", "NaN", "null", "0.3", "abc", "inf"))
    result = parser.parse_csv(f"ts,indicator,area,sensor,value\n{rows}".encode(), received_ns=RECEIVED_NS)
    assert len(result.batch) == 1
    assert [r.reason for r in result.rejections] == ["missing"] * 5 + ["malformed", "non_finite"]
