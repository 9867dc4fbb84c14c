"""Shared helpers of the streaming tests: simulated readings files with one series per file, running
``vitals replay``/``vitals run`` as subprocesses, and comparing vitals and history."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.catalog import Catalog
from vitals.simulator import CitySimulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, tzinfo=UTC)


def write_partitioned_readings(catalog: Catalog, out: Path, *, hours: float, parts: int = 2, seed: int = 5,
                               block_rows: int = 4000) -> int:
    """Simulated readings (default faults: impossible values, duplicates, late ones ...) of the catalog's
    streets, written to ``parts`` Parquet files: file p holds the streets with code % parts == p, so every
    series lives in one file (one source partition) and its order never depends on the worker count.
    Returns the number of rows written."""
    sim = CitySimulator(catalog, SimulatorConfig(seed=seed, start=START, duration=timedelta(hours=hours), step_s=60))
    ind_ids = np.array([i.id for i in catalog.indicators], dtype=object)
    street_ids = np.array([s.id for s in catalog.streets], dtype=object)
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    for p in range(parts):
        batches = list(sim.batches(p, parts))
        ts = np.concatenate([b.ts_ns for b in batches])
        ind = np.concatenate([b.indicator for b in batches])
        street = np.concatenate([b.street for b in batches])
        value = np.concatenate([b.value for b in batches])
        table = pa.table({
            "ts": pa.array(ts, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "indicator": pa.array(ind_ids[ind], type=pa.string()),
            "area": pa.array(street_ids[street], type=pa.string()),
            "value": pa.array(value, type=pa.float64()),
        })
        pq.write_table(table, out / f"part-{p}.parquet", row_group_size=block_rows)
        rows += len(ts)
    return rows


def vitals_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "vitals", *map(str, args)]


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("BYTEWAX_DATAFLOW_API_ENABLED", None)
    handle = log.open("ab")
    return subprocess.Popen(args, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=env)


def run_to_end(args: list[str], log: Path, timeout: float = 120.0, *, status: int = 0) -> None:
    """Run to its end and check its exit status (``status``: the one expected)."""
    proc = spawn(args, log)
    if proc.wait(timeout) != status:
        raise AssertionError(f"{' '.join(args)} exited with {proc.returncode}, expected {status}:\n"
                             f"{log.read_text()[-3000:]}")


def sorted_vitals(frame: pd.DataFrame) -> pd.DataFrame:
    """A final-vitals table ordered by series, without the view time (runs end at different wall times)."""
    return frame.sort_values("series").reset_index(drop=True)


def assert_same_vitals(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a, b = sorted_vitals(a), sorted_vitals(b)
    assert len(a) == len(b) and len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def history_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The history's readings as sorted (indicator, area, ts, value) rows."""
    cols = ["indicator", "area", "ts", "value"]
    return frame[cols].astype({"indicator": str, "area": str}).sort_values(cols).reset_index(drop=True)


def _copy_unchanged(db: Path, copy: Path) -> bool:
    """Copy a SQLite database and its write-ahead log; True only if neither file changed while they were copied
    (the pair is then the files as of one moment, as a crash would leave them: SQLite recovers the committed
    state from them). A checkpoint or a commit during the copy would tear the pair."""
    import shutil

    wal = db.with_name(db.name + "-wal")

    def stamp() -> tuple[tuple[int, int], ...]:
        return tuple((s.st_size, s.st_mtime_ns) for s in (f.stat() for f in (db, wal) if f.exists()))

    before = stamp()
    shutil.copyfile(db, copy)
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    return stamp() == before


def snapshotted_rows(recovery_dir: Path, file_rows: dict[str, int]) -> int:
    """Rows of the input files covered by the newest source snapshot in a recovery dir (0 if none yet).

    Reads copies of Bytewax's SQLite partitions (the database and its write-ahead log; SQLite rebuilds the log's
    index from the copied log's checksummed frames), never the files the flow is writing: a reader of the live
    files shares their ``-shm`` index with the flow, and once in ~6 kill tests the flow died of SIGBUS (cause not
    pinned down; this keeps the test's reader out of it). A copy the flow wrote into is skipped until the next
    poll. ``file_rows`` maps a source partition name (``file-<p>``) to the rows of its one file."""
    import pickle
    import sqlite3
    import tempfile

    done: dict[str, int] = {}
    for db in sorted(recovery_dir.glob("part-*.sqlite3")):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / db.name
            try:
                if not _copy_unchanged(db, copy):
                    continue  # the flow wrote while we copied: try at the next poll
                conn = sqlite3.connect(copy, timeout=1.0)
                try:
                    rows = conn.execute(
                        "SELECT state_key, ser_change FROM snaps WHERE step_id LIKE '%readings_in' "
                        "ORDER BY snap_epoch").fetchall()
                finally:
                    conn.close()
            except (OSError, sqlite3.Error):
                continue
        for key, blob in rows:
            if blob:
                pos = pickle.loads(blob)
                done[key] = file_rows[key] if pos.file_index > 0 else pos.offset
    return sum(done.values())
