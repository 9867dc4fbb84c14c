"""JSON readings: JSON lines (one object per line) and records already decoded (payloads: ``parse_payload``).

JSON lines take a columnar fast path: ``pyarrow.json`` reads the whole block against the reading schema
(ts as text, or as numbers when the block uses Unix seconds). Only a block that fails as a whole goes
line by line (orjson, then Python's json for ``NaN``/``Infinity`` literals and integers beyond 64 bits):
each bad line becomes a ``malformed`` rejection and the good lines are kept. Lines that are empty or only
whitespace are not readings; a UTF-8 byte order mark is skipped; an opening ``{`` line that is no JSON
value alone takes the indented lines after it as one input (a pretty-printed object). Decoded records
are checked field by field for their types, then go through the same columnar core as every other format.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj

from vitals.readings.input_text import InputText
from vitals.readings.parse_arrow import Columns, Context, RawText, assemble
from vitals.readings.schema import (
    BOM,
    JSON_SCHEMA_NUMBER_TS,
    JSON_SCHEMA_TEXT_TS,
    ParseResult,
    is_gap,
    is_unicode,
)
from vitals.readings.timestamps import mixed_to_ns

_LF, _CR, _OPEN, _CLOSE = ord("\n"), ord("\r"), ord("{"), ord("}")
_LINE_BY_LINE = 64
BROKEN = object()  # a line that is not a JSON value at all; its row is already malformed
_NUMBER = (int, float)


def _type_name(value: object) -> str:
    return {dict: "object", list: "array", str: "text", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, _NUMBER) else type(value).__name__)


def _read_block(data: bytes, use_threads: bool) -> pa.Table | None:
    """The whole block as a table in the reading schema, or None when any line does not fit it."""
    options = pj.ReadOptions(use_threads=use_threads, block_size=min(max(len(data) + 1, 1 << 16), 1 << 30))
    for schema in (JSON_SCHEMA_TEXT_TS, JSON_SCHEMA_NUMBER_TS):
        parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            return pj.read_json(io.BytesIO(data), read_options=options, parse_options=parse)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            if "/ts)" not in str(exc):  # only a ts column of numbers is worth a second try
                return None
    return None


def object_lines(data: bytes) -> int | None:
    """The number of lines when every line starts with ``{`` and ends with ``}`` (so no object can span
    lines), else None. ``data`` is stripped: it neither starts nor ends with whitespace.

    Checked before Arrow sees the block: besides choosing the fast path, it keeps inputs such as a leading
    ``null`` away from ``pyarrow.json``, which crashes the process on them (apache/arrow#47409, pyarrow 26).
    """
    text = np.frombuffer(data, dtype=np.uint8)
    if not len(text) or text[0] != _OPEN or text[-1] != _CLOSE:
        return None
    newlines = np.flatnonzero(text == _LF)
    before = text[newlines - 1]
    before = np.where(before == _CR, text[np.maximum(newlines - 2, 0)], before)
    if (before == _CLOSE).all() and (text[newlines + 1] == _OPEN).all():
        return len(newlines) + 1
    return None


def nonblank_lines(data: bytes) -> list[bytes]:
    """The non-blank lines of a block (each one reading), without their line ends."""
    return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]


def loads(line: bytes) -> object:
    if line.startswith(BOM):
        line = line[len(BOM):]
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line.decode("utf-8"))  # NaN, Infinity, big integers; raises like orjson otherwise


def _continues(line: bytes) -> bool:
    """A line that goes on a value begun above it: indented, or closing a bracket (pretty-printed JSON)."""
    return line[:1] in (b" ", b"\t", b"}", b"]")


def _group(lines: list[bytes], row: int) -> int:
    """The end of the input that starts at ``row``, a line that is not a JSON value on its own: a line opening
    with ``{`` takes the indented lines after it up to the first line starting with ``}`` (one pretty-printed
    object, one input); any other line is an input on its own."""
    if not lines[row].startswith(b"{"):
        return row + 1
    end = row + 1
    while end < len(lines) and _continues(lines[end]):
        end += 1
        if lines[end - 1].startswith(b"}"):
            break
    return end


def item_lines(data: bytes) -> list[int]:
    """The line of a JSON lines block (0-based, cut at ``\n``) each input starts on, the inputs numbered as the
    parser numbers them: one per non-blank line, but a line that is no JSON value alone and opens with ``{``
    takes the indented lines after it (a pretty-printed object)."""
    lines = data.split(b"\n")
    at = [k for k, line in enumerate(lines) if line.strip()]
    texts = [lines[k].rstrip(b"\r") for k in at]
    if all(text[:1] == b"{" for text in texts[1:]):  # nothing continues a line: one input a line (the usual)
        return at
    starts, row = [], 0
    while row < len(texts):
        starts.append(at[row])
        end = row + 1
        try:
            loads(texts[row].strip())
        except (ValueError, RecursionError):
            end = _group(texts, row)
        row = end
    return starts


def _decode_lines(lines: list[bytes]) -> tuple[list[bytes], list[object], dict[int, str]]:
    """(inputs, their decoded values, problems by input): usually one input per line."""
    items: list[bytes] = []
    records: list[object] = []
    broken: dict[int, str] = {}
    row = 0
    while row < len(lines):
        end = row + 1
        try:
            value = loads(lines[row])
        except (ValueError, RecursionError):
            end = _group(lines, row)
            value = decode_item(b"\n".join(lines[row:end]), len(items), broken)
        items.append(b"\n".join(lines[row:end]))
        records.append(value)
        row = end
    return items, records, broken


def decode_item(item: bytes, row: int, broken: dict[int, str]) -> object:
    try:
        return loads(item)
    except UnicodeDecodeError:
        broken[row] = "line is not valid UTF-8"
    except (ValueError, RecursionError) as exc:
        broken[row] = f"not valid JSON: {_first_line(exc)}"
    return BROKEN


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def parse_jsonl(ctx: Context, data: bytes, use_threads: bool = False) -> ParseResult:
    """Parse a block of JSON lines."""
    data = data.strip()  # the same object when there is nothing to strip
    if data.startswith(BOM):  # a file written with a byte order mark
        data = data[len(BOM):].lstrip()
    n_lines = object_lines(data)
    table = None if n_lines is None else _read_block(data, use_threads)
    if table is not None and table.num_rows == n_lines:  # else some line holds two objects
        cols = Columns(n=table.num_rows, ts=table["ts"].combine_chunks(),
                       indicator=table["indicator"].combine_chunks(), area=table["area"].combine_chunks(),
                       value=table["value"].combine_chunks(), sensor=table["sensor"].combine_chunks())
        return assemble(ctx, cols, InputText("lines", data))  # split into lines only when a row is rejected
    return _parse_lines(ctx, nonblank_lines(data), use_threads)


def _parse_lines(ctx: Context, lines: list[bytes], use_threads: bool) -> ParseResult:
    """Lines whose block failed the fast path: each half is tried on the fast path again, so a few bad lines
    cost about twice the block's Arrow parse; pieces of up to ``_LINE_BY_LINE`` lines go line by line."""
    if len(lines) <= _LINE_BY_LINE:
        items, records, broken = _decode_lines(lines)
        return parse_records(ctx, records, raw=InputText("items", items), malformed=broken)
    mid = _split_point(lines)
    halves = [parse_jsonl(ctx, b"\n".join(part), use_threads) for part in (lines[:mid], lines[mid:])]
    return ParseResult.concat(halves)


def _split_point(lines: list[bytes]) -> int:
    """Near the middle, at a line that does not go on a pretty-printed value (so no value is cut in two)."""
    mid = len(lines) // 2
    after = next((i for i in range(mid, len(lines)) if not _continues(lines[i])), None)
    if after is not None and after > 0:
        return after
    return next((i for i in range(mid - 1, 0, -1) if not _continues(lines[i])), mid)


def _field(record: dict[object, object], name: str, kinds: tuple[type, ...], expected: str) -> tuple[object, str]:
    """(value, problem): the field's value when absent/null/of the right type, else a problem to report."""
    value = record.get(name)
    if isinstance(value, str) and not is_unicode(value):
        return None, f"{name} is not valid Unicode: it holds a lone surrogate escape such as \\ud800"
    if value is None or (isinstance(value, kinds) and not isinstance(value, bool)):
        return value, ""
    return None, f"{name} must be {expected}, got {_type_name(value)}"


def _record_raw(records: Sequence[object]) -> RawText:
    return InputText("records", records)


def parse_records(
    ctx: Context, records: Sequence[object], *, raw: RawText | None = None, malformed: dict[int, str] | None = None,
) -> ParseResult:
    """Parse decoded JSON records (dicts with the reading fields), e.g. the objects of an MQTT payload."""
    n, broken = len(records), dict(malformed or {})
    columns: dict[str, list[object]] = {name: [None] * n for name in ("indicator", "area", "sensor", "value")}
    texts: dict[int, str] = {}
    numbers: dict[int, float] = {}
    for row, record in enumerate(records):
        if row in broken:
            continue
        if not isinstance(record, dict):
            broken[row] = f"a reading must be a JSON object, got {_type_name(record)}"
            continue
        problem = _fill_row(record, row, columns, texts, numbers)
        if problem:
            broken[row] = problem
    for row in range(n):
        if row not in broken and row not in texts and row not in numbers:
            broken[row] = "missing ts"
    cols = Columns(
        n=n, ts=mixed_to_ns(n, texts, numbers), malformed=broken,
        indicator=pa.array(columns["indicator"], type=pa.string()), area=pa.array(columns["area"], type=pa.string()),
        value=pa.array(columns["value"], type=pa.float64()), sensor=pa.array(columns["sensor"], type=pa.string()),
    )
    return assemble(ctx, cols, raw or _record_raw(records))


def _fill_row(record: dict[object, object], row: int, columns: dict[str, list[object]],
              texts: dict[int, str], numbers: dict[int, float]) -> str:
    """Copy one record's fields into the columns; returns a problem ("" when the types are right)."""
    ts, problem = _field(record, "ts", (str, *_NUMBER), "text or Unix seconds")
    if problem:
        return problem
    for name in ("indicator", "area"):
        columns[name][row], problem = _field(record, name, (str,), "text")
        if problem:
            return problem
    value, problem = _field(record, "value", _NUMBER, "a number")
    if problem and is_gap(record.get("value")):  # "NA", "NaN", "" as text: a gap, rejected as missing
        value, problem = None, ""
    if problem:
        return problem
    columns["sensor"][row], problem = _field(record, "sensor", (str,), "text")
    if problem:
        return problem
    columns["value"][row] = None if value is None else _to_float(value)
    if isinstance(ts, str):
        texts[row] = ts
    elif ts is not None:
        numbers[row] = _to_float(ts)
    return ""


def _to_float(number: object) -> float:
    try:
        return float(number)  # type: ignore[arg-type]
    except OverflowError:  # an integer beyond float range
        return float("inf") if number > 0 else float("-inf")  # type: ignore[operator]
