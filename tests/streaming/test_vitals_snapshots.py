"""Vitals snapshots in the history every 5 minutes of event time (docs/history.md): a sparse feed replayed in
one big batch gets the same snapshots as one fed reading by reading, written in chunk files per event-time
window, and a resume from a pickled shard memory rewrites them without duplicates or losses."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.history import read_vitals, vitals_table, write_vitals
from vitals.stream.shard_step import ShardProcessor, ShardRunner, VitalsChunk, vitals_window_ns

T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
HOUR_NS = 3600 * 1_000_000_000
HOURS = 72


def _hourly(catalog: Catalog, hours: range, seq: int = 0) -> ReadingBatch:
    """One series (the first indicator on the first street), a reading at every full hour."""
    n = len(hours)
    hour = np.array(list(hours), dtype=np.int64)
    lo, hi = catalog.valid_min_array[0], catalog.valid_max_array[0]
    value = lo + (hi - lo) * (0.2 + 0.1 * np.sin(hour))
    ts = T0 + hour * HOUR_NS
    return ReadingBatch(ts, np.zeros(n, np.int16), np.zeros(n, np.int32), value, partition="p0", seq=seq)


def _runner(catalog: Catalog, chunk_rows: int = 5_000, vitals_every_s: float = 300.0) -> ShardRunner:
    return ShardRunner(ShardProcessor(catalog, 1, vitals_chunk_rows=chunk_rows, vitals_every_s=vitals_every_s), None)


def _write(root, catalog: Catalog, items) -> list[VitalsChunk]:
    chunks = [o for o in items if isinstance(o, VitalsChunk)]
    for c in chunks:
        write_vitals(root, catalog, c.snapshots, c.name)
    return chunks


def _snapshots(root) -> pd.DataFrame:
    v = read_vitals(root)
    return v[["at", "series", "last", "level", "readings"]].sort_values(["at", "series"]).reset_index(drop=True)


def test_one_big_batch_snapshots_every_boundary_after_readings(tmp_path, small_catalog) -> None:
    day_rows = 288 * small_catalog.n_series  # every series at every boundary of a day: a file per day
    big = _runner(small_catalog, day_rows)
    out = big.on_batches([_hourly(small_catalog, range(HOURS))]) + big.on_eof()
    chunks = _write(tmp_path / "big", small_catalog, out)
    snap = _snapshots(tmp_path / "big")
    # one snapshot 5 minutes after each hourly reading except the last (the clock never passes its boundary)
    expected = pd.to_datetime(T0 + np.arange(HOURS - 1) * HOUR_NS + 300 * 10**9, utc=True)
    assert list(snap["at"]) == list(expected)
    assert list(snap["readings"]) == list(range(1, HOURS))  # as of the boundary: the readings before it
    # one file per day
    assert len(chunks) == 3 and len(list((tmp_path / "big" / "vitals").rglob("*.parquet"))) == 3
    # the same snapshots when the readings come one per batch (a live feed)
    small = _runner(small_catalog, day_rows)
    out = [o for h in range(HOURS) for o in small.on_batches([_hourly(small_catalog, range(h, h + 1), h)])]
    _write(tmp_path / "one", small_catalog, out + small.on_eof())
    pd.testing.assert_frame_equal(_snapshots(tmp_path / "one"), snap)


def test_windows_hold_at_most_the_chunk_rows() -> None:
    five = 300 * 10**9
    assert vitals_window_ns(five, 4, 5_000) == 86_400 * 10**9       # a sparse catalog: a file per day
    assert vitals_window_ns(five, 7_217, 20_000) == 2 * five        # the model city per shard: 10 minutes
    assert vitals_window_ns(five, 7_217, 5_000) == five             # never less than one interval
    assert vitals_window_ns(five, 100, 1_000) == 9 * five           # the longest divisor of a day that fits


@pytest.mark.parametrize("every", [300.0, 900.0, 3600.0])  # the default and --history-vitals-every cadences
def test_a_resume_rewrites_the_window_files_without_duplicates(tmp_path, small_catalog, every) -> None:
    hour_rows = 12 * small_catalog.n_series  # windows of 12 snapshot intervals: many files
    whole = _runner(small_catalog, hour_rows, every)
    _write(tmp_path / "whole", small_catalog, whole.on_batches([_hourly(small_catalog, range(0, 30), 0)])
           + whole.on_batches([_hourly(small_catalog, range(30, HOURS), 1)]) + whole.on_eof())
    # crashed after the first batch's outputs and part of the second's; resumed from the memory after batch 1
    run = _runner(small_catalog, hour_rows, every)
    _write(tmp_path / "crash", small_catalog, run.on_batches([_hourly(small_catalog, range(0, 30), 0)]))
    saved = copy.deepcopy(run.memory)
    _write(tmp_path / "crash", small_catalog, run.on_batches([_hourly(small_catalog, range(30, 50), 1)]))
    resumed = ShardRunner(run.processor, saved)
    _write(tmp_path / "crash", small_catalog,
           resumed.on_batches([_hourly(small_catalog, range(30, HOURS), 1)]) + resumed.on_eof())
    crash, expected = _snapshots(tmp_path / "crash"), _snapshots(tmp_path / "whole")
    # one snapshot after each hourly reading, at the first boundary of the cadence after it (none after the last)
    assert len(expected) == HOURS - 1 and (expected["at"].astype("int64") % int(every * 1e9) == 0).all()
    assert not crash.duplicated(["at", "series"]).any()
    pd.testing.assert_frame_equal(crash, expected)
    # the open window at the end of the input is written and kept, so a later resume rewrites it with more
    assert resumed.memory is not None and resumed.memory.vitals_pending


def test_a_vitals_file_is_the_per_snapshot_tables_stacked(tmp_path, small_catalog) -> None:
    """Oracle for the one-go build of a file's snapshots: the same table as one vitals_table per snapshot
    concatenated, also when a snapshot in the middle has another column (it starts a new run)."""
    runner = _runner(small_catalog, 288 * small_catalog.n_series)
    out = runner.on_batches([_hourly(small_catalog, range(30))]) + runner.on_eof()
    snaps = list(next(o for o in out if isinstance(o, VitalsChunk)).snapshots)
    at_ns, view = snaps[5]
    snaps[5] = (at_ns, dataclasses.replace(view, columns={**view.columns, "zz_extra": np.full(len(view), 2.5)}))
    [path] = write_vitals(tmp_path, small_catalog, snaps, "shard000-x")
    expected = pa.concat_tables([vitals_table(small_catalog, v, at) for at, v in snaps], promote_options="default")
    got = pq.read_table(path)
    assert got.num_rows == len(snaps) and got.column_names == expected.column_names
    assert got.schema.remove_metadata().equals(expected.schema)
    pd.testing.assert_frame_equal(got.to_pandas(), expected.to_pandas(), check_exact=True)  # NaN where NaN
