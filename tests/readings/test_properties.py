"""Hypothesis: every format agrees with a pure-Python oracle; garbage is always accepted-or-rejected with a
reason, never an exception; accepted + rejected = input; the fallback paths give the fast paths' verdicts."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from readings_support import (
    RECEIVED_NS,
    assert_matches,
    assert_valid_batch,
    json_values,
    oracle,
    readings,
    reject_reasons_ok,
    timestamps,
    to_csv,
    to_jsonl,
    to_table,
)

from vitals.catalog import Catalog, load_catalog
from vitals.readings import ReadingParser
from vitals.readings.parse_json import nonblank_lines

CATALOG = load_catalog()
PARSER = ReadingParser(CATALOG)
record_lists = st.lists(readings(CATALOG), min_size=1, max_size=30)


def _verdicts(records: list[dict[str, Any]], *, as_text: bool = False) -> list:
    return [oracle(CATALOG, r, as_text=as_text) for r in records]


@given(record_lists)
def test_jsonl_equals_oracle(records: list[dict[str, Any]]) -> None:
    result = PARSER.parse_jsonl(to_jsonl(records), received_ns=RECEIVED_NS)
    assert_matches(result.batch, [r.reason for r in result.rejections], _verdicts(records))


@given(record_lists)
def test_records_equal_oracle(records: list[dict[str, Any]]) -> None:
    result = PARSER.parse_records(records, received_ns=RECEIVED_NS)
    assert_matches(result.batch, [r.reason for r in result.rejections], _verdicts(records))


@given(record_lists)
def test_csv_equals_oracle(records: list[dict[str, Any]]) -> None:
    result = PARSER.parse_csv(to_csv(records), received_ns=RECEIVED_NS)
    assert_matches(result.batch, [r.reason for r in result.rejections], _verdicts(records, as_text=True))


@given(record_lists)
def test_table_and_parquet_equal_oracle(records: list[dict[str, Any]]) -> None:
    table = to_table(records)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    for source in (table, pq.read_table(pa.BufferReader(sink.getvalue()))):
        result = PARSER.parse_table(source, received_ns=RECEIVED_NS)
        assert_matches(result.batch, [r.reason for r in result.rejections], _verdicts(records))


def _same(a: object, b: object) -> None:
    first, second = a, b
    assert [(r.reason, r.raw, r.detail) for r in first.rejections] == [  # type: ignore[attr-defined]
        (r.reason, r.raw, r.detail) for r in second.rejections]  # type: ignore[attr-defined]
    assert first.batch.ts_ns.tolist() == second.batch.ts_ns.tolist()  # type: ignore[attr-defined]
    assert first.batch.value.tolist() == second.batch.value.tolist()  # type: ignore[attr-defined]


@given(record_lists, st.sampled_from([b"garbage", b'{"ts": true}', b"[]", b'{"a": 1} {"b": 2}']))
def test_jsonl_fallback_gives_fast_path_verdicts(records: list[dict[str, Any]], bad: bytes) -> None:
    data = to_jsonl(records)
    clean = PARSER.parse_jsonl(data, received_ns=RECEIVED_NS)
    dirty = PARSER.parse_jsonl(data + bad + b"\n", received_ns=RECEIVED_NS)
    assert dirty.rejections[-1].reason == "malformed"
    dirty.rejections.pop()
    _same(clean, dirty)


@given(record_lists)
def test_csv_fallback_gives_fast_path_verdicts(records: list[dict[str, Any]]) -> None:
    data = to_csv(records)
    clean = PARSER.parse_csv(data, received_ns=RECEIVED_NS)
    dirty = PARSER.parse_csv(data + b"only,three,fields\n", received_ns=RECEIVED_NS)
    assert dirty.rejections.pop().reason == "malformed"
    _same(clean, dirty)


def _check_garbage(catalog: Catalog, result: object, expected_items: int | None) -> None:
    batch, rejections = result.batch, result.rejections  # type: ignore[attr-defined]
    assert reject_reasons_ok([r.reason for r in rejections])
    assert all(isinstance(r.raw, str) and isinstance(r.detail, str) and r.detail for r in rejections)
    assert_valid_batch(catalog, batch)
    if expected_items is not None:
        assert len(batch) + len(rejections) == expected_items


garbage_records = st.one_of(
    readings(CATALOG),
    st.fixed_dictionaries({"ts": timestamps | json_values, "indicator": st.sampled_from(["pm25", "x"]) | json_values,
                           "area": st.just("wanzhou_s001") | json_values, "value": json_values},
                          optional={"sensor": json_values}),
    json_values,
)


@given(st.lists(garbage_records, max_size=20))
def test_records_never_raise_and_count(records: list[object]) -> None:
    _check_garbage(CATALOG, PARSER.parse_records(records, received_ns=RECEIVED_NS), len(records))


@given(st.lists(st.one_of(
    garbage_records.map(lambda r: json.dumps(r).encode()),
    st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.sampled_from([b'{"value": NaN}', b'{"ts": 1e400, "value": 1e400}', b"{", b"\x00", b"\xff\xfe"]),
), max_size=20))
def test_jsonl_garbage_never_raises_and_counts(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    expected = len(nonblank_lines(data.strip()))
    _check_garbage(CATALOG, PARSER.parse_jsonl(data, received_ns=RECEIVED_NS), expected)
    _check_garbage(CATALOG, PARSER.parse_json_payload(data, received_ns=RECEIVED_NS), None)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for parse in (PARSER.parse_jsonl, PARSER.parse_csv, PARSER.parse_json_payload):
        _check_garbage(CATALOG, parse(data, received_ns=RECEIVED_NS), None)


csv_field = st.one_of(st.text(st.characters(blacklist_characters="\r\n\"", blacklist_categories=["Cs"]), max_size=8),
                      timestamps.map(str), st.sampled_from(["pm25", "wanzhou_s001", "nan", "-inf", "1e999", ""]))


@given(st.lists(st.lists(csv_field, min_size=1, max_size=7), max_size=15))
def test_csv_garbage_never_raises_and_counts(rows: list[list[str]]) -> None:
    lines = [",".join(f'"{f}"' if "," in f else f for f in row) for row in rows]
    data = ("ts,indicator,area,sensor,value\n" + "\n".join(lines)).encode()
    expected = sum(1 for line in lines if line)
    _check_garbage(CATALOG, PARSER.parse_csv(data, received_ns=RECEIVED_NS), expected)


@pytest.mark.parametrize("huge", [10**30, -(10**30), 1e308, 2**63, 2**64 + 1])
def test_huge_numbers_are_rejected_not_raised(huge: float) -> None:
    record = {"ts": huge, "indicator": "pm25", "area": "wanzhou_s001", "value": huge}
    for result in (PARSER.parse_records([record], received_ns=RECEIVED_NS),
                   PARSER.parse_jsonl(json.dumps(record), received_ns=RECEIVED_NS)):
        assert [r.reason for r in result.rejections] in (["out_of_range"], ["non_finite"])
