"""Every accepted reading knows its input line (what a late or duplicate dead letter shows): in each format and
parse path (fast path, bisected halves joined again, record by record), ``batch.input_text(i)`` is a line of the
input that, parsed on its own, gives that same reading; it survives pickling (Bytewax between processes) and the
series state drops it from the readings it keeps."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from readings_support import RECEIVED_NS, readings, to_csv, to_jsonl, to_table

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, load_catalog
from vitals.readings import ReadingParser
from vitals.readings.input_text import InputText
from vitals.state import ShardState

CATALOG = load_catalog(streets_total=76)
PARSER = ReadingParser(CATALOG)
GARBAGE = [b'{"ts": "2024-06-01T00:00:00Z", "indicator": ', b"not json at all", b'["an", "array"]']
CSV_HEADER = b"ts,indicator,area,sensor,value\n"


def same_reading(a: ReadingBatch, i: int, b: ReadingBatch) -> bool:
    return (len(b) == 1 and int(a.ts_ns[i]) == int(b.ts_ns[0]) and int(a.indicator[i]) == int(b.indicator[0])
            and int(a.street[i]) == int(b.street[0]) and np.array_equal(a.value[i:i + 1], b.value[:1]))


def blocks(catalog: Catalog) -> st.SearchStrategy[tuple[list[dict[str, Any]], list[int]]]:
    """Records (up to 150: more than one bisection level) and positions of garbage lines among them."""
    return st.tuples(st.lists(readings(catalog), min_size=1, max_size=150),
                     st.lists(st.integers(0, 150), max_size=3))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(blocks(CATALOG))
def test_jsonl_readings_know_their_line(block: tuple[list[dict[str, Any]], list[int]]) -> None:
    records, bad = block
    lines = to_jsonl(records).splitlines()
    for at in sorted(bad, reverse=True):
        lines.insert(min(at, len(lines)), GARBAGE[at % len(GARBAGE)])
    batch = PARSER.parse_jsonl(b"\n".join(lines), received_ns=RECEIVED_NS).batch
    batch = pickle.loads(pickle.dumps(batch))
    texts = batch.input_texts(np.arange(len(batch)))
    assert texts == [batch.input_text(i) for i in range(len(batch))]
    for i, text in enumerate(texts):
        assert text is not None and text.encode() in lines
        assert same_reading(batch, i, PARSER.parse_jsonl(text.encode(), received_ns=RECEIVED_NS).batch)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(blocks(CATALOG))
def test_csv_readings_know_their_record(block: tuple[list[dict[str, Any]], list[int]]) -> None:
    records, bad = block
    lines = to_csv(records).splitlines()
    for at in sorted(bad, reverse=True):
        lines.insert(min(at + 1, len(lines)), b"2024-06-01T00:00:00Z,too,many,fields,1,2,3")
    batch = PARSER.parse_csv(b"\n".join(lines), received_ns=RECEIVED_NS).batch
    for i, text in enumerate(batch.input_texts(np.arange(len(batch)))):
        assert text is not None and text.encode() in lines[1:]
        alone = PARSER.parse_csv(CSV_HEADER + text.encode(), received_ns=RECEIVED_NS).batch
        assert same_reading(batch, i, alone)


def test_table_rows_are_rendered_as_read() -> None:
    records = [{"ts": "2024-06-01T00:00:00Z", "indicator": "water_pressure", "area": "yuzhong_s001",
                "sensor": "p-1", "value": 0.31},
               {"ts": "2024-06-01T00:01:00Z", "indicator": "water_pressure", "area": "yuzhong_s001",
                "sensor": None, "value": 0.32}]
    batch = PARSER.parse_table(to_table(records), received_ns=RECEIVED_NS).batch
    assert batch.input_texts(np.arange(2)) == [
        '{"ts": "2024-06-01T00:00:00Z", "indicator": "water_pressure", "area": "yuzhong_s001", "sensor": "p-1", '
        '"value": 0.31}',
        '{"ts": "2024-06-01T00:01:00Z", "indicator": "water_pressure", "area": "yuzhong_s001", "sensor": null, '
        '"value": 0.32}']


def test_the_state_keeps_no_input() -> None:
    lines = to_jsonl([{"ts": "2024-06-01T00:00:00Z", "indicator": "water_pressure", "area": "yuzhong_s001",
                       "value": 0.31}] * 2)
    batch = PARSER.parse_jsonl(lines, received_ns=RECEIVED_NS).batch
    assert isinstance(batch.raw_source, InputText)
    result = ShardState(CATALOG).update(batch)
    assert [r.raw for r in result.duplicates] == [lines.splitlines()[1].decode()]
    assert result.accepted_batch.raw_source is None and result.accepted_batch.raw_index is None


def test_bisected_blocks_join_their_inputs() -> None:
    """100 lines with one bad line in the middle: the block is parsed in halves and joined again (JoinedInput)."""
    streets = [s.id for s in CATALOG.streets[:5]]
    records = [{"ts": f"2024-06-01T00:00:{i % 60:02d}Z", "indicator": "water_pressure", "area": streets[i % 5],
                "value": 0.3 + i / 1000} for i in range(100)]
    for lines, parse, header in ((to_jsonl(records).splitlines(), PARSER.parse_jsonl, 0),
                                 (to_csv(records).splitlines(), PARSER.parse_csv, 1)):
        lines.insert(50 + header, b"2024,not,a,reading,at,all,7")
        batch = parse(b"\n".join(lines), received_ns=2**62).batch
        assert len(batch) == 100 and type(batch.raw_source).__name__ == "JoinedInput"
        expected = [line.decode() for line in lines[header:] if not line.startswith(b"2024,not")]
        assert batch.input_texts(np.arange(100)) == expected


_CSV_LINE = st.sampled_from([b"", b" ", b"2026-03-02T00:10:00Z,river_level,RIB-01,,3.5", b"a,b,\xff",
                             b'x,"two\nlines",y', b'"open', b"1,2,3,4,5,6"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_CSV_LINE, max_size=25), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_csv_record_lines_are_where_the_parser_starts_each_record(lines: list[bytes], end: bytes,
                                                                   last: bool) -> None:
    """The quick count of a block without quotes finds the lines the parser's record split starts on."""
    from vitals.readings.parse_csv import _split_records, header_names, record_lines

    data = end.join([b"ts,indicator,area,sensor,value", *lines]) + (end if last else b"")
    assert record_lines(data) == [r.line for r in _split_records(data, header_names(data))]
