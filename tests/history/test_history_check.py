"""``vitals history check`` on a history the flow wrote: clean, it finds nothing; damaged in every way it knows, it
names each damaged file once, in one pass, with its problem; ``--quarantine`` moves exactly the files a reader
refuses or misreads, and the readers then read every good row of the original (oracle: the undamaged history read
by the same readers); misuse in one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.history.conftest import read_both
from vitals.cli import main
from vitals.errors import ConfigError, HistoryError
from vitals.history import read_readings
from vitals.history_admin import summarize
from vitals.history_check import check
from vitals.history_files import JOURNAL_PREFIX, history_files


def _files(root: Path, kind: str, day: str) -> list[Path]:
    return [p for p in history_files(root / kind) if f"date={day}" in p.parts]


def test_a_flow_history_is_clean(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for deep in (False, True):
        result = check(history, deep=deep)
        assert result.problems == []
        assert result.files == len(history_files(history))
        assert result.rows == sum(s.rows for s in summarize(history))
    assert main(["history", "check", str(history), "--no-progress"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def _damage(root: Path) -> dict[str, str]:
    """Every kind of damage ``check`` knows, each to one file; the expected problem per relative path. Every file
    added is a copy of good rows (so the undamaged history is the readers' oracle after the quarantine), but one:
    an original readings file cut short, whose rows are lost."""
    readings = _files(root, "readings", "2026-03-01")
    vitals = _files(root, "vitals", "2026-03-01")
    expected: dict[str, str] = {}

    def rel(p: Path) -> str:
        return str(p.relative_to(root))

    cut = readings[0]
    cut.write_bytes(cut.read_bytes()[:100])  # a transfer cut short: no footer
    expected[rel(cut)] = "unreadable"
    empty = vitals[0].parent / "zero.parquet"  # a full disk
    empty.write_bytes(b"")
    expected[rel(empty)] = "unreadable"
    flipped = vitals[1].parent / "flipped.parquet"  # bits flipped inside a data page: the footer still reads
    data = bytearray(vitals[1].read_bytes())
    for k in range(200, min(len(data) - 2000, 6000)):
        data[k] ^= 0x5A
    flipped.write_bytes(bytes(data))
    expected[rel(flipped)] = "corrupt"
    other_day = root / "vitals" / "date=2026-03-05" / vitals[2].name  # rows of the 1st in the partition of the 5th
    other_day.parent.mkdir()
    shutil.copy(vitals[2], other_day)
    expected[rel(other_day)] = "wrong_day"
    stray = root / "readings" / "stray.parquet"  # not in a partition
    shutil.copy(readings[1], stray)
    expected[rel(stray)] = "outside_partition"
    schema = readings[1].parent / "values-only.parquet"  # a file someone wrote by hand
    pq.write_table(pa.table({"value": [1.0, 2.0]}), schema)
    expected[rel(schema)] = "wrong_schema"
    temp = vitals[0].parent / f".{vitals[0].name}.tmp"  # a write that did not finish
    temp.write_bytes(b"half")
    os.utime(temp, (1_000_000_000, 1_000_000_000))
    expected[rel(temp)] = "leftover_temp"
    note = root / "vitals" / "notes.txt"
    note.write_text("kept by hand")
    expected[rel(note)] = "not_history"
    return expected


def test_every_problem_named_once_then_quarantined_and_every_good_rowread_both(
        history: Path, flow_history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut_rows = pq.read_table(_files(history, "readings", "2026-03-01")[0]).to_pandas()
    expected = _damage(history)
    with pytest.raises(HistoryError, match="not a readable Parquet file"):  # the readers: the first one only
        read_readings(history)

    result = check(history, deep=True, now=1_000_000_000 + 7_200)
    assert {p.path: p.problem for p in result.problems} == expected
    assert len(result.problems) == len(expected)  # one problem per file: the cut file is not also "wrong_day"
    warnings = {"leftover_temp", "not_history"}
    assert {p.problem for p in result.warnings} == warnings
    assert {p.problem for p in result.errors} == set(expected.values()) - warnings
    assert next(p for p in result.warnings if p.problem == "leftover_temp").detail.count("2.0 h old") == 1
    assert "2026-03-01 (by at) in date=2026-03-05" in next(p.detail for p in result.errors if p.problem == "wrong_day")
    shallow = check(history)  # footers and statistics only: the flipped pages are not seen
    assert {p.path: p.problem for p in shallow.problems} == {k: v for k, v in expected.items() if v != "corrupt"}

    assert main(["history", "check", str(history), "--deep", "--json", "--no-progress"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"] == len(expected) - 2 and doc["warnings"] == 2 and doc["moved"] == []

    quarantine = tmp_path / "bad"
    assert main(["history", "check", str(history), "--deep", "--quarantine", str(quarantine), "--no-progress"]) == 1
    out = capsys.readouterr().out
    moved = {k for k, v in expected.items() if v not in warnings}
    assert f"moved {len(moved)} file(s) to {quarantine}" in out
    assert {str(p.relative_to(quarantine)) for p in quarantine.rglob("*") if p.is_file()} == moved
    assert not (history / "vitals" / "date=2026-03-05").exists()  # the partition it emptied
    after = check(history, deep=True)
    assert {p.problem for p in after.problems} == warnings and after.errors == []

    got, want = read_both(history), read_both(flow_history)  # every good row: the original's, but the cut file's
    pd.testing.assert_frame_equal(got["vitals"], want["vitals"], check_categorical=False)
    keys = ["ts", "indicator", "area"]
    lost = want["readings"].merge(cut_rows[keys], on=keys, how="left", indicator=True)
    lost = lost[lost["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)
    assert len(lost) == len(want["readings"]) - len(cut_rows) > 0
    pd.testing.assert_frame_equal(got["readings"], lost, check_categorical=False, check_dtype=False)


def test_compaction_journals_and_records(history: Path) -> None:
    """An interrupted compaction is a warning (the sources it replaced are not checked: no reader reads them); a
    journal or record that does not read is an error, left in place."""
    folder = _files(history, "vitals", "2026-03-01")[0].parent
    sources = sorted(p.name for p in folder.glob("*.parquet"))[:2]
    merged = folder / "merged-compacted-001.parquet"
    shutil.copy(folder / sources[0], merged)
    (folder / sources[1]).write_bytes(b"")  # a source already replaced, being deleted: not read, not checked
    journal = folder / f"{JOURNAL_PREFIX}{merged.name}.json"
    journal.write_text(json.dumps({"target": merged.name, "sources": sources}))
    record = folder / "_compacted-merged.json"
    record.write_text("{not json")
    result = check(history, quarantine=history.parent / "q")
    assert {(p.path, p.problem, p.severity) for p in result.problems} == {
        (str(journal.relative_to(history)), "unfinished_compaction", "warning"),
        (str(record.relative_to(history)), "bad_record", "error")}
    assert result.moved == [] and record.exists() and journal.exists()


def test_a_name_taken_in_the_quarantine_gets_a_number(history: Path, tmp_path: Path) -> None:
    bad = _files(history, "readings", "2026-03-02")[0]
    rel = bad.relative_to(history)
    quarantine = tmp_path / "q"
    (quarantine / rel).parent.mkdir(parents=True)
    (quarantine / rel).write_text("an earlier one")
    bad.write_bytes(b"PAR1")
    assert check(history, quarantine=quarantine).moved == [str(rel)]
    assert (quarantine / rel).read_text() == "an earlier one"
    assert (quarantine / rel.parent / f"{rel.name}.1").read_bytes() == b"PAR1"


def test_misuse_in_one_line(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _files(history, "vitals", "2026-03-02")[0]
    bad.write_bytes(b"")
    with pytest.raises(ConfigError, match="inside the history"):
        check(history, quarantine=history / "vitals" / "q")
    assert bad.exists()  # nothing moved
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check(history, quarantine=a_file)
    for args in (["history", "check", str(tmp_path / "none")], ["history", "check", str(a_file)],
                 ["history", "check", str(history), "--quarantine", str(history)]):
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error:" in err
