"""``vitals checkup``'s snapshot reader (``read_snapshots``: day by day into dense blocks, the ids through the
files' dictionaries) against the reader it replaced, kept here as the oracle (one pandas table of every row, ids
matched as strings), on histories that exercise what the reader decides: old files without ``peak_level`` beside
new ones, two runs writing one series at one time (the later run's file wins), rows of series the catalog does not
know, a day with and a day without anomaly scores, and a period that cuts the history."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from history_fixture import fixture_catalog, write_history

from vitals.catalog import Catalog
from vitals.catalog.clock import local_midnight_ns
from vitals.checkup import load
from vitals.checkup.load import COLUMNS, OPTIONAL, Snapshots, _days, _hold, read_snapshots
from vitals.errors import HistoryError
from vitals.history import files_schema
from vitals.history_files import history_files, snapshot_interval_s

MAIN = Path(__file__).parent / "data" / "history_main"
LOCAL_DAY = date(2026, 3, 3)


def reference(root: Path, catalog: Catalog, start: date, end: date) -> Snapshots:
    """The reader before 2026-12-04: every row of the period in one pandas table, then dense arrays."""
    base = root / "vitals"
    start_ns, end_ns = local_midnight_ns(catalog, start), local_midnight_ns(catalog, end + timedelta(days=1))
    frames = []
    for day in _days(start_ns, end_ns):
        folder = base / f"date={day}"
        if not folder.is_dir() or not (files := history_files(folder)):
            continue
        schema = files_schema(files)
        cols = [c for c in (*COLUMNS, *OPTIONAL) if c in schema.names]
        frame = pa.concat_tables([pq.read_table(f, columns=cols, schema=schema) for f in files]).to_pandas()
        at = frame["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        frames.append(frame[(at >= start_ns) & (at < end_ns)])
    frame = pd.concat(frames, ignore_index=True)
    ind = pd.Index([i.id for i in catalog.indicators]).get_indexer(pd.Index(frame["indicator"].astype(str)))
    street = pd.Index([s.id for s in catalog.streets]).get_indexer(pd.Index(frame["area"].astype(str)))
    known = (ind >= 0) & (street >= 0)
    frame = frame[known]
    sid = ind[known].astype(np.int64) * catalog.n_streets + street[known]
    at = frame["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    series, row = np.unique(sid, return_inverse=True)
    at_ns, col = np.unique(at, return_inverse=True)
    shape = (series.size, at_ns.size)
    cell = row.astype(np.int64) * at_ns.size + col
    last = np.full(series.size * at_ns.size, -1, dtype=np.int64)
    np.maximum.at(last, cell, np.arange(cell.size))  # the last read wins
    keep = last[cell] == np.arange(cell.size)
    frame, row, col = frame[keep], row[keep], col[keep]

    def dense(values: Any, fill: float, dtype: type) -> np.ndarray:
        out = np.full(shape, fill, dtype=dtype)
        out[row, col] = values
        return out

    level = dense(np.nan_to_num(frame["level"].to_numpy(np.float64)), -1, np.int8)
    peak = level
    if "peak_level" in frame:
        peak = np.maximum(level, dense(np.nan_to_num(frame["peak_level"].to_numpy(np.float64), nan=-1.0), -1,
                                       np.int8))
    cadence = catalog.cadence_array[series // catalog.n_streets]
    stale = dense(frame["seconds_since_last"].to_numpy(np.float64), np.nan, np.float32) > 3 * cadence[:, None]
    anomaly = dense(frame["anomaly_score"].to_numpy(np.float64), np.nan, np.float32) \
        if "anomaly_score" in frame else None
    hold_limit = np.maximum(3 * (snapshot_interval_s(at_ns) or 300.0), 1.25 * cadence)
    return Snapshots(start_ns, end_ns, series, at_ns, level, peak,
                     reference_hold(level >= 0, at_ns, end_ns, hold_limit),
                     dense(frame["stuck"].to_numpy(np.float64) > 0, False, bool), stale,
                     dense(frame["dropout_ratio"].to_numpy(np.float64), np.nan, np.float32), anomaly)


def reference_hold(present: np.ndarray, at_ns: np.ndarray, end_ns: int, max_hold_s: Any) -> np.ndarray:
    """``_hold`` before it worked in blocks of rows."""
    n, t = present.shape
    idx = np.where(present, np.arange(t), t)
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    after = np.full((n, t), t, dtype=np.int64)
    after[:, :-1] = nxt[:, 1:]
    gap = (np.append(at_ns, end_ns)[after] - at_ns[None, :]) / 1e9
    limit = np.reshape(max_hold_s, (-1, 1)) if np.ndim(max_hold_s) else max_hold_s
    return np.where(present, np.minimum(gap, limit), 0.0).astype(np.float32)


def _same(a: Snapshots, b: Snapshots) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if x is None or y is None:
            assert x is None and y is None, field.name
        else:
            np.testing.assert_array_equal(x, y, err_msg=field.name)


def _rewrite(path: Path, to: Path, change) -> None:
    to.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(change(pq.read_table(path)), to)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return fixture_catalog()


@pytest.fixture(scope="module")
def history(tmp_path_factory, catalog) -> Path:
    """main's old files (no peak_level, no run id) as run 1; the same written now (peak_level) as run 2, with
    other levels and peaks in some rows (the later run wins) and with the anomaly score in its second day only;
    a few of run 2's rows renamed to a street the catalog does not know."""
    root = tmp_path_factory.mktemp("reader")
    for f in sorted((MAIN / "vitals").rglob("*.parquet")):  # run 1 (named as a run names its files)
        to = root / f.relative_to(MAIN).with_name(f"20261203T000000Z-00000001-{f.name}")
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, to)
    new = tmp_path_factory.mktemp("reader-new")
    write_history(new, catalog)
    rng = np.random.default_rng(5)
    for f in sorted((new / "vitals").rglob("*.parquet")):
        def change(table: pa.Table, day: str = f.parent.name) -> pa.Table:
            n = table.num_rows
            level = table.column("level").to_numpy().copy()
            bump = rng.random(n) < 0.2
            level[bump] = rng.integers(0, 5, int(bump.sum()))
            table = table.set_column(table.column_names.index("level"), "level", pa.array(level))
            peak = np.maximum(level, table.column("peak_level").to_numpy() + (rng.random(n) < 0.1))
            table = table.set_column(table.column_names.index("peak_level"), "peak_level",
                                     pa.array(np.minimum(peak, 4)))
            if day.endswith("03"):
                table = table.append_column("anomaly_score", pa.array(rng.random(n)))
            area = table.column("area").to_numpy(zero_copy_only=False).astype(object)
            area[rng.random(n) < 0.05] = "nowhere_s999"
            return table.set_column(table.column_names.index("area"), "area", pa.array(area.tolist(), pa.string()))

        _rewrite(f, root / f.relative_to(new).with_name(f"20261204T000000Z-0000000a-{f.name}"), change)
    return root


