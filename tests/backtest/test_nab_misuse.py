"""A NAB directory put together by hand: a CSV of other columns, an empty one, a header only, a value or a
timestamp that does not parse, a labels file missing, corrupt, or without an entry for a data file. Each is one
line naming the file (and the line) from `vitals backtest --nab`; before, pandas' traceback, or (labels missing or
not naming the file) a NAB score of 0 computed without any window and printed as a result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from vitals.backtest.nab_run import load_nab
from vitals.cli import main
from vitals.errors import ConfigError

ROWS = 400
NAME = "synthetic/flat.csv"


def _nab(root: Path) -> Path:
    ts = pd.date_range("2024-03-01", periods=ROWS, freq="5min")
    data = root / "data" / NAME
    data.parent.mkdir(parents=True)
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": 1.0 + (pd.RangeIndex(ROWS) % 7)}).to_csv(
        data, index=False)
    (root / "labels").mkdir()
    window = [f"{ts[300]:%Y-%m-%d %H:%M:%S}.000000", f"{ts[320]:%Y-%m-%d %H:%M:%S}.000000"]
    (root / "labels" / "combined_windows.json").write_text(json.dumps({NAME: [window]}))
    return root


def _rewrite_line(k: int, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / "data" / NAME
        lines = path.read_text().splitlines()
        lines[k] = text
        path.write_text("\n".join(lines) + "\n")
    return edit


CASES = {
    "other columns": (lambda r: (r / "data" / NAME).write_text("time,val\n2024-03-01 00:00:00,1\n"),
                      rf"{NAME} needs the columns timestamp,value \(NAB's data files\); it has time,val"),
    "empty file": (lambda r: (r / "data" / NAME).write_text(""), rf"{NAME} does not read as a CSV file"),
    "header only": (lambda r: (r / "data" / NAME).write_text("timestamp,value\n"), rf"{NAME} has a header but no rows"),
    "bad value": (_rewrite_line(5, "2024-03-01 00:20:00,abc"),
                  rf"{NAME} line 6: value 'abc' is not a number \(1 such row\(s\)\)"),
    "bad timestamp": (_rewrite_line(3, "yesterday,2"), rf"{NAME} line 4: timestamp 'yesterday' is not a time"),
    "no labels file": (lambda r: (r / "labels" / "combined_windows.json").unlink(),
                       r"no labels file .*combined_windows.json: NAB scores need the label windows"),
    "labels of another file": (lambda r: (r / "labels" / "combined_windows.json").write_text('{"other/x.csv": []}'),
                               rf"combined_windows.json has no entry for {NAME}: every data file needs one"),
    "corrupt labels": (lambda r: (r / "labels" / "combined_windows.json").write_text('{"synthetic/'),
                       r"labels file .*combined_windows.json does not read as JSON"),
    "labels not a mapping": (lambda r: (r / "labels" / "combined_windows.json").write_text(f'{{"{NAME}": 3}}'),
                             r"must map each data file \(<category>/<file>.csv\) to a list"),
    "window off the rows": (lambda r: (r / "labels" / "combined_windows.json").write_text(json.dumps(
        {NAME: [["2099-01-01 00:00:00.000000", "2099-01-02 00:00:00.000000"]]})),
        rf"{NAME}: label window \[2099-01-01 00:00:00.000000, .*\] does not match any row timestamps"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_line_naming_the_file(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    edit, message = CASES[case]
    root = _nab(tmp_path / "nab")
    edit(root)
    with pytest.raises(ConfigError, match=message):
        load_nab(root)
    assert main(["backtest", "--nab", str(root), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("vitals backtest: error: ") and captured.err.count("\n") == 1
    assert not (tmp_path / "out" / "summary.csv").exists()


def test_the_intact_directory_scores_and_an_empty_value_stays_a_gap(tmp_path: Path) -> None:
    root = _nab(tmp_path / "nab")
    _rewrite_line(5, "2024-03-01 00:20:00,")(root)
    (f,) = load_nab(root)
    assert f.name == NAME and len(f.values) == ROWS and f.windows == [(300, 320)]
    assert pd.isna(f.values[4]) and int(pd.isna(f.values).sum()) == 1
    (root / "labels" / "combined_windows.json").unlink()
    assert load_nab(root, labels_required=False)[0].windows == []  # scores only (the causality test)


@pytest.mark.parametrize("extra", [["--nab", "{nab}", "--out", "{out}"], ["--detector", "knn_cad"], ["--out", "{out}"]])
def test_options_of_both_backtests_are_refused(tmp_path: Path, extra: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Before: with --history and --labels the city backtest ran and --nab, --out and --detector were ignored
    without a word (a --detector knn_cad run reported the default detector's city figures)."""
    root = _nab(tmp_path / "nab")
    given = [a.format(nab=root, out=tmp_path / "out") for a in extra]
    argv = ["backtest", "--history", str(tmp_path / "history"), "--labels", str(tmp_path / "labels.json"), *given]
    assert main(argv) == 2
    err = capsys.readouterr().err
    flags = ", ".join(a for a in given if a.startswith("--"))
    verb = "belongs" if flags.count("--") == 1 else "belong"
    assert err == (f"vitals backtest: {flags} {verb} to the NAB backtest and --history, --labels to the city "
                   "backtest: give the options of one\n")
    assert not (tmp_path / "out").exists()
