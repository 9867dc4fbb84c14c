"""The Parquet history: accepted readings and computed vitals, partitioned by date (and domain).

Layout (Hive partitioning, so one line of pandas reads a day back)::

    <root>/readings/date=YYYY-MM-DD/domain=<domain>/<chunk>.parquet
    <root>/vitals/date=YYYY-MM-DD/<shard>-<event time>.parquet

    pd.read_parquet(f"{root}/readings", filters=[("date", "=", "2026-11-26")])

Files are written to a temporary name and renamed, and named deterministically by the stream (chunk
number per shard and source partition, or event-time boundary), so a replay after a crash overwrites a file
with the same rows instead of appending them twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import HistoryError
from vitals.state.view import VitalsView
from vitals.units import DAY_S, NS_PER_S

if TYPE_CHECKING:  # pandas is imported by pyarrow's to_pandas() when a history is read, not by writers
    import pandas as pd

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 128 * 1024

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


def _atomic_write(table: pa.Table, path: Path, **options: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="zstd", **options)
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        msg = f"cannot write history file {path}: {exc}"
        raise HistoryError(msg) from exc


def vitals_encodings(table: pa.Table) -> dict[str, object]:
    """How a vitals table is encoded (``pq.write_table`` options): strings and columns with few distinct values
    (levels, flags, counts, a snapshot's time: judged on a sample of rows) as dictionaries; other floats split by
    byte (``BYTE_STREAM_SPLIT``: cheap, and zstd then packs the exponent bytes); ``series`` as deltas; min/max
    statistics for the key columns only. Dictionary encoding of every float column, Arrow's default, cost twice
    the time for ~5 % smaller files."""
    dictionary: list[str] = []
    encoding: dict[str, str] = {}
    step = max(1, table.num_rows // DICTIONARY_SAMPLE)
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_dictionary(kind):
            dictionary.append(name)
        elif pa.types.is_floating(kind) or pa.types.is_timestamp(kind) or pa.types.is_integer(kind):
            sample = column.slice(0, step * DICTIONARY_SAMPLE).to_numpy()[::step]
            if len(np.unique(sample)) <= DICTIONARY_MAX:
                dictionary.append(name)
            elif pa.types.is_floating(kind):
                encoding[name] = "BYTE_STREAM_SPLIT"
            elif pa.types.is_integer(kind):
                encoding[name] = "DELTA_BINARY_PACKED"
    return {"use_dictionary": dictionary, "column_encoding": encoding,
            "write_statistics": [n for n in KEY_COLUMNS if n in table.column_names]}


class _Ids:
    """The catalog's ids as Arrow string arrays, indexed by code (a column of ids is one ``take``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.indicator = pa.array([i.id for i in catalog.indicators], type=pa.string())
        self.street = pa.array([s.id for s in catalog.streets], type=pa.string())
        self.district = pa.array([d.id for d in catalog.districts], type=pa.string())
        self.street_district = catalog.street_district_array

    def columns(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer]) -> dict[str, pa.Array]:
        return {"indicator": self.indicator.take(pa.array(indicator)), "area": self.street.take(pa.array(street)),
                "district": self.district.take(pa.array(self.street_district[street]))}


def readings_table(catalog: Catalog, batch: ReadingBatch) -> pa.Table:
    """An Arrow table of readings with catalog ids (vectorized: codes index small id arrays)."""
    sensor = pa.array(batch.sensor, type=pa.string()) if batch.sensor is not None else pa.nulls(len(batch), pa.string())
    return pa.table({
        "ts": pa.array(batch.ts_ns, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        **_Ids(catalog).columns(batch.indicator, batch.street),
        "sensor": sensor,
        "value": pa.array(batch.value, type=pa.float64()),
    }, schema=READINGS_SCHEMA)


def write_readings(root: str | Path, catalog: Catalog, batch: ReadingBatch, name: str) -> list[Path]:
    """Write a chunk of readings split by UTC date and domain; returns the files written."""
    if not len(batch):
        return []
    days = (batch.ts_ns // (DAY_S * NS_PER_S)).astype(np.int64)
    key = days * 64 + catalog.domain_code_array[batch.indicator]
    order = np.lexsort((batch.ts_ns, batch.street, batch.indicator, key))
    table = readings_table(catalog, batch.take(order))  # sorted codes first: no Arrow take of string columns
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
        _atomic_write(table.slice(start, end - start), path)
        written.append(path)
    return written


def vitals_table(catalog: Catalog, view: VitalsView, at_ns: int) -> pa.Table:
    """One row per series: ``at``, ``indicator``, ``area``, ``district``, ``series`` (dense id), then every
    :class:`VitalsView` column (float64, sorted by name)."""
    return _snapshots_table(catalog, [(at_ns, view)])


def _snapshots_table(catalog: Catalog, snapshots: Sequence[tuple[int, VitalsView]]) -> pa.Table:
    """The vitals tables of snapshots with the same columns, stacked in order, built in one go (a sparse feed
    replayed fast makes many small snapshots: one table per snapshot cost more than the rows)."""
    views = [view for _, view in snapshots]
    street = np.concatenate([view.street for view in views])
    at = np.concatenate([np.full(len(view), at_ns, dtype=np.int64) for at_ns, view in snapshots])
    cols: dict[str, pa.Array] = {
        "at": pa.array(at).cast(pa.timestamp("ns", tz="UTC")),
        **_Ids(catalog).columns(np.concatenate([view.indicator for view in views]), street),
        "series": pa.array(np.concatenate([view.series for view in views]), type=pa.int64()),
    }
    for name in sorted(views[0].columns):
        cols[name] = pa.array(np.concatenate([view.columns[name] for view in views]), type=pa.float64())
    return pa.table(cols)


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
        tables = [_snapshots_table(catalog, run) for run in runs]
        table = pa.concat_tables(tables, promote_options="default")
        _atomic_write(table, path, **vitals_encodings(table))
        written.append(path)
    return written


def write_final_vitals(path: str | Path, catalog: Catalog, view: VitalsView) -> Path:
    """Write the vitals of every series in ``view`` (e.g. at the end of a replay) to one Parquet file, ``at`` =
    the view's time; read it back with ``pd.read_parquet(path)``."""
    out = Path(path)
    table = vitals_table(catalog, view, round(view.now_s * NS_PER_S))
    _atomic_write(table, out, **vitals_encodings(table))
    return out


def read_readings(root: str | Path, day: str | None = None, domain: str | None = None) -> pd.DataFrame:
    """Readings of the history (one day and/or one domain), as a DataFrame sorted by series and time."""
    base = Path(root) / "readings"
    if not base.exists():
        msg = f"no readings history under {base}; run the pipeline with --history-dir {root}"
        raise HistoryError(msg)
    filters = [(k, "=", v) for k, v in (("date", day), ("domain", domain)) if v is not None]
    table = pq.read_table(base, filters=filters or None)
    for name in ("date", "domain"):
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, pc.cast(table[name], pa.string()))
    return table.to_pandas().sort_values(["indicator", "area", "ts"], kind="stable").reset_index(drop=True)


def read_vitals(root: str | Path, day: str | None = None) -> pd.DataFrame:
    base = Path(root) / "vitals"
    if not base.exists():
        msg = f"no vitals history under {base}"
        raise HistoryError(msg)
    filters = [("date", "=", day)] if day else None
    return pq.read_table(base, filters=filters).to_pandas()
