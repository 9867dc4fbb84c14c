"""A small city backtest run through the command line once per session, with its HTML report (used by the CLI
test and the report's browser test)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CityRun:
    root: Path
    figures: dict
    report: Path


@pytest.fixture(scope="session")
def city_run(tmp_path_factory: pytest.TempPathFactory) -> CityRun:
    """5 simulated hours of 38 streets with one substation overload, backtested with ``--report``."""
    from vitals.cli import main

    root = tmp_path_factory.mktemp("city")
    data = ["--hours", "5", "--streets", "38", "--seed", "4", "--start", "2026-03-02T00:00:00Z",
            "--incident", "substation_overload@jiangbei@+150m", "--no-auto-incidents"]
    assert main(["simulate", *data, "--out", str(root / "city.parquet"), "--labels", str(root / "labels.json"),
                 "--incidents", str(root / "truth.json")]) == 0
    out = root / "out.txt"
    import contextlib

    with out.open("w") as sink, contextlib.redirect_stdout(sink):
        assert main(["backtest", "--history", str(root / "city.parquet"), "--labels", str(root / "labels.json"),
                     "--incidents", str(root / "truth.json"), "--models-dir", str(REPO / "models"),
                     "--report", str(root / "reports" / "city.html")]) == 0  # a new directory: made
    figures = json.loads(out.read_text().strip().splitlines()[-1])
    return CityRun(root, figures, root / "reports" / "city.html")
