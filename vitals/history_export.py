"""``vitals history export``: a slice of the history (a period, some indicators, districts or streets) as one CSV
or Parquet file, for people who do not read Parquet directories with pandas: a spreadsheet, a report, another
team's tool.

The period is the city's: ``--from``/``--to`` take a local day of the catalog's time zone (``--to`` included) or an
ISO 8601 time with a zone (``--to`` excluded); the files of the UTC days it touches are read, with the filters
pushed down to Arrow (only the matching rows are held: memory follows the export, not the history). Rows come in
(indicator, area, time) order, as :func:`vitals.history.read_readings` returns them. A CSV carries the time twice:
``ts`` / ``at`` in UTC (ISO 8601, ``Z``) and ``local_time``, the city's wall clock (``YYYY-MM-DD HH:MM:SS``, which
spreadsheets read as a time); missing values are empty cells, and a column whose values all came from float32 is
printed in float32's short form (the same numbers); ``names`` adds the indicator, district and street names
(``zh`` or ``en``) next to the ids; ``excel`` starts the CSV with a UTF-8 byte order mark, without which Excel reads
Chinese names as mojibake. A Parquet export keeps the history's types (times in UTC).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vitals.catalog import Catalog
from vitals.catalog.clock import city_moment_ns, local_ns
from vitals.errors import ConfigError, HistoryError
from vitals.history import files_schema, final_vitals_format, series_time_order
from vitals.history_admin import day_dirs
from vitals.history_files import history_files, history_table
from vitals.units import NS_PER_S, utc_date, utc_iso

log = logging.getLogger(__name__)

Kind = Literal["readings", "vitals"]
TIME_COLUMN: dict[str, str] = {"readings": "ts", "vitals": "at"}
KEYS = ("indicator", "area", "district")
BOM = b"\xef\xbb\xbf"
WRITE_ROWS = 1 << 20  # rows taken in sorted order and written at a time


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC nanoseconds (None: open)."""

    start_ns: int | None = None
    end_ns: int | None = None


@dataclass(frozen=True)
class ExportResult:
    path: str
    kind: str
    rows: int
    series: int
    files_read: int
    first: str | None  # the first and last time exported, UTC ISO 8601
    last: str | None
    history_days: tuple[str, str] | None = None  # no row matched: the first and last UTC day the history holds

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def period_of(catalog: Catalog, start: str | None, end: str | None) -> Period:
    """``--from``/``--to`` as UTC nanoseconds: a date is a local day of the city (``end`` included), a time needs a
    zone (``end`` excluded); one line on anything else, and on an end not after the start."""
    start_ns = None if start is None else city_moment_ns(catalog, "--from", start)
    end_ns = None if end is None else city_moment_ns(catalog, "--to", end, end_of_day=True)
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        msg = f"--to {end} is not after --from {start}: nothing to export"
        raise ConfigError(msg)
    return Period(start_ns, end_ns)


def export(root: str | Path, out: str | Path, catalog: Catalog, *, kind: Kind = "readings",
           period: Period = Period(), indicators: Sequence[str] = (), districts: Sequence[str] = (),
           streets: Sequence[str] = (), columns: Sequence[str] = (), names: str | None = None, excel: bool = False,
           progress: bool = False) -> ExportResult:
    """Write the rows of ``kind`` in ``period`` (and of the given ids, each filter a list: any of them) to ``out``
    (CSV or Parquet, by its suffix); ``columns``: the value columns to keep (default all)."""
    from tqdm import tqdm

    out = Path(out)
    fmt = final_vitals_format(out, option="--out")
    base = Path(root) / kind
    if out.absolute().resolve().is_relative_to(Path(root).absolute().resolve()):
        msg = f"--out {out} is inside the history {root}: readers would read the export as history; write it elsewhere"
        raise ConfigError(msg)
    if not base.is_dir():
        msg = f"no {kind} history under {base}: give the --history-dir of a run"
        raise HistoryError(msg)
    time_column = TIME_COLUMN[kind]
    days = _days(base, period)
    files = [p for day_files in days.values() for p in day_files]
    schema = files_schema(files) if files else None
    keep = _columns(kind, schema, columns)
    wanted = _filter(time_column, period, indicators, districts, streets)
    parts = []
    with tqdm(total=len(days), desc="export", unit="day", disable=not progress, leave=False) as bar:
        for day_files in days.values():
            if schema is not None:
                table = history_table(base, day_files, schema=pa.schema([*schema, pa.field("date", pa.string())]),
                                      filter=wanted, columns=keep)
                if table.num_rows:
                    parts.append(table)
            bar.update()
    table = pa.concat_tables(parts) if parts else _empty(kind, schema, keep)
    order = series_time_order(table, time_column)
    first = last = None
    if table.num_rows:
        span = pc.min_max(table.column(time_column).cast(pa.int64()))
        first, last = (utc_iso(span[k].as_py(), "auto") for k in ("min", "max"))
    series = table.group_by(["indicator", "area"]).aggregate([]).num_rows if table.num_rows else 0

    def sorted_parts() -> Iterator[pa.Table]:  # in sorted order a slice at a time: no second copy of the export
        for at in range(0, max(table.num_rows, 1), WRITE_ROWS):
            part = table.take(pa.array(order[at:at + WRITE_ROWS]))
            yield _for_people(part, time_column, catalog, names) if fmt == "csv" else part

    _write(sorted_parts(), out, fmt, excel)
    log.info("exported %d rows of %s from %d files to %s", table.num_rows, kind, len(files), out)
    held = [] if table.num_rows else list(_days(base, Period()))  # said when nothing matched
    return ExportResult(str(out), kind, table.num_rows, series, len(files), first, last,
                        (held[0], held[-1]) if held else None)


