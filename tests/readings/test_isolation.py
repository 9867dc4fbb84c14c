"""Per-reading isolation (issue 12): each finding of the fuzzing run, as the input that broke it. A malformed
element costs exactly itself, in every format and payload shape."""

from __future__ import annotations

import json

from readings_support import RECEIVED_NS

from vitals.catalog import load_catalog
from vitals.readings import ReadingParser

CATALOG = load_catalog()
PARSER = ReadingParser(CATALOG)
SPEC = CATALOG.indicator("water_pressure")
VALUE = SPEC.valid_min + 0.25 * (SPEC.valid_max - SPEC.valid_min)
HEADER = b"ts,indicator,area,sensor,value\n"


def reading(k: int, **fields: object) -> dict[str, object]:
    return {"ts": 1_717_000_000 + k, "indicator": "water_pressure", "area": "wanzhou_s001", "value": VALUE, **fields}


def lines(n: int) -> list[bytes]:
    return [json.dumps(reading(k)).encode() for k in range(n)]


def reasons(result: object) -> list[tuple[str, str]]:
    return [(r.reason, r.detail) for r in result.rejections]  # type: ignore[attr-defined]


def test_lone_surrogate_costs_only_its_line() -> None:
    bad = [b'{"ts": "\\ud800", "indicator": "water_pressure", "area": "wanzhou_s001", "value": 1}',
           json.dumps(reading(5000, sensor="\ud800")).encode()]
    good = lines(1000)
    result = PARSER.parse_jsonl(b"\n".join([*good[:500], bad[0], *good[500:], bad[1]]), received_ns=RECEIVED_NS)
    assert len(result.batch) == 1000
    assert [r.reason for r in result.rejections] == ["malformed"] * 2
    assert "lone surrogate" in result.rejections[0].detail and "\\ud800" in result.rejections[1].raw
    assert all(r.raw.encode("utf-8") for r in result.rejections)  # writable as UTF-8 (dead letters)


def test_lone_surrogate_in_mqtt_payloads_and_records() -> None:
    payloads = [*lines(1000), b'{"ts": "\\ud800"}']
    result = PARSER.parse_payloads(payloads, received_ns=RECEIVED_NS)
    assert (len(result.batch), len(result.rejections)) == (1000, 1)
    records = PARSER.parse_records([reading(1, area="\udc80"), reading(2)], received_ns=RECEIVED_NS)
    assert (len(records.batch), [r.reason for r in records.rejections]) == (1, ["malformed"])
    assert records.rejections[0].raw.encode("utf-8")
    text = PARSER.parse_jsonl('{"ts": "\ud800"}\n' + lines(1)[0].decode(), received_ns=RECEIVED_NS)
    assert (len(text.batch), len(text.rejections)) == (1, 1)


def test_array_payload_with_one_bad_element_keeps_the_others() -> None:
    elements = [json.dumps(reading(k)) for k in range(10)]
    elements[4] = elements[4].replace(f"{VALUE!r}", "NaN")
    result = PARSER.parse_payloads([("[" + ",".join(elements) + "]").encode()], received_ns=RECEIVED_NS)
    assert len(result.batch) == 9 and [r.reason for r in result.rejections] == ["non_finite"]
    elements[4] = '{"ts": 1, "value": }'  # not JSON at all
    result = PARSER.parse_payloads([("[" + ",".join(elements) + "]").encode()], received_ns=RECEIVED_NS)
    assert len(result.batch) == 9 and [(r.reason, r.raw) for r in result.rejections] == [("malformed", elements[4])]


