"""Runs into one history directory (docs/history.md, "Runs into one directory"): every history file name carries
the run's id, so a second run into the same ``--history-dir`` (here: the other districts of the same hour) keeps
every file of the first, while a run resumed from its recovery directory takes the id stored there and rewrites
its own files (exactly once after a crash: ``test_recovery.py``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from streaming_support import REPO, run_to_end, snapshotted_rows, spawn, vitals_cmd, write_partitioned_readings

from vitals.errors import RecoveryError
from vitals.history import read_readings, read_vitals
from vitals.recovery import IDENTITY_FILE, claim_identity, stored_run_id
from vitals.run_id import check_run_id, history_name, is_run_id, new_run_id
from vitals.stream.shard_step import HistoryChunk, VitalsChunk

RUN_ID = r"\d{8}T\d{9}Z-[0-9a-f]{8}"
NEW_NAME = re.compile(rf"({RUN_ID})-shard\d{{3}}-(file-\d+-\d{{6}}|\d+)")
OLD_NAME = re.compile(r"shard\d{3}-(file-\d+-\d{6}|\d+)")


def _replay(data: Path, out: Path, *extra: str | Path) -> list[str]:
    return vitals_cmd("replay", data, "--streets", "76", "--metrics-port", "0", "--no-progress",
                      "--history-dir", out / "history", "--history-chunk-rows", "3000",
                      "--dead-letters", out / "dead.jsonl", *extra)


def _accepted(log: Path) -> int:
    return int(re.findall(r"([\d,]+) accepted", log.read_text())[-1].replace(",", ""))


def _files(history: Path) -> dict[Path, tuple[int, int]]:
    """Every Parquet file of a history (relative path -> size and modification time)."""
    return {p.relative_to(history): (p.stat().st_size, p.stat().st_mtime_ns) for p in history.rglob("*.parquet")}


def _run_ids(files: dict[Path, tuple[int, int]]) -> set[str]:
    ids = set()
    for path in files:
        match = NEW_NAME.fullmatch(path.stem)
        assert match, path
        ids.add(match.group(1))
    return ids


@pytest.fixture(scope="module")
def halves(tmp_path_factory, small_catalog) -> tuple[Path, Path]:
    """One simulated hour of the city split by district into two files (even and odd districts): two inputs of
    the same day whose readings fall in the same shards, source partition (``file-0``) and 5-minute boundaries,
    so the two runs number the same chunks and snapshot the same windows."""
    root = tmp_path_factory.mktemp("halves")
    write_partitioned_readings(small_catalog, root / "all", hours=1, parts=1)
    table = pq.read_table(root / "all" / "part-0.parquet")
    districts = [d.id for d in small_catalog.districts]
    even = [s.id for s in small_catalog.streets if districts.index(s.district_id) % 2 == 0]
    mask = pc.is_in(table["area"], value_set=pa.array(even, type=pa.string()))
    pq.write_table(table.filter(mask), root / "even.parquet")
    pq.write_table(table.filter(pc.invert(mask)), root / "odd.parquet")
    return root / "even.parquet", root / "odd.parquet"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, halves) -> tuple[Path, dict[Path, tuple[int, int]]]:
    """Two replays into one history without a recovery dir (the even districts without scoring, then the odd ones
    with it); returns the directory and the files after the first."""
    out = tmp_path_factory.mktemp("two-runs")
    even, odd = halves
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VITALS_SCORING", "false")
        run_to_end(_replay(even, out), out / "even.txt")
    first = _files(out / "history")
    run_to_end(_replay(odd, out), out / "odd.txt")
    return out, first


def test_every_reading_of_both_runs_is_in_the_history(two_runs, halves):
    """On main the second run's chunk files had the first run's names and replaced them."""
    out, _ = two_runs
    history = read_readings(out / "history")
    assert len(history) == _accepted(out / "even.txt") + _accepted(out / "odd.txt")
    keys = ["indicator", "area", "ts"]
    assert not history.duplicated(keys).any()
    inputs = pd.concat([pd.read_parquet(p) for p in halves], ignore_index=True)
    merged = history[[*keys, "value"]].merge(inputs, on=keys, how="left", suffixes=("", "_in"))
    assert (merged["value"] == merged["value_in"]).all()  # each one a reading of the inputs, as read
    assert set(history["area"]) == set(inputs["area"])


def test_the_first_runs_files_are_kept_as_written(two_runs):
    out, first = two_runs
    after = _files(out / "history")
    assert {p: after.get(p) for p in first} == first  # same names, sizes and times: none rewritten
    (first_id,) = _run_ids(first)
    assert _run_ids(after) == {first_id, *_run_ids({p: s for p, s in after.items() if p not in first})}
    assert len(_run_ids(after)) == 2


def test_vitals_snapshots_of_both_runs_at_the_same_boundaries(two_runs):
    """Both runs snapshot the same 5-minute boundaries (same shards, same windows: same names but the run id);
    each keeps its file, so every boundary holds the series of both halves (different series: no duplicates)."""
    out, first = two_runs
    vitals = read_vitals(out / "history")
    readings = read_readings(out / "history")
    by_at = vitals.groupby("at")["area"].agg(lambda a: set(a.astype(str)))
    assert len(by_at) >= 10
    assert by_at.iloc[-1] == set(readings["area"])  # the last boundary: every street of both runs
    assert not vitals.duplicated(["at", "series"]).any()
    first_vitals = [p for p in first if p.parts[0] == "vitals"]
    stems = {p.stem.split("-", 2)[2] for p in _files(out / "history") if p.parts[0] == "vitals"}
    assert {p.stem.split("-", 2)[2] for p in first_vitals} == stems  # the second run: the same windows


@pytest.fixture(scope="module")
def recovered(tmp_path_factory, halves) -> Path:
    """A replay with a recovery dir, run to the end."""
    out = tmp_path_factory.mktemp("recovered")
    run_to_end(_replay(halves[0], out, "--recovery-dir", out / "recovery"), out / "log.txt")
    return out


def _identity(rdir: Path) -> dict:
    return json.loads((rdir / IDENTITY_FILE).read_text(encoding="utf-8"))


def test_the_run_id_is_in_the_recovery_dir_and_names_every_file(recovered):
    run_id = _identity(recovered / "recovery")["run_id"]
    assert re.fullmatch(RUN_ID, run_id)
    files = _files(recovered / "history")
    assert len(files) > 20 and _run_ids(files) == {run_id}


def _resume(recovered: Path, tmp_path: Path, data: Path, edit=None) -> tuple[Path, dict[Path, tuple[int, int]]]:
    """Copies of the finished run's recovery dir and history, resumed (its last snapshot: the end of the input;
    the shards write their open vitals window again); returns the copy and its files before the resume."""
    out = tmp_path / "again"
    shutil.copytree(recovered / "recovery", out / "recovery")
    shutil.copytree(recovered / "history", out / "history")
    if edit is not None:
        edit(out / "recovery" / IDENTITY_FILE)
    before = _files(out / "history")
    run_to_end(_replay(data, out, "--recovery-dir", out / "recovery"), out / "log.txt")
    return out, before


def test_a_resumed_run_reuses_the_run_id(recovered, halves, tmp_path):
    out, before = _resume(recovered, tmp_path, halves[0])
    after = _files(out / "history")
    assert after.keys() == before.keys()  # no file of another run id
    rewritten = [p for p in after if after[p] != before[p]]
    assert rewritten and all(p.parts[0] == "vitals" for p in rewritten)  # the open windows, rewritten in place
    assert _identity(out / "recovery") == _identity(recovered / "recovery")


def test_a_run_killed_mid_stream_resumes_with_its_names(halves, tmp_path):
    """SIGKILL once the snapshots cover a third of the input, then a resume: the files the killed run wrote are
    rewritten under the same names (no second run id), and the history holds every accepted reading once."""
    data = halves[0]
    rows = pq.ParquetFile(data).metadata.num_rows
    args = _replay(data, tmp_path, "--recovery-dir", tmp_path / "recovery", "--snapshot-interval", "0.3",
                   "--batch-size", "400", "--history-chunk-rows", "500")  # chunks written before the kill
    proc = spawn(args, tmp_path / "log.txt")
    deadline = time.monotonic() + 90
    while snapshotted_rows(tmp_path / "recovery", {"file-0": rows}) < rows // 3:
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "log.txt").read_text()[-2000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    killed = _files(tmp_path / "history")
    run_id = _identity(tmp_path / "recovery")["run_id"]
    assert killed and _run_ids(killed) == {run_id}
    run_to_end(args, tmp_path / "log.txt")
    after = _files(tmp_path / "history")
    assert killed.keys() <= after.keys() and _run_ids(after) == {run_id}
    history = read_readings(tmp_path / "history")
    assert len(history) == _accepted(tmp_path / "log.txt")
    assert not history.duplicated(["indicator", "area", "ts"]).any()


def test_a_recovery_dir_from_before_run_ids_keeps_the_old_names(recovered, halves, tmp_path):
    def drop_run_id(path: Path) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        del doc["run_id"]
        path.write_text(json.dumps(doc), encoding="utf-8")

    out, before = _resume(recovered, tmp_path, halves[0], drop_run_id)
    new = [p for p in _files(out / "history") if p not in before]
    assert new and all(OLD_NAME.fullmatch(p.stem) for p in new)  # the open windows, as the old run named them
    assert "run_id" not in _identity(out / "recovery")


def test_a_bad_run_id_in_the_recovery_dir_is_one_line(recovered, halves, tmp_path):
    rdir = tmp_path / "recovery"
    shutil.copytree(recovered / "recovery", rdir)
    doc = _identity(rdir)
    (rdir / IDENTITY_FILE).write_text(json.dumps({**doc, "run_id": "../x"}), encoding="utf-8")
    done = subprocess.run(_replay(halves[0], tmp_path / "out", "--recovery-dir", rdir), cwd=REPO,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "run id '../x' is not a run id" in lines[0], done.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def test_new_run_ids_sort_by_time_and_differ():
    """Two runs started within one second sort by start too: ids to the second sorted them by their random digits,
    and the test of two runs into one history failed when both started in one second (CI, a faster replay)."""
    early, late = datetime(2026, 12, 3, 9, 5, 7, 4000, tzinfo=UTC), datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    a, b, c = new_run_id(early), new_run_id(early), new_run_id(late)
    assert a.startswith("20261203T090507004Z-") and re.fullmatch(RUN_ID, a)
    assert a != b and max(a, b) < c
    same_second = [new_run_id(early.replace(microsecond=ms * 1000)) for ms in (5, 80, 999)]
    assert same_second == sorted(same_second) and min(same_second) > max(a, b)
    assert all(is_run_id(x) for x in (a, "", "legacy-1")) and not any(is_run_id(x) for x in ("../x", "-a", 3, None))
    with pytest.raises(RecoveryError, match="somewhere: run id 'a/b' is not a run id"):
        check_run_id("a/b", "somewhere")


def test_chunk_names_carry_the_run_id():
    batch = None  # the name does not look at the rows
    assert HistoryChunk(2, "file-1", 7, batch, "20261203T090507Z-0a1b2c3d").name == \
        "20261203T090507Z-0a1b2c3d-shard002-file-1-000007"
    assert HistoryChunk(2, "file-1", 7, batch).name == "shard002-file-1-000007"
    assert VitalsChunk(0, 1772409600000000000, (), "r1").name == "r1-shard000-1772409600000000000"
    assert history_name("", "shard000-5") == "shard000-5"


def test_processes_initialising_one_recovery_dir_agree_on_its_run_id(tmp_path):
    """The first identity written stands (a hard link of a complete file); every claimant reads it."""
    rdir = tmp_path / "recovery"
    start = threading.Barrier(8)
    ids: list[str] = []

    def claim() -> None:
        start.wait()
        ids.append(stored_run_id(claim_identity(rdir, {"shards": 4})))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1 and re.fullmatch(RUN_ID, ids[0])
    assert sorted(p.name for p in rdir.iterdir()) == [IDENTITY_FILE]  # no temporary file left
    assert stored_run_id(claim_identity(rdir, {"shards": 8})) == ids[0]  # a later claim reads it too
    assert stored_run_id({"shards": 4}) == ""  # an identity written before run ids


def test_a_run_without_scoring_first_does_not_hide_the_next_runs_scores(two_runs, halves, small_catalog):
    """Files of one directory with other columns (a run without scoring, then one with it): the readers take the
    columns of every file. Arrow's dataset reader takes the first file's columns alone, and the first run's files
    (their run id sorts first) have no scoring columns: the second run's scores were dropped without a word."""
    from vitals.checkup.load import read_snapshots

    out, _ = two_runs
    _, odd = halves
    files = sorted((out / "history" / "vitals").rglob("*.parquet"))
    assert "anomaly_score" not in pq.read_schema(files[0]).names  # the first file: no scores
    assert "anomaly_score" in pq.read_schema(files[-1]).names
    vitals = read_vitals(out / "history")
    odd_areas = set(pd.read_parquet(odd)["area"].astype(str))
    scored = vitals["area"].astype(str).isin(odd_areas)
    assert scored.any() and (~scored).any()
    assert vitals.loc[scored, "anomaly_score"].notna().all()
    assert vitals.loc[~scored, "anomaly_score"].isna().all()
    at = pd.to_datetime(vitals["at"], utc=True)
    start = (at.min() - pd.Timedelta(days=1)).date()
    snapshots = read_snapshots(out / "history", small_catalog, start, start + pd.Timedelta(days=2))
    assert snapshots.anomaly is not None and np.isfinite(snapshots.anomaly).any()


