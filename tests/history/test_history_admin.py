"""``vitals history info|prune``: the figures against an oracle over the files, whole days dropped before the
cutoff of both kinds, nothing else touched, and misuse in one line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitals.cli import main
from vitals.errors import HistoryError
from vitals.history_admin import prune, summarize

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
RUN = "20261204T101112123Z-0123abcd"


def _write(path: Path, rows: int, at_s: int | None = None) -> None:
    """A Parquet file of ``rows`` rows; with ``at_s`` a vitals file whose snapshots start there, 300 s apart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {"value": pa.array(range(rows), pa.float64())}
    if at_s is not None:
        columns["at"] = pa.array([(at_s + 300 * (k % 3)) * 10**9 for k in range(rows)], pa.timestamp("ns", "UTC"))
    pq.write_table(pa.table(columns), path)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    root = tmp_path / "history"
    for k, day in enumerate(DAYS):
        for domain in ("water", "power"):
            _write(root / "readings" / f"date={day}" / f"domain={domain}" / f"{RUN}-shard000-file-0-00000{k}.parquet",
                   100 + k)
        _write(root / "vitals" / f"date={day}" / f"{RUN}-shard000-{k}.parquet", 10 + k, at_s=1_772_323_200 + k * 86_400)
    _write(root / "vitals" / f"date={DAYS[2]}" / "shard001-5.parquet", 7)  # a file from before run ids
    (root / "notes.txt").write_text("kept by hand")
    _write(root / "vitals" / "date=2026-13-45" / "odd.parquet", 1)  # not a day: neither counted nor pruned
    (root / "readings" / "_SUCCESS").write_text("")
    return root


def _files(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in (root / kind).rglob("*.parquet") if "2026-13-45" not in str(p))


def test_info_counts_what_the_files_hold(history: Path) -> None:
    readings, vitals = summarize(history)
    for summary, kind in ((readings, "readings"), (vitals, "vitals")):
        files = _files(history, kind)
        assert summary.days == list(DAYS)
        assert summary.files == len(files)
        assert summary.rows == sum(pq.read_metadata(p).num_rows for p in files)
        assert summary.bytes == sum(p.stat().st_size for p in files)
    assert (readings.runs, vitals.runs) == ({RUN}, {RUN})


def test_info_json_from_the_command_line(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "info", str(history), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [k["kind"] for k in doc["kinds"]] == ["readings", "vitals"]
    assert doc["kinds"][1] == {"kind": "vitals", "first_day": DAYS[0], "last_day": DAYS[2], "days": 3, "files": 4,
                               "rows": 10 + 11 + 12 + 7, "bytes": sum(p.stat().st_size for p in _files(history,
                                                                                                 "vitals")),
                               "runs": 1, "snapshot_interval_s": 300.0, "mergeable_files": 0}


def test_prune_keeps_the_newest_days_of_both_kinds(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_size for kind in ("readings", "vitals") for p in _files(history, kind)}
    assert main(["history", "prune", str(history), "--keep-days", "2", "--dry-run"]) == 0
    assert {p: p.stat().st_size for kind in ("readings", "vitals") for p in _files(history, kind)} == before
    doomed = [p for p in before if f"date={DAYS[0]}" in str(p)]
    out = capsys.readouterr().out
    assert out == (f"would delete 1 day(s) before {DAYS[1]} ({DAYS[0]} .. {DAYS[0]}): {len(doomed)} files, "
                   f"{sum(before[p] for p in doomed) / 1e6:,.1f} MB\n")
    assert main(["history", "prune", str(history), "--keep-days", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"deleted 1 day(s) before {DAYS[1]}")
    assert sorted(_files(history, "readings") + _files(history, "vitals")) == sorted(p for p in before
                                                                                       if p not in doomed)
    assert not (history / "readings" / f"date={DAYS[0]}").exists()
    assert (history / "notes.txt").exists() and (history / "readings" / "_SUCCESS").exists()
    assert (history / "vitals" / "date=2026-13-45" / "odd.parquet").exists()


def test_prune_before_a_date(history: Path) -> None:
    result = prune(history, before=date(2026, 3, 3))
    assert result.days == {"readings": list(DAYS[:2]), "vitals": list(DAYS[:2])} and not result.dry_run
    assert summarize(history)[0].days == [DAYS[2]]


@pytest.mark.parametrize(("args", "message"), [
    (["--keep-days", "0"], "--keep-days must be >= 1 (the newest day is always kept), got 0"),
    (["--before", "2026-03-04"], "--before 2026-03-04 is after the newest day of"),
    (["--before", "03/01/2026"], "--before must be a date YYYY-MM-DD, got '03/01/2026'"),
])
def test_prune_misuse_is_one_line_and_deletes_nothing(history: Path, args: list[str], message: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(history, "readings") + _files(history, "vitals")
    assert main(["history", "prune", str(history), *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert _files(history, "readings") + _files(history, "vitals") == before


def test_not_a_history_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    for target, message in ((tmp_path / "nowhere", "does not exist"), (tmp_path / "empty", "holds no history")):
        assert main(["history", "info", str(target)]) == 1
        assert message in capsys.readouterr().err
    root = tmp_path / "h"
    _write(root / "vitals" / f"date={DAYS[0]}" / "x.parquet", 1)
    with pytest.raises(HistoryError, match="give one of --before"):
        prune(root)


def test_an_unreadable_parquet_file_is_named(history: Path) -> None:
    bad = history / "vitals" / f"date={DAYS[1]}" / "broken.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(HistoryError, match=r"broken\.parquet is not a readable Parquet file"):
        summarize(history)
