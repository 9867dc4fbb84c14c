"""The shared core of every parser: decoded columns -> coded :class:`ReadingBatch` + rejections.

Each format decodes its input into Arrow columns (or, for per-line fallbacks, into columns built from
Python values) and hands them to :func:`assemble`, so every format gets exactly the same rules. Id columns
are dictionary-encoded and only the small dictionaries are looked up in the catalog; all checks are
vectorized and Python only runs for the rows that are rejected (to write their details).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vitals.batches import REJECT_REASONS, ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.readings.input_text import InputText
from vitals.readings.schema import (
    BAD_TIMESTAMP,
    FIELDS,
    MALFORMED,
    MAX_SENSOR_CHARS,
    MISSING,
    OK,
    UNKNOWN_AREA,
    UNKNOWN_INDICATOR,
    ParseResult,
    clip_text,
    show,
)
from vitals.readings.timestamps import TsColumn, column_to_ns
from vitals.readings.validate import TimeRules, detail, reason_codes

RawText = Callable[[int], str]


@dataclass(frozen=True)
class Context:
    """Where a block came from and the time rules to apply to it."""

    catalog: Catalog
    partition: str
    seq: int
    rules: TimeRules


@dataclass
class Columns:
    """n decoded rows. A column is an Arrow array, ``None`` when the input has no such field at all;
    ``ts`` may be pre-converted. ``malformed`` holds rows the decoder already found broken (row -> detail)."""

    n: int
    ts: pa.Array | TsColumn | None
    indicator: pa.Array | None
    area: pa.Array | None
    value: pa.Array | None
    sensor: pa.Array | None = None
    malformed: dict[int, str] = field(default_factory=dict)
    gaps: set[int] = field(default_factory=set)  # rows whose value is a gap marker text (see schema.GAP_MARKERS)


class _Malformed:
    """Malformed rows and the first explanation for each (the first field in schema order wins)."""

    def __init__(self, n: int, rows: dict[int, str]) -> None:
        self.mask = np.zeros(n, dtype=bool)
        self.details = dict(rows)
        self.mask[list(rows)] = True

    def mark(self, rows: npt.NDArray[np.bool_], why: str) -> None:
        for row in np.flatnonzero(rows & ~self.mask):
            self.details[int(row)] = why
        self.mask |= rows


def _text_column(column: pa.Array) -> pa.DictionaryArray | None:
    kind = column.type
    if pa.types.is_dictionary(kind):
        ok = pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)
        return column if ok else None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return pc.dictionary_encode(column.cast(pa.string()))
    return None


def _per_row(
    column: pa.DictionaryArray, per_entry: Sequence[object], missing: object, dtype: type
) -> npt.NDArray[Any]:
    """Expand one value per dictionary entry to one per row (``missing`` for null rows)."""
    lut: npt.NDArray[Any] = np.empty(len(per_entry) + 1, dtype=dtype)
    lut[:-1] = per_entry
    lut[-1] = missing
    indices = pc.fill_null(column.indices, len(lut) - 1).to_numpy(zero_copy_only=False)
    return lut[indices]


def _codes(column: pa.Array | None, name: str, index: dict[str, int], bad: _Malformed) -> npt.NDArray[np.int32]:
    text = None if column is None else _text_column(column)
    if text is None:
        why = f"missing field {name!r}" if column is None else f"{name} must be text, got {column.type}"
        bad.mark(np.ones(bad.mask.shape[0], dtype=bool), why)
        return np.full(bad.mask.shape[0], -1, dtype=np.int32)
    bad.mark(text.is_null().to_numpy(zero_copy_only=False), f"missing {name}")
    entries = [index.get(v, -1) for v in text.dictionary.to_pylist()]
    return _per_row(text, entries, -1, np.int32)


def _values(column: pa.Array | None, bad: _Malformed, gap: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """The values as floats; null ones are gaps (marked in ``gap``, later rejected as ``missing``)."""
    n = bad.mask.shape[0]
    kind = None if column is None else column.type
    if column is None or kind is None or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                                              or pa.types.is_decimal(kind) or pa.types.is_null(kind)):
        bad.mark(np.ones(n, dtype=bool), "missing field 'value'" if column is None
                 else f"value must be a number, got {kind}")
        return np.full(n, np.nan)
    gap |= column.is_null().to_numpy(zero_copy_only=False)
    return np.asarray(column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)


def _timestamps(column: pa.Array | TsColumn | None, bad: _Malformed) -> TsColumn:
    n = bad.mask.shape[0]
    if isinstance(column, TsColumn):
        return column
    converted = "missing field 'ts'" if column is None else column_to_ns(column)
    if isinstance(converted, str):
        bad.mark(np.ones(n, dtype=bool), converted)
        return TsColumn(ns=np.zeros(n, dtype=np.int64))
    bad.mark(column.is_null().to_numpy(zero_copy_only=False), "missing ts")  # type: ignore[union-attr]
    return converted


def _sensors(column: pa.Array | None, bad: _Malformed) -> npt.NDArray[np.object_] | None:
    if column is None or pa.types.is_null(column.type) or column.null_count == len(column):
        return None
    text = _text_column(column)
    if text is None:
        bad.mark(np.ones(bad.mask.shape[0], dtype=bool), f"sensor must be text, got {column.type}")
        return None
    # per dictionary entry, vectorized (a batch has thousands of distinct sensor ids): length in characters
    entries = text.dictionary
    chars = pc.fill_null(pc.utf8_length(entries), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if (chars > MAX_SENSOR_CHARS).any():
        lengths = _per_row(text, chars, 0, np.int64)
        for row in np.flatnonzero((lengths > MAX_SENSOR_CHARS) & ~bad.mask):
            bad.mark(np.arange(len(lengths)) == row,
                     f"sensor id is {int(lengths[row]):,} characters long; at most {MAX_SENSOR_CHARS} are allowed")
    ids = entries.to_numpy(zero_copy_only=False)  # the entries as str objects
    ids[(chars == 0) | (chars > MAX_SENSOR_CHARS)] = None
    return _per_row(text, ids, None, object)


def _area_detail(catalog: Catalog, text: object) -> str:
    if isinstance(text, str) and text in catalog.district_index:
        return f"area {show(text)} is a district; readings need a street id (e.g. {text}_s001)"
    return f"unknown area {show(text)}: not a street id of the catalog"


@dataclass(frozen=True, eq=False)
class _Decoded:
    """All rows coded (before the split), with what is needed to explain each rejection."""

    ctx: Context
    cols: Columns
    bad: _Malformed
    ts: TsColumn
    coded: ReadingBatch
    gap: npt.NDArray[np.bool_]

    def explain(self, row: int, code: int) -> str:
        cols = self.cols
        if code == MALFORMED:
            return self.bad.details[row]
        if code == MISSING:
            return "no value (absent, null, empty, or a gap marker such as NA or NaN as text): a gap in the series"
        if code == UNKNOWN_INDICATOR and cols.indicator is not None:
            return f"unknown indicator {show(cols.indicator[row].as_py())}: not an indicator id of the catalog"
        if code == UNKNOWN_AREA and cols.area is not None:
            return _area_detail(self.ctx.catalog, cols.area[row].as_py())
        if code == BAD_TIMESTAMP and row in self.ts.bad:
            return self.ts.bad[row]
        return detail(self.ctx.catalog, self.coded, row, code, self.ctx.rules)


def _decode(ctx: Context, cols: Columns) -> _Decoded:
    bad = _Malformed(cols.n, cols.malformed)
    gap = np.zeros(cols.n, dtype=bool)
    gap[list(cols.gaps)] = True
    ts = _timestamps(cols.ts, bad)
    coded = ReadingBatch(
        ts_ns=ts.ns, indicator=_codes(cols.indicator, "indicator", ctx.catalog.indicator_index, bad).astype(np.int16),
        street=_codes(cols.area, "area", ctx.catalog.street_index, bad), value=_values(cols.value, bad, gap),
        sensor=_sensors(cols.sensor, bad), received_ns=ctx.rules.received_ns, partition=ctx.partition,
        seq=ctx.seq,
    )
    return _Decoded(ctx, cols, bad, ts, coded, gap)


def assemble(ctx: Context, cols: Columns, raw: RawText) -> ParseResult:
    """Code, check and split decoded columns into accepted readings and rejections."""
    decoded = _decode(ctx, cols)
    codes = reason_codes(ctx.catalog, decoded.coded, ctx.rules)
    if decoded.ts.bad:
        rows = np.fromiter(decoded.ts.bad, dtype=np.intp, count=len(decoded.ts.bad))
        current = codes[rows]
        codes[rows] = np.where((current == OK) | (current > BAD_TIMESTAMP), BAD_TIMESTAMP, current)
    gap = decoded.gap & ((codes == OK) | (codes > UNKNOWN_AREA))  # unknown series and garbage rank first
    codes[gap] = MISSING
    codes[decoded.bad.mask] = MALFORMED
    accepted = codes == OK
    batch = decoded.coded.take(accepted)
    if isinstance(raw, InputText):  # kept by reference for readings rejected later (late, duplicate)
        batch = dataclasses.replace(batch, raw_index=np.flatnonzero(accepted).astype(np.int32), raw_source=raw)
    bad_rows = np.flatnonzero(~accepted).tolist()
    texts = raw.many(bad_rows) if isinstance(raw, InputText) else [raw(row) for row in bad_rows]  # tables at once
    rejections = [
        Rejection(REJECT_REASONS[codes[row] - 1], clip_text(text), decoded.explain(row, int(codes[row])),
                  ctx.partition, ctx.seq, item=row)
        for row, text in zip(bad_rows, texts, strict=True)
    ]
    return ParseResult(batch=batch, rejections=rejections)


def table_raw(table: pa.Table) -> RawText:
    """Raw text of a table row: a JSON rendering of all its columns."""
    return InputText.of_table(table)


def parse_table(ctx: Context, table: pa.Table | pa.RecordBatch) -> ParseResult:
    """Parse an Arrow table or record batch with columns named as in :data:`FIELDS` (extra columns ignored)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    present = set(table.column_names)
    column = {name: table.column(name).combine_chunks() if name in present else None for name in FIELDS}
    cols = Columns(n=table.num_rows, ts=column["ts"], indicator=column["indicator"], area=column["area"],
                   value=column["value"], sensor=column["sensor"])
    return assemble(ctx, cols, table_raw(table))
