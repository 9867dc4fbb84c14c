"""A history directory holding a file that is not Parquet (a stray note, a zero-byte ``.parquet``, one cut short):
every reader (``read_vitals``, ``read_readings``, ``vitals checkup``, ``vitals train``) stops with one line naming
the file (vitals.history_files), never Arrow's traceback; ``vitals checkup`` reads only ``*.parquet`` names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vitals.cli import main
from vitals.errors import HistoryError
from vitals.history import read_readings, read_vitals

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


def test_read_readings_names_a_stray_file_of_another_name(tmp_path: Path) -> None:
    root, bad = _history(tmp_path, READINGS_DAY, "notes.txt", "text")
    with pytest.raises(HistoryError, match=f"{bad}.*move it out"):
        read_readings(root)


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
