"""Issue 12, finding 4: a recovery directory carries its run's identity. Restarting it with other input files,
other shards or partitions, or on a corrupt snapshot is one line of error, a non-zero exit and no output; a
finished replay resumed on its directory reports the whole run's counters."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from streaming_support import REPO, vitals_cmd, write_partitioned_readings

from vitals import __version__
from vitals.recovery import HISTORY_DIR_KEY, IDENTITY_FILE, differences, history_dir_change, run_identity


def _replay(data: Path, rdir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = vitals_cmd("replay", data, "--streets", "76", "--metrics-port", "0", "--recovery-dir", rdir,
                      "--history-dir", out / "history", "--dead-letters", out / "dead.jsonl",
                      "--final-vitals", out / "final.parquet", "--no-progress", *extra)
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, small_catalog) -> tuple[Path, Path, Path, str]:
    """Input data, another input, and a recovery dir of a finished replay of the data (with its summary)."""
    root = tmp_path_factory.mktemp("identity")
    write_partitioned_readings(small_catalog, root / "data", hours=1, parts=2)
    write_partitioned_readings(small_catalog, root / "other", hours=1, parts=2, seed=9)
    done = _replay(root / "data", root / "recovery", root / "first")
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "data", root / "other", root / "recovery", done.stdout.splitlines()[0]


def _copy(rdir: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(rdir, to)
    return to


def _assert_refused(done: subprocess.CompletedProcess[str], out: Path, *phrases: str) -> None:
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vitals replay: error: "), done.stderr[-3000:]
    for phrase in phrases:
        assert phrase in lines[0]
    assert not out.exists(), sorted(out.rglob("*"))


def test_other_input_files_are_refused(finished, tmp_path):
    _, other, rdir, _ = finished
    done = _replay(other, rdir, tmp_path / "out")
    _assert_refused(done, tmp_path / "out", "belongs to another run", "input files differ",
                    "changed content part-0.parquet, part-1.parquet", "new --recovery-dir")


def test_other_shards_are_refused(finished, tmp_path):
    data, _, rdir, _ = finished
    _assert_refused(_replay(data, rdir, tmp_path / "out", "--shards", "8"), tmp_path / "out", "--shards 4 -> 8")


def test_other_partitions_are_refused(finished, tmp_path):
    data, _, rdir, _ = finished
    _assert_refused(_replay(data, rdir, tmp_path / "out", "--partitions", "2"), tmp_path / "out",
                    "--partitions 4 -> 2")


def test_a_corrupt_snapshot_file_is_named(finished, tmp_path):
    data, _, rdir, _ = finished
    broken = _copy(rdir, tmp_path / "broken")
    part = broken / "part-1.sqlite3"
    with part.open("r+b") as f:
        f.write(b"not a database" * 100)
    _assert_refused(_replay(data, broken, tmp_path / "out"), tmp_path / "out", f"recovery snapshot {part}",
                    "is corrupt")


def test_a_corrupt_state_in_a_snapshot_is_named(finished, tmp_path):
    data, _, rdir, _ = finished
    broken = _copy(rdir, tmp_path / "broken")
    part = broken / "part-0.sqlite3"
    with sqlite3.connect(part) as conn:
        step, key, epoch = conn.execute("SELECT step_id, state_key, MAX(snap_epoch) FROM snaps "
                                        "WHERE ser_change IS NOT NULL GROUP BY step_id, state_key").fetchone()
        conn.execute("UPDATE snaps SET ser_change = ? WHERE step_id = ? AND state_key = ? AND snap_epoch = ?",
                     (b"\x80\x04garbage", step, key, epoch))
    _assert_refused(_replay(data, broken, tmp_path / "out"), tmp_path / "out", f"recovery snapshot {part}",
                    f"step {step} key {key}")


def test_snapshots_without_an_identity_are_refused(finished, tmp_path):
    data, _, rdir, _ = finished
    legacy = _copy(rdir, tmp_path / "legacy")
    (legacy / IDENTITY_FILE).unlink()
    _assert_refused(_replay(data, legacy, tmp_path / "out"), tmp_path / "out", f"no {IDENTITY_FILE}")


def test_a_finished_replay_resumed_reports_the_whole_runs_counters(finished, tmp_path):
    data, _, rdir, summary = finished
    again = _copy(rdir, tmp_path / "again")
    done = _replay(data, again, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    counts = summary.split(" in ")[0], summary.split("): ")[1]
    resumed = done.stdout.splitlines()[0]
    assert (resumed.split(" in ")[0], resumed.split("): ")[1]) == counts
    assert "late=" in resumed and "out_of_range=" in resumed


def test_differences_name_each_change():
    base = run_identity(source={"kind": "kafka", "topic": "t", "kafka_partitions": 6}, shards=4, partitions=4,
                        catalog_sha256="a")
    other = run_identity(source={"kind": "kafka", "topic": "t", "kafka_partitions": 12}, shards=4, partitions=4,
                         catalog_sha256="b")
    assert differences(base, base) == []
    assert differences(base, other) == ["kafka_partitions 6 -> 12", "the catalog (or --streets) changed"]
    older = {**base, "version": "0.0.1"}
    assert differences(older, base) == [f"city-vitals 0.0.1 -> {__version__}"]


def test_a_resume_into_another_history_dir_is_warned(finished, tmp_path):
    """Before, a recovery dir resumed with another --history-dir wrote the rest of the run there without a word:
    each directory held a part of one run's history."""
    data, _, rdir, _ = finished
    again = _copy(rdir, tmp_path / "again")
    saved = json.loads((again / IDENTITY_FILE).read_text())[HISTORY_DIR_KEY]
    assert saved == str(rdir.parent / "first" / "history")
    done = _replay(data, again, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    [warning] = [line for line in done.stderr.splitlines() if "splits the run's history" in line]
    assert warning.endswith(f"recovery dir {again}: --history-dir {saved} -> {tmp_path / 'out' / 'history'}: this "
                            f"resume splits the run's history (the part before the resume is in {saved}, "
                            f"{tmp_path / 'out' / 'history'} gets only the rest); resume with --history-dir {saved} "
                            "to keep it in one directory")


def test_history_dir_change_is_said_only_when_it_changes():
    ident = {n: run_identity(source={"kind": "file"}, shards=1, partitions=1, catalog_sha256="a", history_dir=d)
             for n, d in (("a", "/h/a"), ("b", "/h/b"), ("none", None), ("rel", "h/../h/a"))}
    assert history_dir_change(ident["a"], ident["a"]) is None
    assert history_dir_change(ident["none"], ident["none"]) is None
    assert ident["rel"][HISTORY_DIR_KEY] == str(Path("h/a").absolute())  # compared as absolute, normalised paths
    older = {k: v for k, v in ident["a"].items() if k != HISTORY_DIR_KEY}  # an identity from before the record
    assert history_dir_change(older, ident["b"]) is None
    assert "--history-dir /h/a -> /h/b" in (history_dir_change(ident["a"], ident["b"]) or "")
    assert "--history-dir none -> /h/a" in (history_dir_change(ident["none"], ident["a"]) or "")
    assert "the rest of the run writes no history" in (history_dir_change(ident["a"], ident["none"]) or "")
    assert differences(ident["a"], ident["b"]) == []  # warned, not refused
