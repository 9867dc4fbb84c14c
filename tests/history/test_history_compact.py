"""``vitals history compact`` on a history the flow wrote (two runs, two days, many small files): the same rows as
every reader reads them (pandas, the check-up), one file per partition and run, row groups in time order, an
interrupted compaction read consistently at every step and finished by the next one, misuse in one line; and the
merge order against a sort oracle (Hypothesis)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.history.conftest import read_both
from vitals import history_compact
from vitals.cli import main
from vitals.errors import HistoryError
from vitals.history import (
    READINGS_ENCODINGS,
    _atomic_write,
    series_time_order,
    vitals_encodings,
)
from vitals.history_admin import summarize
from vitals.history_compact import Merge, compact, merge
from vitals.history_files import JOURNAL_PREFIX, history_files
from vitals.run_id import run_of

INDICATORS = "water_pressure,substation_load,rainfall_1h,hotline_tickets"
DAYS = ("2026-03-01", "2026-03-02")


def _flow_history(root: Path) -> Path:
    """Two simulated days replayed into one history (small chunks: many files), then the second day once more by a
    second run (another run id in the same partitions)."""
    assert main(["simulate", "--days", "2", "--streets", "38", "--seed", "3", "--start", "2026-03-01T00:00:00Z",
                 "--step", "60", "--indicators", INDICATORS, "--no-progress", "--out", str(root / "r.parquet")]) == 0
    day2 = pd.read_parquet(root / "r.parquet")
    day2 = day2[day2["ts"] >= pd.Timestamp("2026-03-02T12:00:00Z")]
    day2.to_parquet(root / "r2.parquet")
    for source in ("r.parquet", "r2.parquet"):
        subprocess.run([sys.executable, "-m", "vitals", "replay", str(root / source), "--streets", "38",
                        "--metrics-port", "0", "--history-dir", str(root / "h"), "--history-chunk-rows", "3000",
                        "--partitions", "2", "--shards", "2", "--no-progress", "--dead-letters",
                        str(root / "dead.jsonl")], check=True, capture_output=True, timeout=240)
    return root / "h"


@pytest.fixture(scope="module")
def flow_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _flow_history(tmp_path_factory.mktemp("compact"))


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for kind, frame in a.items():
        pd.testing.assert_frame_equal(frame, b[kind], check_categorical=False)


def _runs(files: list[Path]) -> set[str]:
    return {run_of(p.name) for p in files}


def test_compaction_keeps_every_row_and_leaves_a_file_per_partition_and_run(history: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    before = read_both(history)
    files = history_files(history)
    assert len(_runs(files)) == 2 and len(files) > 60  # the fixture: two runs, many small files
    assert sum(sum(s.mergeable.values()) for s in summarize(history)) == len(files)  # every partition has several
    assert main(["history", "compact", str(history), "--keep-days", "0"]) == 0
    out = capsys.readouterr().out
    after = history_files(history)
    partitions = {(p.parent, run_of(p.name)) for p in files}
    assert len(after) == len(partitions) and {(p.parent, run_of(p.name)) for p in after} == partitions
    assert out.startswith(f"merged {len(files):,} files") and f"into {len(after):,} (" in out
    _assert_same(before, read_both(history))
    assert [s.runs for s in summarize(history)] == [_runs(files)] * 2
    assert [sum(s.mergeable.values()) for s in summarize(history)] == [0, 0]
    assert main(["history", "compact", str(history), "--keep-days", "0"]) == 0  # again: nothing to do
    assert capsys.readouterr().out.startswith("nothing to merge in 2 day(s)")
    assert history_files(history) == after


def test_row_groups_come_in_time_order_and_readings_in_the_writers_order_inside(history: Path) -> None:
    compact(history, keep_days=0)
    for path in history_files(history):
        table = pq.read_table(path)
        column = "ts" if "ts" in table.column_names else "at"
        source = pq.ParquetFile(path)
        spans = []
        for g in range(source.num_row_groups):
            part = source.read_row_group(g)
            t = part.column(column).cast(pa.int64()).to_numpy()
            spans.append((t.min(), t.max()))
            if column == "ts":
                keys = part.select(["indicator", "area", "ts"]).to_pandas()
                assert keys.equals(keys.sort_values(["indicator", "area", "ts"], kind="stable"))
            else:
                assert (np.diff(t) >= 0).all()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_the_check_up_reads_the_same_history(history: Path, tmp_path: Path) -> None:
    def checkup(name: str) -> dict:
        assert main(["checkup", "--history", str(history), "--from", DAYS[1], "--to", DAYS[1], "--streets", "38",
                     "--json", str(tmp_path / name)]) == 0
        return json.loads((tmp_path / name).read_text())

    before = checkup("before.json")
    compact(history, keep_days=0)
    assert checkup("after.json") == before


def test_info_says_when_old_days_can_be_merged(history: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    day = history / "readings" / "date=2026-02-27" / "domain=water"  # an older day: outside the newest two
    day.mkdir(parents=True)
    for name in ("a", "b"):
        shutil.copy(sorted((history / "readings" / f"date={DAYS[0]}" / "domain=water").glob("*.parquet"))[0],
                    day / f"{name}.parquet")
    assert main(["history", "info", str(history)]) == 0
    assert capsys.readouterr().out.endswith(f"2 files of days before the newest 2 can be merged: vitals history "
                                            f"compact {history}\n")
    compact(history)
    assert main(["history", "info", str(history)]) == 0
    assert "can be merged" not in capsys.readouterr().out


def test_the_newest_days_are_kept_by_default_and_dry_run_changes_nothing(history: Path) -> None:
    files = {p: p.stat().st_mtime_ns for p in history_files(history)}
    dry = compact(history, dry_run=True, keep_days=1)
    assert dry.days == [DAYS[0]] and dry.files_before == sum(f"date={DAYS[0]}" in str(p) for p in files)
    assert {p: p.stat().st_mtime_ns for p in history_files(history)} == files
    assert compact(history).days == []  # default: the newest two days (all there is)
    assert compact(history, before=date.fromisoformat(DAYS[1])).days == [DAYS[0]]
    kept = [p for p in history_files(history) if f"date={DAYS[1]}" in str(p)]
    assert kept == sorted(p for p in files if f"date={DAYS[1]}" in str(p))


@pytest.mark.parametrize("step", [1, 2, 3])
def test_an_interrupted_compaction_is_read_whole_and_finished_next_time(history: Path, step: int,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after the journal (1), after the merged file took its name (2), after the sources went (3): the
    readers read every row once at each step, and the next compaction finishes the job."""
    before = read_both(history)
    calls = []

    class Crash(Exception):
        pass

    def sync_dir(folder: Path) -> None:
        calls.append(folder)
        if len(calls) == step:
            raise Crash

    monkeypatch.setattr(history_compact, "_sync_dir", sync_dir)
    with pytest.raises(Crash):
        compact(history, keep_days=0)
    monkeypatch.undo()
    journals = list(history.rglob(f"{JOURNAL_PREFIX}*.json"))
    assert len(journals) == 1
    _assert_same(before, read_both(history))
    result = compact(history, keep_days=0)
    assert result.finished_journals == 1
    assert not list(history.rglob(f"{JOURNAL_PREFIX}*.json")) and not list(history.rglob(".*.tmp"))
    _assert_same(before, read_both(history))