def test_pretty_printed_reading_is_one_input() -> None:
    """Documented: in a payload, one pretty-printed object is one reading; in JSON lines, an opening ``{`` line
    that does not parse alone takes the indented lines after it up to a line starting with ``}``."""
    pretty = json.dumps(reading(7, sensor="p-17"), indent=2).encode()
    assert len(pretty.splitlines()) == 7
    good = lines(3)
    for result in (PARSER.parse_payloads([good[0], pretty, good[1]], received_ns=RECEIVED_NS),
                   PARSER.parse_json_payload(pretty, received_ns=RECEIVED_NS),
                   PARSER.parse_jsonl(b"\n".join([good[0], pretty, good[1]]), received_ns=RECEIVED_NS)):
        assert result.rejections == [] and len(result.batch) >= 1
        assert "p-17" in result.batch.sensor.tolist()
    broken = pretty.replace(b'"sensor"', b"sensor")  # still one input, rejected
    result = PARSER.parse_jsonl(b"\n".join([good[0], broken, good[1]]), received_ns=RECEIVED_NS)
    assert len(result.batch) == 2 and [(r.reason, r.raw) for r in result.rejections] == [
        ("malformed", broken.decode())]


def test_pretty_printed_readings_in_a_long_block_are_never_cut() -> None:
    """Halving a failing block cuts only at a line that starts a value."""
    items = [json.dumps(reading(k), indent=1).encode() if k % 3 == 0 else lines(k + 1)[k] for k in range(300)]
    result = PARSER.parse_jsonl(b"\n".join(items), received_ns=RECEIVED_NS)
    assert (len(result.batch), result.rejections) == (300, [])


def test_jsonl_with_byte_order_mark_accepts_its_first_reading() -> None:
    result = PARSER.parse_jsonl(b"\xef\xbb\xbf" + b"\n".join(lines(3)), received_ns=RECEIVED_NS)
    assert (len(result.batch), result.rejections) == (3, [])
    payload = PARSER.parse_payloads([b"\xef\xbb\xbf" + lines(1)[0]], received_ns=RECEIVED_NS)
    assert (len(payload.batch), payload.rejections) == (1, [])


def csv_rows(n: int) -> list[bytes]:
    return [f"{1_717_000_000 + k},water_pressure,wanzhou_s001,s{k},{VALUE!r}".encode() for k in range(n)]


def test_csv_stray_quote_costs_only_its_record() -> None:
    rows = csv_rows(200)
    stray = b'"1717000000,water_pressure,wanzhou_s001,,1'
    result = PARSER.parse_csv(HEADER + b"\n".join([*rows[:50], stray, *rows[50:]]), received_ns=RECEIVED_NS)
    assert len(result.batch) == 200
    assert [(r.reason, r.raw) for r in result.rejections] == [("malformed", stray.decode())]
    assert "quote" in result.rejections[0].detail


def test_csv_quoted_line_ends_are_fine_in_other_columns() -> None:
    data = b"ts,indicator,area,sensor,value,note\n" + b"\n".join(
        [*(r + b",ok" for r in csv_rows(2)), csv_rows(3)[2] + b',"two\nlines, one note"'])
    result = PARSER.parse_csv(data, received_ns=RECEIVED_NS)
    assert (len(result.batch), result.rejections) == (3, [])


def test_csv_without_header_is_one_clear_error_per_row_and_counts_the_first() -> None:
    result = PARSER.parse_csv(b"\n".join(csv_rows(5)), received_ns=RECEIVED_NS)
    assert len(result.batch) == 0 and len(result.rejections) == 5
    assert {r.detail.split(":")[0] for r in result.rejections} == {"no CSV header"}


def test_sensor_id_length_is_limited() -> None:
    long = "s" * 2_000_008
    for result in (PARSER.parse_jsonl(b"\n".join([*lines(3), json.dumps(reading(9, sensor=long)).encode()]),
                                      received_ns=RECEIVED_NS),
                   PARSER.parse_records([reading(9, sensor=long), reading(1)], received_ns=RECEIVED_NS)):
        assert [r.reason for r in result.rejections] == ["malformed"]
        assert "2,000,008 characters" in result.rejections[0].detail
        assert len(result.rejections[0].raw) < 70_000  # the raw text is clipped
        assert all(s is None or len(s) <= 256 for s in (result.batch.sensor if result.batch.sensor is not None
                                                       else []))
