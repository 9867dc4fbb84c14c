"""CSV readings: header ``ts,indicator,area,sensor,value`` (any order, sensor optional, extra columns ignored).

Fast path: ``pyarrow.csv`` reads the whole block with ts/ids/sensor as text and value as float64; empty
fields are missing (an empty sensor means no sensor). A block Arrow cannot read as a whole (a row with the
wrong number of fields, a value that is not a number, bytes that are not UTF-8 ...) is split into records by
Python's csv module; each bad record becomes a ``malformed`` rejection, the rest goes through the same
columnar core with the same Arrow conversions (bisected, so every field gets the fast path's verdict).
Blocks after the first of a file have no header: pass the file's column names as ``columns``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from vitals.readings.input_text import InputText
from vitals.readings.parse_arrow import Columns, Context, RawText, assemble
from vitals.readings.schema import FIELDS, GAP_MARKERS, REQUIRED_FIELDS, ParseResult, show

_LINE_BY_LINE = 64
_TYPES = {"ts": pa.string(), "indicator": pa.string(), "area": pa.string(), "sensor": pa.string(),
          "value": pa.string()}  # values are converted by csv_values (the same on the fast path and record by record)


@cache
def _gap_markers() -> pa.Array:
    """The gap markers as an Arrow array (built on first use: nothing is converted at import time)."""
    return pa.array(sorted(GAP_MARKERS), type=pa.string())


@dataclass(frozen=True)
class _Record:
    raw: str
    fields: list[str] | None  # None when the record could not be read
    problem: str = ""
    source: bytes = b""  # the record's bytes as in the block
    line: int = 0  # the block's line (0-based, as ``bytes.splitlines`` cuts it) the record starts on


_STRAY_QUOTE = "not valid CSV: a quote opens a field and does not close on its line"


def _decoded(lines: list[bytes]) -> tuple[list[str], set[int]]:
    texts: list[str] = []
    invalid: set[int] = set()
    for i, line in enumerate(lines):
        try:
            texts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(line.decode("utf-8", errors="backslashreplace"))
            invalid.add(i)
    return texts, invalid


def _fits(fields: list[str] | None, names: list[str]) -> bool:
    """A record that spans lines is kept only when it has the header's fields and no line end inside a
    reading field (line ends in quotes are fine in other columns, e.g. a comment)."""
    if fields is None or len(fields) != len(names):
        return False
    return not any("\n" in text or "\r" in text for name, text in zip(names, fields, strict=True) if name in FIELDS)


def _split_records(data: bytes, names: list[str] | None = None) -> list[_Record]:
    """Records of a CSV block with the exact source text of each (blank lines are not records).

    With ``names``, a record that spans lines but does not fit them is a stray quote (a field opening with
    ``"`` that was never meant to hold line ends): only its first line is rejected, reading goes on with the
    next line, so the stray quote costs just its own record.
    """
    lines = data.splitlines(keepends=True)
    texts, invalid = _decoded(lines)
    records: list[_Record] = []
    start = base = 0
    reader = csv.reader(iter(texts))
    while True:
        try:
            fields: list[str] | None = next(reader)
            problem = ""
        except StopIteration:
            return records
        except csv.Error as exc:
            fields, problem = None, f"not valid CSV: {exc}"
        end = base + reader.line_num
        if end - start > 1 and names is not None and not _fits(fields, names):
            fields, problem, end = None, _STRAY_QUOTE, start + 1
            base, reader = end, csv.reader(texts[i] for i in range(end, len(texts)))
        if invalid and not invalid.isdisjoint(range(start, end)):
            fields, problem = None, "row is not valid UTF-8"
        if fields != []:
            records.append(_Record("".join(texts[start:end]).rstrip("\r\n"), fields, problem,
                                   b"".join(lines[start:end]).rstrip(b"\r\n"), start))
        start = end


def split_sources(data: bytes, names: list[str] | None) -> tuple[bytes, list[bytes]]:
    """(header line, the bytes of each record) of a block; ``names`` for a block without a header line."""
    if names is not None:
        return b"", [r.source for r in _split_records(data, names)]
    records = [r.source for r in _split_records(data, header_names(data))]
    return (records[0], records[1:]) if records else (b"", [])


def record_lines(data: bytes, *, one_a_line: bool = False) -> list[int]:
    """The block line (0-based) each record starts on, the header line first, as the parser numbers records
    (blank lines are not records; a stray quote costs only its own line). A block without quotes has one record
    a non-empty line, and so has one that Arrow read as a whole (``one_a_line``: :func:`parse_csv` checks that it
    read one row a non-blank line when the block holds quotes): found without the csv module."""
    if one_a_line or b'"' not in data:
        return [k for k, line in enumerate(data.splitlines()) if line]
    return [record.line for record in _split_records(data, header_names(data))]


def header_names(data: bytes) -> list[str]:
    """The column names on the first non-blank line (a UTF-8 byte order mark is dropped)."""
    for line in data.splitlines():
        if line:
            names = next(csv.reader([line.decode("utf-8", errors="backslashreplace")]), [])
            return [name.lstrip("\ufeff").strip() for name in names]
    return []


def missing_header(names: list[str]) -> str:
    """Why a header line is not one ("" when it names the required columns)."""
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if not missing:
        return ""
    if set(names) & set(FIELDS):
        return f"the CSV header {','.join(names)[:200]!r} lacks the column(s) {', '.join(missing)}"
    return (f"no CSV header: the first line {','.join(names)[:200]!r} names none of the columns "
            f"{','.join(FIELDS)}; add that header line")


def _read_block(data: bytes, names: list[str], has_header: bool, use_threads: bool) -> pa.Table | None:
    include = [name for name in FIELDS if name in names]
    read = pcsv.ReadOptions(use_threads=use_threads, block_size=min(max(len(data) + 1, 1 << 16), 1 << 30),
                            column_names=None if has_header else names)
    convert = pcsv.ConvertOptions(column_types={name: _TYPES[name] for name in include}, include_columns=include,
                                  null_values=[""], strings_can_be_null=True)
    try:
        return pcsv.read_csv(io.BytesIO(data), read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowKeyError):
        return None


def csv_values(text: pa.Array) -> tuple[pa.Array, set[int], dict[int, str]]:
    """A CSV value column (text) as floats: (values, gap rows, malformed rows -> detail). Empty, null and the
    gap markers (NA, N/A, NaN, null, None, any case) are gaps; other text that is not a number is malformed."""
    text = text.cast(pa.string())
    trimmed = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    gap = pc.fill_null(pc.is_in(trimmed, value_set=_gap_markers()), True)
    gaps = {int(i) for i in np.flatnonzero(gap.to_numpy(zero_copy_only=False))}
    numbers = pc.if_else(gap, pa.scalar(None, pa.string()), text)
    values, bad_rows = _cast_each(numbers, pa.float64())
    return values, gaps, {row: f"value {show(text[row].as_py())} is not a number" for row in bad_rows}


def _cast_each(column: pa.Array, kind: pa.DataType, offset: int = 0) -> tuple[pa.Array, list[int]]:
    """``column`` cast to ``kind`` with null for the values that do not convert (and their rows)."""
    try:
        return column.cast(kind), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(column) == 1:
            return pa.nulls(1, kind), [offset]
    mid = len(column) // 2
    left, bad_left = _cast_each(column.slice(0, mid), kind, offset)
    right, bad_right = _cast_each(column.slice(mid), kind, offset + mid)
    return pa.concat_arrays([left, right]), bad_left + bad_right


def _fallback(ctx: Context, data: bytes, names: list[str], has_header: bool, why: str = "") -> ParseResult:
    """Record by record; ``why`` rejects every record (and the first line is data, not a header)."""
    records = _split_records(data, names)
    if has_header and records and not why:
        records = records[1:]
    malformed: dict[int, str] = dict.fromkeys(range(len(records)), why) if why else {}
    values: dict[str, list[str | None]] = {name: [None] * len(records) for name in FIELDS}
    position = {name: names.index(name) for name in FIELDS if name in names}
    for row, record in enumerate(records):
        if row in malformed:
            continue
        if record.fields is None:
            malformed[row] = record.problem
        elif len(record.fields) != len(names):
            malformed[row] = f"expected {len(names)} fields ({','.join(names)}), got {len(record.fields)}"
        else:
            for name, at in position.items():
                values[name][row] = record.fields[at] or None
    text = {name: pa.array(values[name], type=pa.string()) if name in position else None for name in FIELDS}
    value, gaps = text["value"], set[int]()
    if value is not None:
        value, gaps, bad = csv_values(value)
        for row, detail in bad.items():
            malformed.setdefault(row, detail)
    cols = Columns(n=len(records), ts=text["ts"], indicator=text["indicator"], area=text["area"], value=value,
                   sensor=text["sensor"], malformed=malformed, gaps=gaps - set(malformed))
    return assemble(ctx, cols, InputText("texts", [record.raw for record in records]))


def record_texts(data: bytes) -> list[str]:
    """The source text of every record of a block (the header line too, when it has one)."""
    return [record.raw for record in _split_records(data)]


def _fast_raw(data: bytes, has_header: bool, table: pa.Table) -> RawText:
    """Source text of a row, found by splitting the block again (only done when a row is rejected); the row as
    JSON when the records cannot be matched to the table's rows."""
    return InputText("csv", data, has_header=has_header, table=table)


def _parse_lines(ctx: Context, lines: list[bytes], names: list[str], use_threads: bool) -> ParseResult:
    """Data lines (no quotes, so one record each) of a block that failed the fast path: each half is tried
    on the fast path again; pieces of up to ``_LINE_BY_LINE`` lines go record by record."""
    if len(lines) <= _LINE_BY_LINE:
        return _fallback(ctx, b"\n".join(lines), names, has_header=False)
    mid = len(lines) // 2
    halves = [parse_csv(ctx, b"\n".join(part), names, use_threads) for part in (lines[:mid], lines[mid:])]
    return ParseResult.concat(halves)


def _data_lines(data: bytes, has_header: bool) -> int:
    return sum(1 for line in data.splitlines() if line.strip()) - (1 if has_header else 0)


def parse_csv(ctx: Context, data: bytes, columns: list[str] | None = None, use_threads: bool = False) -> ParseResult:
    """Parse a CSV block; ``columns`` names the fields of a block without a header line."""
    has_header = columns is None
    names = header_names(data) if columns is None else list(columns)
    if has_header and names and not set(names) & set(FIELDS):  # no header: the first line is a reading too
        return _fallback(ctx, data, names, has_header, missing_header(names))
    table = _read_block(data, names, has_header, use_threads) if names else None
    if table is not None and b'"' in data and table.num_rows != _data_lines(data, has_header):
        table = None  # a quoted field spans lines: a stray quote, or a line end the record rules must judge
    if table is None:
        if not names or b'"' in data:  # quoted fields may span lines: split by the csv module
            return _fallback(ctx, data, names, has_header)
        lines = [line for line in data.splitlines() if line]
        return _parse_lines(ctx, lines[1:] if has_header else lines, names, use_threads)
    by_name = {name: table[name].combine_chunks() if name in table.column_names else None for name in FIELDS}
    text = by_name["value"]
    value, gaps, bad = (None, set[int](), dict[int, str]()) if text is None else csv_values(text)
    cols = Columns(n=table.num_rows, ts=by_name["ts"], indicator=by_name["indicator"], area=by_name["area"],
                   value=value, sensor=by_name["sensor"], malformed=bad, gaps=gaps)
    return assemble(ctx, cols, _fast_raw(data, has_header, table))
