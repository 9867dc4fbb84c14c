"""The Parquet history: accepted readings and computed vitals, partitioned by date (and domain).

Layout (Hive partitioning, so one line of pandas reads a day back)::

    <root>/readings/date=YYYY-MM-DD/domain=<domain>/<run id>-<shard>-<partition>-<chunk>.parquet
    <root>/vitals/date=YYYY-MM-DD/<run id>-<shard>-<event time>.parquet

    pd.read_parquet(f"{root}/readings", filters=[("date", "=", "2026-11-26")])

Files are written to a temporary name and renamed, and named deterministically by the stream (chunk
number per shard and source partition, or event-time boundary), so a replay after a crash overwrites a file
with the same rows instead of appending them twice; the run id in front (:mod:`vitals.run_id`, kept by a resumed
run) keeps another run's files apart. The writers take the name (``name``); the readers read every file.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError, HistoryError
from vitals.history_files import (
    READ_ERRORS,
    history_files,
    history_table,
    manifest_path,
    merged_files,
    not_parquet,
    read_record,
)
from vitals.run_id import run_of
from vitals.state.view import VitalsView
from vitals.units import DAY_S, NS_PER_S

if TYPE_CHECKING:  # pandas is imported by pyarrow's to_pandas() when a history is read, not by writers
    import pandas as pd

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 128 * 1024
T = TypeVar("T", bound=np.generic)

READINGS_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
    pa.field("indicator", pa.string(), nullable=False),
    pa.field("area", pa.string(), nullable=False),
    pa.field("district", pa.string(), nullable=False),
    pa.field("sensor", pa.string()),
    pa.field("value", pa.float64(), nullable=False),
])


# Parquet encodings (docs/history.md, "Encodings"): they change how the bytes are laid out, never the logical
# schema, so files of every version read back alike, also mixed in one directory
DICTIONARY_SAMPLE = 512  # rows sampled to tell a column of few distinct values (dictionary) from one of many
DICTIONARY_MAX = 32      # at most this many distinct values in the sample: dictionary encoding
KEY_COLUMNS = ("at", "ts", "indicator", "area", "district", "series", "date", "domain")  # with min/max statistics
# min/max statistics of readings files: the key columns (pruning a read by time or id), not sensor or value (the
# sensor ids' string comparisons were ~5-10 % of a readings file's encoding)
READINGS_STATISTICS = [n for n in KEY_COLUMNS if n in READINGS_SCHEMA.names]
RECENT_SERIES_SETS = 16  # id columns of this many series sets are kept (one or two per shard of a process)
# Compression, column by column (docs/history.md, "Encodings"): Arrow compresses each page on its own. snappy for
# every column but the dictionaries of few values, which are left uncompressed: their two pages per file (a
# dictionary of up to 32 values, bit-packed indices) are a few bytes to a few KB that no codec shrank much. zstd
# (level -1 until 2026-12-03) made the files ~9 % smaller for ~14 % more of the writer's CPU: each zstd call sets
# up a new zstd context, a fixed cost per page whatever its size (~15 us on the benchmark host, a KVM guest, where
# a 64-byte compress costs 15.6 us with zstd, 0.5 us with snappy), and its entropy coding costs more than snappy's
# byte matching. Every Parquet reader reads snappy (Arrow's and Spark's default codec)
CODEC = "snappy"
FEW_VALUES_CODEC = "none"


# readings files: dictionaries (Arrow's default) for every column but ``ts``, which is sorted within each series
# (the rows are in (indicator, area, ts) order) and stored as deltas: files ~45 % smaller than with a dictionary of
# the times, for no more CPU; ``indicator`` and ``district`` (a file is one domain's: a few of each) uncompressed
READINGS_ENCODINGS: dict[str, object] = {
    "use_dictionary": [n for n in READINGS_SCHEMA.names if n != "ts"], "column_encoding": {"ts": "DELTA_BINARY_PACKED"},
    "write_statistics": READINGS_STATISTICS,
    "compression": {n: FEW_VALUES_CODEC if n in ("indicator", "district") else CODEC for n in READINGS_SCHEMA.names}}


def _atomic_write(table: pa.Table, path: Path, **options: object) -> None:
    new = _not_compacted(table, path)
    if table.num_rows and not new.num_rows:  # every row already in the run's compacted file (an empty table is written)
        return
    table = new
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        sink = pa.BufferOutputStream()  # the encoder's many small writes go to memory, the file gets one write
        pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **options)
        try:
            file = open(tmp, "wb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:  # a new partition directory (a stat and a mkdir per file otherwise)
            path.parent.mkdir(parents=True, exist_ok=True)
            file = open(tmp, "wb")  # noqa: SIM115
        with file:
            file.write(sink.getvalue())
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        msg = f"cannot write history file {path}: {exc}"
        raise HistoryError(msg) from exc


def _not_compacted(table: pa.Table, path: Path) -> pa.Table:
    """``table`` without the rows the run's compacted files beside ``path`` already hold, when ``path``'s name was
    merged into them (``vitals history compact`` ran between the first writing of the file and this one: a run
    resumed from its recovery directory writes its last files again). A row is a run's by its time and series (a
    run accepts one reading per series and time, and snapshots a series once at a time), so rows it wrote before
    are dropped and rows it had not written (a window's file grown since) are kept. One ``stat`` otherwise."""
    run = run_of(path.name)
    record = manifest_path(path.parent, run)
    if not record.is_file() or path.name not in read_record(record)[1]:
        return table
    time = "ts" if "ts" in table.column_names else "at"
    keys = [time, "indicator", "area"]
    lo, hi = pc.min(table.column(time)), pc.max(table.column(time))
    mine = pa.table({**{k: table.column(k).cast(pa.string()) if k != time else table.column(k) for k in keys},
                     "_row": pa.array(np.arange(table.num_rows))})
    merged = [p for _, p in sorted(merged_files(path.parent, run).items())]
    import pyarrow.dataset as ds  # a resumed run's rewrite of a compacted file only

    for other in merged:
        try:
            held = pq.read_table(other, columns=keys, filters=(ds.field(time) >= lo) & (ds.field(time) <= hi))
        except READ_ERRORS as exc:
            raise not_parquet(other, exc) from exc
        held = pa.table({k: held.column(k).cast(mine.schema.field(k).type) for k in keys})
        mine = mine.join(held, keys=keys, join_type="left anti")
    kept = np.sort(mine.column("_row").to_numpy())
    if len(kept) < table.num_rows:
        log.info("%s was merged into %s before this run wrote it again (a resume): %d of its %d rows are there, "
                 "the other %d written", path.name, ", ".join(p.name for p in merged), table.num_rows - len(kept),
                 table.num_rows, len(kept))
    return table if len(kept) == table.num_rows else table.take(pa.array(kept))


def vitals_encodings(table: pa.Table, columns: dict[str, npt.NDArray[np.generic]] | None = None
                     ) -> dict[str, object]:
    """How a vitals table is encoded (``pq.write_table`` options): strings and columns with few distinct values
    (levels, flags, counts, a snapshot's time: judged on a sample of rows) as dictionaries; other floats split by
    byte (``BYTE_STREAM_SPLIT``: cheap, and the codec then packs the exponent bytes); ``series`` as deltas; min/max
    statistics for the key columns only; the dictionaries of few values uncompressed, the other columns snappy.
    Dictionary encoding of every float column, Arrow's default, cost twice the time for ~5 % smaller files. The
    distinct values of all numeric columns' samples are counted in one sort per dtype (NaNs count as one value, as
    in ``np.unique``); ``columns``: the numeric columns as the numpy arrays the table was made of, when the caller
    has them (cheaper to sample than Arrow columns)."""
    step = max(1, table.num_rows // DICTIONARY_SAMPLE)
    rows = np.arange(0, min(table.num_rows, step * DICTIONARY_SAMPLE), step)
    layout = _layout(tuple(table.column_names), tuple(table.schema.types))
    samples: dict[str, npt.NDArray[np.generic]] = {}
    for name in layout.numeric:
        if columns is not None:
            samples[name] = columns[name][rows]
        else:
            column = table.column(name)
            samples[name] = column.to_numpy()[rows] if column.num_chunks == 1 else column.take(rows).to_numpy()
    few = {name for group in _by_dtype(samples) for name in _few_distinct(group, samples)}
    dictionary = [name for name in layout.names if name in few or name in layout.text]
    encoding = {name: kind for name, kind in layout.encoding.items() if name not in few}
    codecs = {name: FEW_VALUES_CODEC if name in few else CODEC for name in layout.names}
    return {"use_dictionary": dictionary, "column_encoding": encoding, "write_statistics": list(layout.statistics),
            "compression": codecs}


@dataclass(frozen=True)
class _Layout:
    """What :func:`vitals_encodings` reads off a column set's names and types (the same for every file of a run)."""

    names: tuple[str, ...]
    numeric: tuple[str, ...]     # sampled for the distinct-value count
    text: frozenset[str]         # strings and dictionaries: always dictionaries
    encoding: dict[str, str]     # the encoding of each numeric column that has many distinct values
    statistics: tuple[str, ...]  # min/max statistics


@functools.lru_cache(maxsize=64)
def _layout(names: tuple[str, ...], kinds: tuple[pa.DataType, ...]) -> _Layout:
    numeric = tuple(name for name, kind in zip(names, kinds, strict=True)
                    if pa.types.is_floating(kind) or pa.types.is_timestamp(kind) or pa.types.is_integer(kind))
    text = frozenset(name for name, kind in zip(names, kinds, strict=True)
                     if pa.types.is_string(kind) or pa.types.is_dictionary(kind))
    encoding = {name: "BYTE_STREAM_SPLIT" if pa.types.is_floating(kind) else "DELTA_BINARY_PACKED"
                for name, kind in zip(names, kinds, strict=True)
                if pa.types.is_floating(kind) or pa.types.is_integer(kind)}
    return _Layout(names, numeric, text, encoding, tuple(n for n in KEY_COLUMNS if n in names))


def _by_dtype(samples: dict[str, npt.NDArray[np.generic]]) -> list[list[str]]:
    groups: dict[np.dtype[np.generic], list[str]] = {}
    for name, sample in samples.items():
        groups.setdefault(sample.dtype, []).append(name)
    return list(groups.values())


def _few_distinct(names: list[str], samples: dict[str, npt.NDArray[np.generic]]) -> list[str]:
    """The columns among ``names`` (samples of one dtype and length) with at most DICTIONARY_MAX distinct values."""
    block = np.stack([samples[n] for n in names])  # one row per column
    block.sort(axis=1)
    if not block.shape[1]:
        return names
    change = block[:, 1:] != block[:, :-1]
    if block.dtype.kind in "fc":  # NaN != NaN, but np.unique counts all NaNs as one value
        nan = np.isnan(block)
        change &= ~(nan[:, 1:] & nan[:, :-1])
    elif block.dtype.kind == "M":  # NaT likewise
        nat = np.isnat(block)
        change &= ~(nat[:, 1:] & nat[:, :-1])
    distinct = 1 + change.sum(axis=1)
    return [n for n, d in zip(names, distinct, strict=True) if d <= DICTIONARY_MAX]


class _Ids:
    """The catalog's ids as Arrow string arrays, indexed by code (a column of ids is one ``take``); one per
    catalog (:meth:`of`)."""

    @classmethod
    def of(cls, catalog: Catalog) -> _Ids:
        ids = _IDS.get(catalog)
        if ids is None:
            ids = _IDS[catalog] = cls(catalog)
        return ids

    def __init__(self, catalog: Catalog) -> None:
        self.indicator = pa.array([i.id for i in catalog.indicators], type=pa.string())
        self.street = pa.array([s.id for s in catalog.streets], type=pa.string())
        self.district = pa.array([d.id for d in catalog.districts], type=pa.string())
        self.street_district = catalog.street_district_array
        # the id columns of the last few series sets (a shard's snapshots show the same series every 5 minutes)
        self._recent: list[tuple[npt.NDArray[np.integer], npt.NDArray[np.integer], dict[str, pa.Array]]] = []

    def columns(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer]) -> dict[str, pa.Array]:
        return {"indicator": self.indicator.take(pa.array(indicator)), "area": self.street.take(pa.array(street)),
                "district": self.district.take(pa.array(self.street_district[street]))}

    def recurring_columns(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer]
                          ) -> dict[str, pa.Array]:
        """:meth:`columns` of a series set seen recently (the vitals files of a shard): reused when equal (Arrow
        arrays are immutable), made and remembered otherwise."""
        recent = self._recent  # one list per call: another thread's writer may replace it meanwhile
        for known_indicator, known_street, columns in recent:
            if np.array_equal(known_indicator, indicator) and np.array_equal(known_street, street):
                return columns
        columns = self.columns(indicator, street)
        self._recent = [(indicator.copy(), street.copy(), columns), *recent[:RECENT_SERIES_SETS - 1]]
        return columns