def test_new_files_of_a_compacted_run_are_merged_into_the_next_file(history: Path, tmp_path: Path) -> None:
    folder = history / "vitals" / f"date={DAYS[0]}"
    late = sorted(folder.glob("*.parquet"))[-1]
    shutil.copy(late, tmp_path / "late.parquet")
    late.unlink()
    before = read_both(history)
    compact(history, keep_days=0)
    shutil.copy(tmp_path / "late.parquet", late)  # the run wrote it after the compaction
    expected = read_both(history)
    assert len(expected["vitals"]) > len(before["vitals"])
    compact(history, keep_days=0)
    names = [p.name for p in folder.glob("*.parquet")]
    assert len(names) == 1 and names[0].endswith("-compacted-002.parquet")
    _assert_same(expected, read_both(history))


@pytest.mark.parametrize("kind", ["readings", "vitals"])
def test_a_resumed_run_writing_a_compacted_file_again_adds_only_its_new_rows(history: Path, kind: str) -> None:
    """A run resumed from its recovery directory writes its last files again, by name; the day was compacted in
    between: the same rows are not written twice, rows the file did not have before (a window grown since) are."""
    folder = history / kind / f"date={DAYS[0]}"
    folder = folder if kind == "vitals" else sorted(folder.iterdir())[0]
    first, other = sorted(folder.glob("*.parquet"))[:2]
    table = pq.read_table(first)
    options = READINGS_ENCODINGS if kind == "readings" else vitals_encodings(table)
    before = read_both(history)
    compact(history, keep_days=0)
    _atomic_write(table, first, **options)  # the same file again: nothing new
    assert not first.exists()
    _assert_same(before, read_both(history))
    time = "ts" if kind == "readings" else "at"
    later = table.slice(0, 3)
    later = later.set_column(later.column_names.index(time), time,
                             pc.add(later.column(time), pa.scalar(1_000_000_000, pa.duration("ns"))))
    _atomic_write(pa.concat_tables([table, later.cast(table.schema)]), first, **options)  # grown by three rows
    assert pq.read_table(first).num_rows == 3
    grown = read_both(history)[kind]
    assert len(grown) == len(before[kind]) + 3
    assert len(grown.merge(before[kind], how="left", indicator=True).query("_merge == 'left_only'")) == 3
    new_name = folder / other.name.replace("-", "-x", 1)  # a name the run never wrote: written whole
    _atomic_write(table, new_name, **options)
    assert pq.read_table(new_name).num_rows == table.num_rows