def test_checkup_keeps_the_later_runs_snapshot_of_a_series_at_one_time(two_runs, tmp_path, small_catalog):
    """Two runs that snapshot one series at one time (here: one run's file copied under a later run id, with
    other levels): `vitals checkup` keeps the later run's row, whatever the order the files were written in."""
    from vitals.checkup.load import read_snapshots

    out, _ = two_runs
    history = tmp_path / "history"
    shutil.copytree(out / "history", history)
    original = sorted((history / "vitals").rglob("*.parquet"))[-1]
    table = pq.read_table(original)
    levels = table.column("level")
    later = pc.if_else(pc.equal(levels, 3), pa.scalar(0, levels.type), pa.scalar(3, levels.type))
    copy = original.with_name("29991231T000000Z-00000000-" + original.name.split("-", 2)[2])
    pq.write_table(table.set_column(table.schema.get_field_index("level"), "level", later), copy)
    os.utime(original)  # the earlier run's file written last: the name decides, not the time
    at = pd.to_datetime(table.column("at").to_pandas(), utc=True)
    start = (at.min() - pd.Timedelta(days=1)).date()
    snapshots = read_snapshots(history, small_catalog, start, start + pd.Timedelta(days=2))
    indicators, areas = (table.column(c).to_pandas().astype(str) for c in ("indicator", "area"))
    ind = pd.Index([i.id for i in small_catalog.indicators]).get_indexer(indicators)
    street = pd.Index([s.id for s in small_catalog.streets]).get_indexer(areas)
    rows = np.searchsorted(snapshots.series, ind.astype(np.int64) * small_catalog.n_streets + street)
    cols = np.searchsorted(snapshots.at_ns, at.to_numpy(dtype="datetime64[ns]").astype(np.int64))
    np.testing.assert_array_equal(snapshots.level[rows, cols], later.to_numpy(zero_copy_only=False))
