"""Any registered detector in the NAB harness: built by name with NAB's per-file inputs where it asks for them,
run by `vitals backtest --nab DIR --detector NAME`, listed by --help."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vitals_testing import copy_nab_subset

from vitals.backtest.nab import probation_length
from vitals.backtest.nab_run import build_detector, load_nab
from vitals.cli import main
from vitals.detectors.registry import DETECTORS

FILES = ("artificialWithAnomaly/art_daily_jumpsup.csv", "realAdExchange/exchange-3_cpc_results.csv")


@pytest.fixture(scope="module")
def two_files(nab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_nab_subset(nab_dir, tmp_path_factory.mktemp("nab"), FILES)


def test_build_passes_input_range_and_probation_only_when_asked(two_files: Path) -> None:
    files = load_nab(two_files)
    cad = build_detector("contextual_novelty", files)
    np.testing.assert_array_equal(cad.get_params()["input_min"], [f.values.min() for f in files])
    np.testing.assert_array_equal(cad.get_params()["input_max"], [f.values.max() for f in files])
    np.testing.assert_array_equal(cad.get_params()["probation"], [probation_length(len(f.values)) for f in files])
    knn = build_detector("knn_cad", files, k=5)
    assert knn.get_params()["k"] == 5 and "input_min" not in knn.get_params()
    assert build_detector("windowed_gaussian", files).get_params()["window_size"] == 6400


def test_cli_runs_a_named_detector(two_files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "results", tmp_path / "report.html"
    args = ["backtest", "--nab", str(two_files), "--out", str(out), "--detector", "windowed_gaussian",
            "--report", str(report)]
    assert main(args) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["detector"] == "windowed_gaussian" and figures["files"] == 2
    for name in FILES:
        result = pd.read_csv(out / name)
        assert len(result) == len(pd.read_csv(two_files / "data" / name))
        assert result["anomaly_score"].iloc[0] == 0 and result["anomaly_score"].iloc[1:].between(0.5, 1.0).all()
    assert report.exists()


def test_help_lists_every_registered_detector(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in DETECTORS.names():
        assert name in text
