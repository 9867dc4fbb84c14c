"""A history directory holding a file that is not Parquet (a stray note, a zero-byte ``.parquet``, one cut short):
every reader (``read_vitals``, ``read_readings``, ``vitals checkup``, ``vitals train``, ``vitals backtest``) stops
with one line naming an unreadable ``*.parquet`` (vitals.history_files), never Arrow's traceback, and every one
skips a file of another name with a warning (before, only ``vitals checkup`` skipped it; the others refused it)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from vitals.backtest.city import read_history
from vitals.catalog import load_catalog
from vitals.cli import main
from vitals.errors import HistoryError
from vitals.history import read_readings, read_vitals
from vitals.training.data import from_history

MAIN = Path(__file__).parent / "data" / "history_main"
VITALS_DAY = "vitals/date=2026-03-03"
READINGS_DAY = "readings/date=2026-03-03/domain=water"


def _bad(kind: str) -> bytes:
    good = next((MAIN / VITALS_DAY).glob("*.parquet")).read_bytes()
    return {"zero": b"", "cut": good[: len(good) // 2], "text": b"a,b\n1,2\n"}[kind]


def _history(tmp_path: Path, where: str, name: str, kind: str) -> tuple[Path, Path]:
    root = tmp_path / "h"
    shutil.copytree(MAIN, root)
    bad = root / where / name
    bad.write_bytes(_bad(kind))
    return root, bad


@pytest.mark.parametrize("kind", ["zero", "cut", "text"])
def test_read_vitals_names_the_file_that_is_not_parquet(tmp_path: Path, kind: str) -> None:
    root, bad = _history(tmp_path, VITALS_DAY, "zz-stray.parquet", kind)
    with pytest.raises(HistoryError, match="not a readable Parquet file") as caught:
        read_vitals(root)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(HistoryError, match=str(bad)):
        read_vitals(root, "2026-03-03")
    assert len(read_vitals(root, "2026-03-02")) > 0  # another day is still read


@pytest.mark.parametrize("where", [READINGS_DAY, VITALS_DAY, "readings", "vitals", "."])
def test_every_reader_skips_a_file_of_another_name_with_a_warning(tmp_path: Path, where: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Before: read_vitals, read_readings, vitals train and backtest refused the whole directory over a note."""
    root, bad = _history(tmp_path, where, "notes.txt", "text")
    (bad.parent / "README").write_text("what this directory holds\n")
    catalog = load_catalog(streets_total=76)
    with caplog.at_level(logging.WARNING, logger="vitals.history_files"):
        pd.testing.assert_frame_equal(read_vitals(root), read_vitals(MAIN))
        pd.testing.assert_frame_equal(read_readings(root), read_readings(MAIN))
        pd.testing.assert_frame_equal(read_history(root), read_history(MAIN))
        assert from_history(catalog, root).sha256 == from_history(catalog, MAIN).sha256
    if where != ".":  # the top directory is not under readings/ or vitals/, which the readers look into
        assert any(str(bad.parent) in r.getMessage() and "not *.parquet" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind", ["zero", "cut"])
def test_checkup_is_one_line_naming_the_file(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    root, bad = _history(tmp_path, VITALS_DAY, "zz-stray.parquet", kind)
    code = main(["checkup", "--history", str(root), "--from", "2026-03-03", "--to", "2026-03-03", "--streets", "76",
                 "--json", str(tmp_path / "c.json")])
    err = capsys.readouterr().err
    assert code == 1 and not (tmp_path / "c.json").exists()
    assert err.startswith("vitals checkup: error: history file ") and str(bad) in err and err.count("\n") == 1


def test_checkup_reads_only_parquet_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = _history(tmp_path, VITALS_DAY, "notes.txt", "text")
    (root / "vitals" / "date=2026-03-01").mkdir()  # a day folder with a note and no Parquet file: no snapshots
    (root / "vitals" / "date=2026-03-01" / "notes.txt").write_text("nothing ran that day\n")
    assert main(["checkup", "--history", str(root), "--from", "2026-03-01", "--to", "2026-03-03", "--streets", "76",
                 "--json", str(tmp_path / "c3.json")]) == 0
    assert main(["checkup", "--history", str(root), "--from", "2026-03-03", "--to", "2026-03-03", "--streets", "76",
                 "--json", str(tmp_path / "c.json")]) == 0
    assert (tmp_path / "c.json").exists()


def test_train_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, bad = _history(tmp_path, READINGS_DAY, "zz.parquet", "zero")
    code = main(["train", "--history", str(root), "--streets", "76", "--models-dir", str(tmp_path / "m"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and str(bad) in err and "not a readable Parquet file" in err and err.count("\n") == 1


def test_train_on_a_file_that_is_not_parquet_says_what_it_takes(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    given = tmp_path / "readings.jsonl"
    given.write_text('{"ts": "2026-03-02T00:00:00Z"}\n')
    assert main(["train", "--history", str(given), "--streets", "76", "--models-dir", str(tmp_path / "m"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"vitals train: error: {given} is not a readable Parquet file (") and err.count("\n") == 1
    assert "give a history directory" in err


def test_a_day_read_names_that_days_unreadable_file(tmp_path: Path) -> None:
    root, bad = _history(tmp_path, VITALS_DAY, "zz-stray.parquet", "zero")
    other = root / "vitals" / "date=2026-03-02" / "aa.parquet"
    other.write_bytes(b"")
    with pytest.raises(HistoryError, match=str(bad)):
        read_vitals(root, "2026-03-03")
    with pytest.raises(HistoryError, match=str(other)):
        read_vitals(root)


@pytest.mark.parametrize("command", ["train", "backtest"])
def test_an_empty_history_directory_says_so(tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `vitals train --history EMPTY_DIR` (and backtest) said "cannot read the history under ...: No match
    for FieldRef.Name(ts) in __fragment_index: int32", Arrow's words for a dataset of no file."""
    empty = tmp_path / "history"
    empty.mkdir()
    args = {"train": ["train", "--history", str(empty), "--models-dir", str(tmp_path / "m"), "--no-progress"],
            "backtest": ["backtest", "--history", str(empty), "--labels", str(tmp_path / "labels.json")]}[command]
    (tmp_path / "labels.json").write_text("{}")
    assert main([*args, "--streets", "76"]) == 1
    err = capsys.readouterr().err
    assert err == (f"vitals {command}: error: no history under {empty}: it holds no *.parquet file; write one with "
                   "`vitals run --history-dir DIR` or `vitals simulate --out FILE.parquet`\n"), err