@pytest.mark.parametrize(("start", "end"), [(LOCAL_DAY, LOCAL_DAY), (LOCAL_DAY - timedelta(days=1), LOCAL_DAY)])
def test_the_reader_reads_what_the_old_reader_read(history, catalog, start, end, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="vitals.checkup.load"):
        got = read_snapshots(history, catalog, start, end)
    want = reference(history, catalog, start, end)
    _same(got, want)
    assert got.anomaly is not None and np.isnan(got.anomaly).any() and (~np.isnan(got.anomaly)).any()
    assert (got.peak > got.level).any() and got.series.size > 0 and got.at_ns.size == 7
    assert "name series the catalog does not know" in caplog.text


def test_old_files_alone_and_a_period_without_snapshots(catalog, tmp_path) -> None:
    _same(read_snapshots(MAIN, catalog, LOCAL_DAY, LOCAL_DAY), reference(MAIN, catalog, LOCAL_DAY, LOCAL_DAY))
    empty = read_snapshots(MAIN, catalog, LOCAL_DAY + timedelta(days=5), LOCAL_DAY + timedelta(days=5))
    assert empty.series.size == 0 and empty.at_ns.size == 0 and empty.level.shape == (0, 0)


@pytest.mark.parametrize("per_row", [False, True])
def test_hold_in_blocks_of_rows_is_the_hold_of_all_rows(monkeypatch, per_row) -> None:
    rng = np.random.default_rng(3)
    present = rng.random((37, 50)) < 0.6
    at_ns = np.cumsum(rng.integers(60, 900, 50)) * 10**9
    limit = rng.uniform(300, 3000, 37) if per_row else 900.0
    monkeypatch.setattr(load, "HOLD_BLOCK_ROWS", 8)
    np.testing.assert_array_equal(_hold(present, at_ns, int(at_ns[-1]) + 600 * 10**9, limit),
                                  reference_hold(present, at_ns, int(at_ns[-1]) + 600 * 10**9, limit))


def test_a_file_that_is_not_vitals_is_named_in_one_line(catalog, tmp_path) -> None:
    shutil.copytree(MAIN / "vitals", tmp_path / "vitals")
    folder = next((tmp_path / "vitals").iterdir())
    pq.write_table(pa.table({"ts": [1], "value": [2.0]}), folder / "zz-readings.parquet")  # a readings file, astray
    with pytest.raises(HistoryError, match=r"zz-readings.parquet is not a vitals snapshot file \(no at, indicator"):
        read_snapshots(tmp_path, catalog, LOCAL_DAY - timedelta(days=1), LOCAL_DAY)