_IDS: weakref.WeakKeyDictionary[Catalog, _Ids] = weakref.WeakKeyDictionary()


def readings_table(catalog: Catalog, batch: ReadingBatch, order: npt.NDArray[np.integer] | None = None) -> pa.Table:
    """An Arrow table of readings with catalog ids (vectorized: codes index small id arrays), in ``order`` (row
    numbers) if given: the codes, times and values are taken with numpy, the sensor ids as an Arrow string
    array (cheaper than moving Python strings with numpy before converting them)."""
    ts, indicator, street, value = batch.ts_ns, batch.indicator, batch.street, batch.value
    if order is not None:
        ts, indicator, street, value = ts[order], indicator[order], street[order], value[order]
    if batch.sensor is None:
        sensor = pa.nulls(len(batch), pa.string())
    else:
        sensor = pa.array(batch.sensor, type=pa.string())
        if order is not None:
            sensor = sensor.take(pa.array(order))
    return pa.table({
        "ts": pa.array(ts, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        **_Ids.of(catalog).columns(indicator, street),
        "sensor": sensor,
        "value": pa.array(value, type=pa.float64()),
    }, schema=READINGS_SCHEMA)


def write_readings(root: str | Path, catalog: Catalog, batch: ReadingBatch, name: str) -> list[Path]:
    """Write a chunk of readings split by UTC date and domain; returns the files written."""
    if not len(batch):
        return []
    days = (batch.ts_ns // (DAY_S * NS_PER_S)).astype(np.int64)
    key = days * 64 + catalog.domain_code_array[batch.indicator]
    order = _readings_order(catalog, batch, key)
    table = readings_table(catalog, batch, order)  # sorted codes first: no Arrow take of id columns
    key_sorted = key[order]
    bounds = np.flatnonzero(np.diff(key_sorted)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(key_sorted)]])
    written = []
    for start, end in zip(starts, ends, strict=True):
        k = int(key_sorted[start])
        day = date.fromordinal(date(1970, 1, 1).toordinal() + k // 64).isoformat()
        domain = catalog.domain_names[k % 64]
        path = Path(root) / "readings" / f"date={day}" / f"domain={domain}" / f"{name}.parquet"
        _atomic_write(table.slice(start, end - start), path, **READINGS_ENCODINGS)
        written.append(path)
    return written


def _readings_order(catalog: Catalog, batch: ReadingBatch, key: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """The rows in (key, indicator, street, ts) order, ties in batch order: ``np.lexsort`` of the four, done as
    three stable sorts from the last key to the first (least significant digit first), by time (timsort: the
    readings arrive nearly in time order), street, and (key, indicator) as one number; numpy sorts 16-bit keys by
    radix, ~2x cheaper than the lexsort. Keys of more than 16 bits (a chunk spanning many days): the lexsort."""
    if not len(batch) or catalog.n_streets > 1 << 16:
        return np.lexsort((batch.ts_ns, batch.street, batch.indicator, key))
    high = (key - key.min()) * catalog.n_indicators + batch.indicator
    if int(high.max()) >= 1 << 16:
        return np.lexsort((batch.ts_ns, batch.street, batch.indicator, key))
    order = np.argsort(batch.ts_ns, kind="stable")
    order = order[np.argsort(batch.street.astype(np.uint16)[order], kind="stable")]
    return order[np.argsort(high.astype(np.uint16)[order], kind="stable")]


def vitals_table(catalog: Catalog, view: VitalsView, at_ns: int) -> pa.Table:
    """One row per series: ``at``, ``indicator``, ``area``, ``district``, ``series`` (dense id), then every
    :class:`VitalsView` column (float64, sorted by name)."""
    return _snapshots_table(catalog, [(at_ns, view)])


def _snapshots_table(catalog: Catalog, snapshots: Sequence[tuple[int, VitalsView]]) -> pa.Table:
    """The vitals tables of snapshots with the same columns, stacked in order, built in one go (a sparse feed
    replayed fast makes many small snapshots: one table per snapshot cost more than the rows)."""
    return _snapshots_columns(catalog, snapshots)[0]


def _snapshots_columns(catalog: Catalog, snapshots: Sequence[tuple[int, VitalsView]]
                       ) -> tuple[pa.Table, dict[str, npt.NDArray[np.generic]]]:
    """:func:`_snapshots_table`, and its numeric columns as the numpy arrays it was made of."""
    views = [view for _, view in snapshots]
    single = len(views) == 1

    def stacked(arrays: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
        """The arrays as one of ``dtype``: one snapshot (the city) without a copy when it has that type; many (a
        sparse feed's file) in one ``concatenate`` that converts as it copies (the same values as an
        ``astype`` of each: every conversion here is exact or float32 to float64), not one call per array."""
        return arrays[0].astype(dtype, copy=False) if single else np.concatenate(arrays, dtype=dtype)

    sizes = [len(view) for view in views]
    numeric: dict[str, npt.NDArray[np.generic]] = {
        "at": np.repeat(np.array([at_ns for at_ns, _ in snapshots], dtype=np.int64), sizes),
        "series": stacked([view.series for view in views], np.int64)}
    for name in sorted(views[0].columns):
        numeric[name] = stacked([view.columns[name] for view in views], np.float64)
    cols: dict[str, pa.Array] = {
        "at": pa.array(numeric["at"]).cast(pa.timestamp("ns", tz="UTC")),
        **_Ids.of(catalog).recurring_columns(_joined([view.indicator for view in views]),
                                             _joined([v.street for v in views])),
        **{name: pa.array(column) for name, column in numeric.items() if name != "at"},
    }
    return pa.table(cols), numeric


def _joined(arrays: list[npt.NDArray[T]]) -> npt.NDArray[T]:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)  # one snapshot (the city): no copy


def write_vitals(root: str | Path, catalog: Catalog, snapshots: Sequence[tuple[int, VitalsView]], name: str
                 ) -> list[Path]:
    """Write vitals snapshots (``(at ns, view of a shard's series)``, in time order) as one file per UTC date
    ``<root>/vitals/date=YYYY-MM-DD/<name>.parquet``; returns the files written."""
    by_day: dict[str, list[list[tuple[int, VitalsView]]]] = {}
    for at_ns, view in snapshots:
        if len(view):
            day = datetime.fromtimestamp(at_ns // NS_PER_S, UTC).date().isoformat()
            runs = by_day.setdefault(day, [])  # runs of snapshots with the same columns, each one table
            if runs and runs[-1][0][1].columns.keys() == view.columns.keys():
                runs[-1].append((at_ns, view))
            else:
                runs.append([(at_ns, view)])
    written = []
    for day, runs in by_day.items():
        path = Path(root) / "vitals" / f"date={day}" / f"{name}.parquet"
        if len(runs) == 1:  # the usual case: the numpy columns are sampled for the encodings
            table, numeric = _snapshots_columns(catalog, runs[0])
            encodings = vitals_encodings(table, numeric)
        else:  # columns change within the day (scoring's columns appear): missing ones are nulls in the others
            table = pa.concat_tables([_snapshots_table(catalog, run) for run in runs], promote_options="default")
            encodings = vitals_encodings(table)
        _atomic_write(table, path, **encodings)
        written.append(path)
    return written


FINAL_VITALS_FORMATS = {".parquet": "parquet", ".pq": "parquet", "": "parquet", ".csv": "csv"}


def final_vitals_format(path: str | Path, option: str = "--final-vitals") -> str:
    """How ``--final-vitals PATH`` (or another ``option``'s file) is written, by its suffix: ``parquet``
    (.parquet, .pq or none) or ``csv`` (.csv); another suffix is a ConfigError (a ``.json`` or ``.xlsx`` name would
    get a file it does not hold)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FINAL_VITALS_FORMATS:
        msg = (f"{option} {path}: writes Parquet (.parquet) or CSV (.csv), not {suffix} files; "
               "name the file FILE.parquet or FILE.csv")
        raise ConfigError(msg)
    return FINAL_VITALS_FORMATS[suffix]


def write_final_vitals(path: str | Path, catalog: Catalog, view: VitalsView) -> Path:
    """Write the vitals of every series in ``view`` (e.g. at the end of a replay) to one file, ``at`` = the view's
    time: Parquet, or CSV when ``path`` ends in .csv (:func:`final_vitals_format`); read it back with
    ``pd.read_parquet(path)`` or ``pd.read_csv(path)``."""
    out = Path(path)
    fmt = final_vitals_format(out)
    table = vitals_table(catalog, view, round(view.now_s * NS_PER_S))
    if fmt == "csv":
        _atomic_write_csv(table, out)
    else:
        _atomic_write(table, out, **vitals_encodings(table))
    return out


def _atomic_write_csv(table: pa.Table, path: Path) -> None:
    import pyarrow.csv as pacsv  # not at import: only a --final-vitals FILE.csv writes CSV

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(table, str(tmp))
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        msg = f"cannot write {path}: {exc}"
        raise HistoryError(msg) from exc


def read_readings(root: str | Path, day: str | None = None, domain: str | None = None) -> pd.DataFrame:
    """Readings of the history (one day and/or one domain), as a DataFrame sorted by series and time."""
    base = Path(root) / "readings"
    if not base.exists():
        msg = f"no readings history under {base}; run the pipeline with --history-dir {root}"
        raise HistoryError(msg)
    import pyarrow.dataset as ds  # not at import: the flow's processes write history, they never read it

    wanted = [ds.field(k) == v for k, v in (("date", day), ("domain", domain)) if v is not None]
    table = history_table(base, filter=functools.reduce(operator.and_, wanted) if wanted else None)
    for name in ("date", "domain"):
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, pc.cast(table[name], pa.string()))
    return table.take(pa.array(series_time_order(table))).to_pandas()


def series_time_order(table: pa.Table, time: str = "ts") -> npt.NDArray[np.intp]:
    """The rows of a table with ``indicator``, ``area`` and a time column in (indicator, area, time) order, ties in
    table order (what a stable pandas sort gives): the ids ranked through their dictionaries (a few thousand
    strings, not one per row), then one stable sort of a 63-bit key (series rank, time since the first) when it
    fits (a day of the model city: 15 + 47 bits; it sorts runs already in order, such as a compacted row group, in
    about linear time), else ``np.lexsort`` of the three."""
    if not table.num_rows:
        return np.empty(0, dtype=np.intp)
    column = table.column(time)
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ns", tz=column.type.tz))
    ts = column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
    (indicator, n_indicator), (area, n_area) = _id_ranks(table.column("indicator")), _id_ranks(table.column("area"))
    series = (indicator + 1) * (n_area + 1) + (area + 1)  # a null id (-1) first
    first = int(ts.min())
    span = int(ts.max()) - first
    shift = span.bit_length()
    if ((n_indicator + 1) * (n_area + 1)).bit_length() + shift <= 62:
        return np.argsort((series << shift) | (ts - first), kind="stable")
    return np.lexsort([ts, series])


def _id_ranks(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], int]:
    """Each row's rank of its id among the column's distinct ids (-1: null), and how many there are."""
    coded = pc.dictionary_encode(column).combine_chunks()
    words = coded.dictionary.to_numpy(zero_copy_only=False)
    rank = np.empty(len(words), dtype=np.int64)
    rank[np.argsort(words, kind="stable")] = np.arange(len(words))
    return np.append(rank, -1)[coded.indices.fill_null(len(words)).to_numpy()], len(words)


def read_vitals(root: str | Path, day: str | None = None) -> pd.DataFrame:
    base = Path(root) / "vitals"
    if not base.exists():
        msg = f"no vitals history under {base}"
        raise HistoryError(msg)
    files = [f for f in history_files(base) if day is None or f.parent.name == f"date={day}"]
    schema = pa.schema([*files_schema(files), pa.field("date", pa.string())])
    return history_table(base, files, schema=schema).to_pandas()


def files_schema(files: Sequence[Path]) -> pa.Schema:
    """The columns of several history files together: the first file's, then each column that only later files
    have (in the order met), so every file's columns are read. Files of one directory can differ: snapshots
    without scoring and with it (a run with `--no-scoring`, runs of other settings into one directory). Arrow's
    dataset reader takes the first file's columns alone and would drop the others' silently."""
    return union_schema([_schema(path) for path in files])


def union_schema(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """:func:`files_schema` of the files' schemas: the first's columns, then each column only later ones have."""
    if not schemas:
        return pa.schema([])
    first = schemas[0]
    fields, names = list(first), set(first.names)
    for schema in schemas[1:]:
        for field in schema:
            if field.name not in names:
                names.add(field.name)
                fields.append(field)
    return pa.schema(fields, metadata=first.metadata)


def _schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except READ_ERRORS as exc:
        raise not_parquet(path, exc) from exc