def test_files_without_a_run_id_are_one_run(tmp_path: Path) -> None:
    folder = tmp_path / "h" / "vitals" / f"date={DAYS[0]}"
    folder.mkdir(parents=True)
    at = pd.Timestamp(f"{DAYS[0]}T00:05:00Z").value
    for k in range(3):
        pq.write_table(pa.table({"at": pa.array([at + k * 300 * 10**9] * 2, pa.timestamp("ns", "UTC")),
                                 "indicator": ["a", "b"], "area": ["s1", "s1"], "x": [float(k), 2.0 * k]}),
                       folder / f"shard000-{k}.parquet")
    compact(tmp_path / "h", keep_days=0)
    (only,) = folder.glob("*.parquet")
    assert only.name == "compacted-001.parquet"
    assert pq.read_table(only).column("x").to_pylist() == [0.0, 0.0, 1.0, 2.0, 2.0, 4.0]


def test_a_broken_journal_or_file_is_one_line(history: Path) -> None:
    folder = history / "vitals" / f"date={DAYS[0]}"
    bad = sorted(folder.glob("*.parquet"))[0]
    bad.write_bytes(b"not parquet")
    with pytest.raises(HistoryError, match=rf"{bad.name} is not a readable Parquet file"):
        compact(history, keep_days=0)
    assert bad.exists() and not list(history.rglob(".*.tmp")) and not list(history.rglob(f"{JOURNAL_PREFIX}*"))
    (folder / f"{JOURNAL_PREFIX}x.json").write_text("{")
    with pytest.raises(HistoryError, match=r"compaction record .* does not read"):
        history_files(history)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=12), min_size=2, max_size=5),
       st.integers(1, 4))
def test_merge_order_is_time_then_file_then_place(tmp_path_factory: pytest.TempPathFactory, files: list[list[int]],
                                                  group_rows: int) -> None:
    """Sources of random times (late rows, overlaps, ties; several row groups each): the merged rows are the
    sources' rows sorted by (time, file in name order, place in the file)."""
    folder = tmp_path_factory.mktemp("merge") / "vitals" / "date=2026-03-01"
    folder.mkdir(parents=True)
    rows = []
    sources = []
    for k, times in enumerate(files):
        path = folder / f"shard000-{k:03d}.parquet"
        at = [pd.Timestamp("2026-03-01T00:00:00Z").value + t * 10**9 for t in times]
        pq.write_table(pa.table({"at": pa.array(at, pa.timestamp("ns", "UTC")), "file": [k] * len(times),
                                 "place": list(range(len(times)))}), path, row_group_size=group_rows)
        rows += [(a, k, i) for i, a in enumerate(at)]
        sources.append(path)
    m = Merge(folder, "vitals", "", tuple(sources), folder / "compacted-001.parquet")
    assert merge(m) == len(rows)
    got = pq.read_table(m.target)
    merged = list(zip(got.column("at").cast(pa.int64()).to_pylist(), got.column("file").to_pylist(),
                      got.column("place").to_pylist(), strict=True))
    assert merged == sorted(rows)
    assert not any(p.exists() for p in sources)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["b", "a", "c", "ä", "a b"]), st.sampled_from(["s2", "s10", "s1", "S1"]),
                          st.integers(0, 5)), max_size=40), st.integers(1, 3), st.sampled_from([10**9, 2**58]))
def test_series_time_order_is_a_stable_pandas_sort(rows: list[tuple[str, str, int]], chunks: int, unit: int) -> None:
    """The order of ``read_readings`` and of a compacted row group of readings, against pandas' stable sort (ties
    in table order; the table in several chunks, as a dataset reads it; times 2^58 ns apart do not fit the one-key
    sort beside the series rank: the three-key path)."""
    table = pa.table({"indicator": pa.array([r[0] for r in rows], pa.string()),
                      "area": pa.array([r[1] for r in rows], pa.string()),
                      "ts": pa.array([r[2] * unit for r in rows], pa.timestamp("ns", "UTC")),
                      "n": pa.array(range(len(rows)), pa.int64())})
    cut = len(rows) // chunks
    table = pa.concat_tables([table.slice(0, cut), table.slice(cut)]) if chunks > 1 else table
    expected = table.to_pandas().sort_values(["indicator", "area", "ts"], kind="stable")["n"].tolist()
    assert table.take(pa.array(series_time_order(table))).column("n").to_pylist() == expected
