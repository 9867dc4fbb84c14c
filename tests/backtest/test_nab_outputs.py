"""NAB outputs people reuse: results CSVs with labels in input order (also with duplicated and backward
timestamps), summary.csv against an oracle, and the CLI writing both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vitals.backtest.nab import PROFILES, probation_length
from vitals.backtest.nab_run import file_summary, load_nab, run_detector, score_files
from vitals.cli import main

ROWS = 1300
FMT = "%Y-%m-%d %H:%M:%S"


def odd_timestamps() -> pd.DatetimeIndex:
    """5-minute rows with row 610 repeated twice (inside the first window) and rows 700-709 running backwards."""
    ts = pd.date_range("2024-03-01", periods=ROWS, freq="5min")
    order = np.r_[0:611, 610, 610, 611:700, 709:699:-1, 710:ROWS]
    return ts[order]


def write_file(root: Path, name: str, ts: pd.DatetimeIndex, seed: int, bumps: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    hours = np.arange(ts.size) / 12.0
    values = 20 + 5 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.5, ts.size)
    for row in bumps:
        values[row:row + 30] += 8.0
    path = root / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": ts.strftime(FMT), "value": values}).to_csv(path, index=False)


@pytest.fixture(scope="module")
def odd_nab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("odd_nab")
    odd, plain = odd_timestamps(), pd.date_range("2024-03-01", periods=ROWS, freq="5min")
    write_file(root, "synthetic/odd.csv", odd, 1, (620, 920))
    write_file(root, "synthetic/plain.csv", plain, 2, (1000,))
    windows = {"synthetic/odd.csv": [[str(odd[600]), str(odd[660])], [str(odd[900]), str(odd[960])]],
               "synthetic/plain.csv": [[str(plain[980]), str(plain[1040])]]}
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


def label_oracle(ts: pd.Series, windows: list[list[str]]) -> np.ndarray:
    """1 between a window's first start row and the first row stamped with its end (no window repeats here)."""
    label = np.zeros(len(ts), dtype=np.int64)
    for start, end in windows:
        left = int(np.flatnonzero(ts == pd.Timestamp(start))[0])
        right = int(np.flatnonzero(ts == pd.Timestamp(end))[0])
        label[left:right + 1] = 1
    return label


def test_cli_results_keep_input_rows_and_label_windows(odd_nab: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "results", tmp_path / "report.html"
    assert main(["backtest", "--nab", str(odd_nab), "--out", str(out), "--report", str(report)]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["files"] == 2 and doc["windows"] == 3
    windows = json.loads((odd_nab / "labels" / "combined_windows.json").read_text())
    for name in ("synthetic/odd.csv", "synthetic/plain.csv"):
        source = pd.read_csv(odd_nab / "data" / name)
        result = pd.read_csv(out / name)
        assert list(result.columns) == ["timestamp", "value", "anomaly_score", "label"]
        assert result["timestamp"].tolist() == source["timestamp"].tolist()  # never sorted or deduplicated
        np.testing.assert_allclose(result["value"], source["value"], rtol=1e-9)
        ts = pd.to_datetime(source["timestamp"])
        np.testing.assert_array_equal(result["label"], label_oracle(ts, windows[name]))
    odd_label = pd.read_csv(out / "synthetic/odd.csv")["label"].to_numpy()
    assert odd_label[611:613].all() and odd_label.sum() == 2 * 61  # the repeated rows are inside a window
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["file", "rows", "windows", "detected_windows", "false_positives",
                                     *(f"score_{p}" for p in PROFILES)]
    assert summary["file"].tolist() == ["synthetic/odd.csv", "synthetic/plain.csv"]
    assert summary["rows"].tolist() == [ROWS + 2, ROWS] and summary["windows"].tolist() == [2, 1]
    assert report.exists() and "synthetic/odd.csv" in report.read_text()


def test_summary_matches_an_oracle(odd_nab: Path) -> None:
    files = load_nab(odd_nab)
    run_detector(files)
    results = score_files(files)
    summary = file_summary(files, results, "standard").set_index("file")
    threshold = results["standard"].threshold
    for f in files:
        label = np.zeros(len(f.scores), dtype=bool)
        for left, right in f.windows:
            label[left:right + 1] = True
        detected = f.scores >= threshold
        detected[:probation_length(len(f.scores))] = False
        row = summary.loc[f.name]
        assert row["windows"] == len(f.windows)
        assert row["detected_windows"] == sum(bool(detected[a:b + 1].any()) for a, b in f.windows)
        assert row["false_positives"] == int((detected & ~label).sum())
    assert summary["detected_windows"].sum() >= 1
    for profile, result in results.items():  # per-file raw scores at the corpus threshold add up to the corpus
        assert summary[f"score_{profile}"].sum() == pytest.approx(result.raw)


def test_a_file_without_windows_or_detections_scores_zero_not_minus_zero(tmp_path: Path) -> None:
    """summary.csv said "-0" for the no-anomaly files (the sum of -0.0 terms); a quiet file now scores "0"."""
    root = tmp_path / "nab"
    write_file(root, "quiet/flat.csv", pd.date_range("2024-03-01", periods=ROWS, freq="5min"), 3, ())
    write_file(root, "loud/bump.csv", pd.date_range("2024-03-01", periods=ROWS, freq="5min"), 4, (1000,))
    plain = pd.date_range("2024-03-01", periods=ROWS, freq="5min")
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(
        {"quiet/flat.csv": [], "loud/bump.csv": [[str(plain[980]), str(plain[1040])]]}))
    assert main(["backtest", "--nab", str(root), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "summary.csv").read_text()
    quiet = next(line for line in text.splitlines() if line.startswith("quiet/flat.csv"))
    assert quiet == f"quiet/flat.csv,{ROWS},0,0,0,0,0,0", text