def _days(base: Path, period: Period) -> dict[str, list[Path]]:
    """The history's files by UTC day (``date=`` partition), of the days the period touches only (files outside a
    partition are not read: ``vitals history check`` names them)."""
    first = None if period.start_ns is None else utc_date(period.start_ns).isoformat()
    last = None if period.end_ns is None else utc_date(period.end_ns - 1).isoformat()
    return {day: files for day, folder in day_dirs(base.parent, base.name).items()
            if (first is None or day >= first) and (last is None or day <= last) and (files := history_files(folder))}


def _columns(kind: str, schema: pa.Schema | None, columns: Sequence[str]) -> list[str] | None:
    if not columns:
        return None if schema is None else [n for n in schema.names if n not in {"date", "domain", "series"}]
    if schema is None:
        return None
    keys = [TIME_COLUMN[kind], *KEYS]
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        values = [n for n in schema.names if n not in {*keys, "date", "domain", "series"}]
        msg = (f"--columns {unknown[0]!r} is not a column of the {kind} history; it has "
               f"{', '.join(values[:12])}{', ...' if len(values) > 12 else ''}")
        raise ConfigError(msg)
    return list(dict.fromkeys([*keys, *columns]))  # each once, the keys first


def _filter(time_column: str, period: Period, indicators: Sequence[str], districts: Sequence[str],
            streets: Sequence[str]) -> pc.Expression | None:
    import pyarrow.dataset as ds

    parts = []
    stamp = pa.timestamp("ns", tz="UTC")
    if period.start_ns is not None:
        parts.append(ds.field(time_column) >= pa.scalar(period.start_ns, stamp))
    if period.end_ns is not None:
        parts.append(ds.field(time_column) < pa.scalar(period.end_ns, stamp))
    for column, ids in (("indicator", indicators), ("district", districts), ("area", streets)):
        if ids:
            parts.append(ds.field(column).isin(list(ids)))
    if not parts:
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


def _empty(kind: str, schema: pa.Schema | None, keep: list[str] | None) -> pa.Table:
    if schema is None:
        from vitals.history import READINGS_SCHEMA

        schema = READINGS_SCHEMA if kind == "readings" else pa.schema(
            [pa.field("at", pa.timestamp("ns", tz="UTC")), *(pa.field(k, pa.string()) for k in KEYS)])
    table = schema.empty_table()
    return table.select([n for n in (keep or table.column_names) if n in table.column_names])


def _for_people(table: pa.Table, time_column: str, catalog: Catalog, names: str | None) -> pa.Table:
    """The CSV's columns: the time in UTC as ISO 8601 text and on the city's wall clock, the names beside the ids."""
    ns = table.column(time_column).cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    unit, per = next(((u, p) for u, p in (("s", NS_PER_S), ("ms", 10**6), ("us", 10**3)) if not (ns % p).any()),
                     ("ns", 1))  # the finest unit the times need: whole seconds print as such, nothing is cut
    utc = pc.strftime(pa.array(ns // per, pa.timestamp(unit, tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    local = pc.strftime(pa.array(local_ns(catalog, ns) // per, pa.timestamp(unit)), format="%Y-%m-%d %H:%M:%S")
    for k, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            table = table.set_column(k, field.name, _readable(table.column(k)))
    position = table.column_names.index(time_column)
    table = table.set_column(position, time_column, utc)
    table = table.add_column(position + 1, "local_time", local)
    if names is not None:
        for column, things in (("indicator", catalog.indicators), ("district", catalog.districts),
                               ("area", catalog.streets)):
            lookup = {t.id: (t.name_zh if names == "zh" else t.name_en) for t in things}
            coded = pc.dictionary_encode(table.column(column)).combine_chunks()
            labels = pa.array([lookup.get(v) for v in coded.dictionary.to_pylist()], pa.string())
            named = pa.DictionaryArray.from_arrays(coded.indices, labels).cast(pa.string())
            table = table.add_column(table.column_names.index(column) + 1, f"{column}_name", named)
    return table


def _readable(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A float column for a CSV: NaN as an empty cell (a spreadsheet shows ``nan`` as text), and a column whose
    values all came from float32 (``0.2798799991607666``) printed as float32 (``0.27988``): the same numbers."""
    values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    narrow = values.astype(np.float32)
    kind = pa.float32() if np.array_equal(narrow.astype(np.float64), values, equal_nan=True) else pa.float64()
    data = narrow if kind == pa.float32() else values
    return pa.chunked_array([pa.array(data, kind, mask=np.isnan(values))])


def _write(parts: Iterator[pa.Table], out: Path, fmt: str, excel: bool) -> None:
    """Write the parts (one schema) to ``out`` under a hidden name, then rename it: a failed export leaves no file."""
    import pyarrow.csv as pacsv

    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as file:
            if fmt == "csv" and excel:
                file.write(BOM)
            writer: pacsv.CSVWriter | pq.ParquetWriter | None = None
            for part in parts:
                if writer is None:
                    writer = pacsv.CSVWriter(file, part.schema) if fmt == "csv" else pq.ParquetWriter(file, part.schema)
                writer.write_table(part)
            if writer is not None:
                writer.close()
        os.replace(tmp, out)
    except (OSError, pa.ArrowException) as exc:
        tmp.unlink(missing_ok=True)
        msg = f"cannot write {out}: {exc}"
        raise HistoryError(msg) from exc


