"""Format specifics: CSV headers and blocks, Arrow/Parquet column types, JSON payloads and records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from readings_support import RECEIVED_NS

from vitals.catalog import Catalog, load_catalog
from vitals.errors import ReadingError
from vitals.readings import ReadingParser

TS = 1_717_000_000  # 2024-05-29T16:26:40Z
HEADER = b"ts,indicator,area,sensor,value\n"
CATALOG = load_catalog()


def ok(indicator: str, fraction: float = 0.5) -> float:
    """A value inside the indicator's valid range (the catalog's units may change)."""
    spec = CATALOG.indicator(indicator)
    return spec.valid_min + fraction * (spec.valid_max - spec.valid_min)


PM_A, PM_B, PM_C, WP = ok("pm25", 0.1), ok("pm25", 0.2), ok("pm25", 0.3), ok("water_pressure", 0.25)


def test_csv_header_any_order_sensor_optional(parser: ReadingParser) -> None:
    data = f"value,area,ts,indicator\n{WP!r},wanzhou_s001,2024-05-29T16:26:40Z,water_pressure\n".encode()
    result = parser.parse_csv(data, received_ns=RECEIVED_NS)
    assert result.rejections == []
    assert result.batch.ts_ns.tolist() == [TS * 10**9]
    assert result.batch.sensor is None


def test_csv_block_without_header_uses_columns(parser: ReadingParser) -> None:
    data = f"{TS},water_pressure,wanzhou_s001,s1,{WP!r}\n{TS},pm25,wanzhou_s002,,{PM_A!r}\n".encode()
    result = parser.parse_csv(data, columns=["ts", "indicator", "area", "sensor", "value"], received_ns=RECEIVED_NS)
    assert result.rejections == []
    assert result.batch.sensor is not None and result.batch.sensor.tolist() == ["s1", None]
    assert result.batch.value.tolist() == [WP, PM_A]


def test_csv_missing_column_rejects_every_row(parser: ReadingParser) -> None:
    result = parser.parse_csv(b"ts,indicator,area\n1,2,3\n4,5,6\n", received_ns=RECEIVED_NS)
    assert [(r.reason, r.detail) for r in result.rejections] == [("malformed", "missing field 'value'")] * 2


def test_csv_bad_rows_keep_the_good_ones(parser: ReadingParser) -> None:
    good = f"{TS},water_pressure,wanzhou_s001,,{WP!r}\n".encode()
    data = HEADER + good + b"1,2\n" + good + b"\xff\xfe,x,y,,1\n" + f"{TS},pm25,wanzhou_s001,,lots\n".encode() + good
    result = parser.parse_csv(data, received_ns=RECEIVED_NS)
    assert len(result.batch) == 3
    assert [(r.reason, r.raw) for r in result.rejections] == [
        ("malformed", "1,2"), ("malformed", "\\xff\\xfe,x,y,,1"), ("malformed", f"{TS},pm25,wanzhou_s001,,lots")]
    assert "expected 5 fields" in result.rejections[0].detail
    assert result.rejections[2].detail == "value 'lots' is not a number"


def test_csv_raw_is_the_source_row_also_on_the_fast_path(parser: ReadingParser) -> None:
    too_big = CATALOG.indicator("water_pressure").valid_max * 2 + 1
    data = HEADER + f'"{TS}",water_pressure,"wanzhou_s001",,{too_big!r}\r\n'.encode()
    [rejection] = parser.parse_csv(data, received_ns=RECEIVED_NS).rejections
    assert (rejection.reason, rejection.raw) == ("out_of_range", f'"{TS}",water_pressure,"wanzhou_s001",,{too_big!r}')


def test_csv_crlf_blank_lines_and_nan_text(parser: ReadingParser) -> None:
    rows = f"\r\n{TS},pm25,wanzhou_s001,,nan\r\n\r\n{TS},pm25,wanzhou_s001,,{PM_A!r}\r\n"
    data = HEADER.replace(b"\n", b"\r\n") + rows.encode()
    result = parser.parse_csv(data, received_ns=RECEIVED_NS)
    assert [r.reason for r in result.rejections] == ["missing"]  # NaN as text is a gap (docs/readings.md)
    assert result.batch.value.tolist() == [PM_A]


def _table(ts: pa.Array, **overrides: pa.Array) -> pa.Table:
    n = len(ts)
    columns = {
        "ts": ts,
        "indicator": pa.array(["water_pressure"] * n).dictionary_encode(),
        "area": pa.array(["wanzhou_s001"] * n, type=pa.large_string()),
        "value": pa.array(np.full(n, WP), type=pa.float32()),
    }
    columns.update(overrides)
    return pa.table(columns)


@pytest.mark.parametrize("ts", [
    pa.array([TS * 1000], type=pa.timestamp("ms", "Asia/Shanghai")),
    pa.array([TS * 10**9], type=pa.timestamp("ns", "UTC")),
    pa.array([TS], type=pa.int64()),
    pa.array([float(TS)], type=pa.float64()),
    pa.array(["2024-05-30T00:26:40+08:00"]).dictionary_encode(),
    pa.array([str(TS)], type=pa.large_string()),
])
def test_table_timestamp_representations(parser: ReadingParser, ts: pa.Array) -> None:
    result = parser.parse_table(_table(ts), received_ns=RECEIVED_NS)
    assert result.rejections == []
    assert result.batch.ts_ns.tolist() == [TS * 10**9]


def test_table_naive_timestamps_and_wrong_types_are_rejected(parser: ReadingParser) -> None:
    naive = parser.parse_table(_table(pa.array([TS * 10**9], type=pa.timestamp("ns"))), received_ns=RECEIVED_NS)
    assert [(r.reason, "no timezone" in r.detail) for r in naive.rejections] == [("bad_timestamp", True)]
    wrong = _table(pa.array([TS]), value=pa.array(["0.4"]), area=pa.array([12]))
    [rejection] = parser.parse_table(wrong, received_ns=RECEIVED_NS).rejections
    assert (rejection.reason, rejection.detail) == ("malformed", "area must be text, got int64")
    assert '"value": "0.4"' in rejection.raw
    nulls = _table(pa.array([TS, None]), value=pa.array([WP, None]))
    assert [r.detail for r in parser.parse_table(nulls, received_ns=RECEIVED_NS).rejections] == ["missing ts"]


def test_parquet_round_trip(parser: ReadingParser, catalog: Catalog, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    ind = rng.integers(0, catalog.n_indicators, n)
    street = rng.integers(0, catalog.n_streets, n)
    value = catalog.valid_min_array[ind] + rng.random(n) * (catalog.valid_max_array[ind] - catalog.valid_min_array[ind])
    ts = TS * 10**9 + np.sort(rng.integers(0, 10**13, n))
    table = pa.table({
        "ts": pa.array(ts, type=pa.timestamp("ns", "UTC")),
        "indicator": pa.array([catalog.indicators[i].id for i in ind]).dictionary_encode(),
        "area": pa.array([catalog.streets[s].id for s in street]).dictionary_encode(),
        "sensor": pa.array([f"s{i % 7}" if i % 3 else None for i in range(n)]),
        "value": value,
    })
    path = tmp_path / "readings.parquet"
    pq.write_table(table, path, row_group_size=1_000)
    result = parser.parse_table(pq.read_table(path), received_ns=RECEIVED_NS)
    assert result.rejections == []
    batch = result.batch
    assert batch.ts_ns.tolist() == ts.tolist()
    assert batch.indicator.tolist() == ind.tolist()
    assert batch.street.tolist() == street.tolist()
    assert np.array_equal(batch.value, value)
    assert batch.sensor is not None and batch.sensor.tolist() == table["sensor"].to_pylist()
    per_group = [parser.parse_table(b, received_ns=RECEIVED_NS).batch for b in pq.ParquetFile(path).iter_batches(700)]
    assert sum(len(b) for b in per_group) == n


def test_json_array_payload_object_payload_and_broken_payload(parser: ReadingParser) -> None:
    record = f'{{"ts": {TS}, "indicator": "pm25", "area": "wanzhou_s001", "value": {PM_A!r}}}'
    array = parser.parse_json_payload(f"[{record}, 5, {record}]", received_ns=RECEIVED_NS)
    assert len(array.batch) == 2
    assert [(r.reason, r.raw) for r in array.rejections] == [("malformed", "5")]
    assert len(parser.parse_json_payload(record, received_ns=RECEIVED_NS).batch) == 1
    cut = parser.parse_json_payload(f"[{record}, ", received_ns=RECEIVED_NS)  # complete elements are kept
    assert len(cut.batch) == 1
    assert [(r.reason, r.raw, r.detail) for r in cut.rejections] == [
        ("malformed", f"[{record},", "the array is not closed: the payload ends inside it")]
    broken = parser.parse_json_payload(f'[{record}, {{"ts": 1,, }}, {record}, NaN]', received_ns=RECEIVED_NS)
    assert len(broken.batch) == 2
    assert [(r.reason, r.raw) for r in broken.rejections] == [("malformed", '{"ts": 1,, }'), ("malformed", "NaN")]


def test_records_with_mixed_timestamp_kinds(parser: ReadingParser) -> None:
    records = [
        {"ts": TS, "indicator": "pm25", "area": "wanzhou_s001", "value": PM_A, "sensor": "a"},
        {"ts": "2024-05-29T16:26:40Z", "indicator": "pm25", "area": "wanzhou_s001", "value": PM_B},
        {"ts": float(TS) + 0.25, "indicator": "pm25", "area": "wanzhou_s001", "value": PM_C, "extra": [1]},
        "not a record",
    ]
    result = parser.parse_records(records, received_ns=RECEIVED_NS)
    assert result.batch.ts_ns.tolist() == [TS * 10**9, TS * 10**9, TS * 10**9 + 250_000_000]
    assert result.batch.sensor is not None and result.batch.sensor.tolist() == ["a", None, None]
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", '"not a record"')]


def test_jsonl_lines_with_two_objects_or_split_objects_are_malformed(parser: ReadingParser) -> None:
    record = f'{{"ts": {TS}, "indicator": "pm25", "area": "wanzhou_s001", "value": {PM_A!r}}}'
    split = f'{{"ts": {TS}, "indicator": "pm25",\n"area": "wanzhou_s001", "value": {PM_A!r}}}'
    data = f"{record}\n{record} {record}\n{split}\n"
    result = parser.parse_jsonl(data, received_ns=RECEIVED_NS)
    assert len(result.batch) == 1
    assert [r.reason for r in result.rejections] == ["malformed"] * 3


def test_parse_table_refuses_what_is_not_a_table(parser: ReadingParser) -> None:
    with pytest.raises(ReadingError, match="pyarrow Table"):
        parser.parse_table({"ts": [1]})


def test_batch_carries_partition_seq_and_arrival(parser: ReadingParser) -> None:
    record = f'{{"ts": {TS}, "indicator": "pm25", "area": "wanzhou_s001", "value": {PM_A!r}}}'
    batch = parser.parse_jsonl(record, partition="rain-2", seq=41, received_ns=RECEIVED_NS).batch
    assert (batch.partition, batch.seq, batch.received_ns) == ("rain-2", 41, RECEIVED_NS)
    assert batch.indicator.dtype == np.int16 and batch.street.dtype == np.int32


def test_large_jsonl_block_with_scattered_bad_lines_keeps_every_good_line(parser: ReadingParser) -> None:
    rng = np.random.default_rng(11)
    n = 1_000
    good = [f'{{"ts": {TS + k}, "indicator": "pm25", "area": "wanzhou_s00{k % 9 + 1}", "value": {PM_A!r}}}'
            for k in range(n)]
    bad_at = sorted(rng.choice(n, 7, replace=False).tolist())
    garbage = ["null", "{broken", '{"ts": true}', "[1]", "{} {}", '{"value": "x"}', "\x00"]
    lines = list(good)
    for offset, (at, text) in enumerate(zip(bad_at, garbage, strict=True)):
        lines.insert(at + offset, text)
    result = parser.parse_jsonl("\n".join(lines), received_ns=RECEIVED_NS)
    clean = parser.parse_jsonl("\n".join(good), received_ns=RECEIVED_NS)
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", text) for text in garbage]
    assert result.batch.ts_ns.tolist() == clean.batch.ts_ns.tolist() == [(TS + k) * 10**9 for k in range(n)]
    assert result.batch.street.tolist() == clean.batch.street.tolist()


def test_large_csv_block_with_scattered_bad_rows_keeps_every_good_row(parser: ReadingParser) -> None:
    n = 700
    good = [f"{TS + k},pm25,wanzhou_s00{k % 9 + 1},,{PM_A!r}" for k in range(n)]
    garbage = ["1,2", "x,pm25,wanzhou_s001,,1,extra", f"{TS},pm25,wanzhou_s001,,lots", "\xff"]
    lines = list(good)
    for offset, (at, text) in enumerate(zip([3, 200, 201, 650], garbage, strict=True)):
        lines.insert(at + offset, text)
    result = parser.parse_csv(("ts,indicator,area,sensor,value\n" + "\n".join(lines)).encode(),
                              received_ns=RECEIVED_NS)
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", text) for text in garbage]
    assert result.batch.ts_ns.tolist() == [(TS + k) * 10**9 for k in range(n)]


def test_a_parser_bug_costs_only_the_item_it_fails_on(parser: ReadingParser,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net parses a failing block again in halves: 1,000 good lines + 1 that breaks the parser
    (here a simulated bug) give 1,000 accepted and 1 rejected, never a rejected block."""
    from vitals.readings import parse_json as json_format

    real = json_format.parse_jsonl

    def buggy(ctx: object, data: bytes, use_threads: bool = False) -> object:
        if b"boom" in data:
            raise RuntimeError("boom")
        return real(ctx, data, use_threads)  # type: ignore[arg-type]

    monkeypatch.setattr(json_format, "parse_jsonl", buggy)
    good = [f'{{"ts": {TS + k}, "indicator": "pm25", "area": "wanzhou_s001", "value": {PM_A!r}}}' for k in range(1000)]
    lines = [*good[:400], '{"boom": 1}', *good[400:]]
    result = parser.parse_jsonl("\n".join(lines), received_ns=RECEIVED_NS)
    assert len(result.batch) == 1000
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", '{"boom": 1}')]
    assert "RuntimeError: boom" in result.rejections[0].detail


def test_a_parser_bug_rejects_the_block_instead_of_raising(parser: ReadingParser,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from vitals.readings import parse_csv as csv_format

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(csv_format, "parse_csv", broken)
    result = parser.parse_csv(HEADER + b"a,b,c,,1\n\nd,e,f,,2\n", partition="p1", seq=4, received_ns=RECEIVED_NS)
    assert len(result.batch) == 0 and (result.batch.partition, result.batch.seq) == ("p1", 4)
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", "a,b,c,,1"), ("malformed", "d,e,f,,2")]
    assert "RuntimeError: boom" in result.rejections[0].detail
