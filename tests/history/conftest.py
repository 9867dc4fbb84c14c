"""What the history tests share: a history the flow wrote (``flow_history``: two simulated days, one run, several
files per partition; a module may define its own), a copy of it to damage or compact, and both kinds read back in
one order."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vitals.cli import main
from vitals.history import read_readings, read_vitals

INDICATORS = "water_pressure,substation_load,rainfall_1h"


@pytest.fixture(scope="package")
def flow_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two simulated days (2026-03-01 and 02, UTC) of three indicators on 38 streets replayed into a history by the
    flow (small chunks: several files per partition). Read only: tests that change it use ``history``, a copy."""
    root = tmp_path_factory.mktemp("flow-history")
    assert main(["simulate", "--days", "2", "--streets", "38", "--seed", "5", "--start", "2026-03-01T00:00:00Z",
                 "--step", "300", "--indicators", INDICATORS, "--no-progress", "--out", str(root / "r.parquet")]) == 0
    subprocess.run([sys.executable, "-m", "vitals", "replay", str(root / "r.parquet"), "--streets", "38",
                    "--metrics-port", "0", "--history-dir", str(root / "h"), "--history-chunk-rows", "2000",
                    "--no-progress", "--dead-letters", str(root / "dead.jsonl")],
                   check=True, capture_output=True, timeout=240)
    return root / "h"


@pytest.fixture
def history(flow_history: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(flow_history, tmp_path / "h"))


def read_both(root: Path) -> dict[str, pd.DataFrame]:
    """Both kinds as the readers read them, in one order (a compacted file's rows come in time order)."""
    out = {}
    for kind, read, keys in (("readings", read_readings, ["indicator", "area", "ts", "value"]),
                             ("vitals", read_vitals, ["at", "indicator", "area", "ewma"])):
        frame = read(root)
        out[kind] = frame.sort_values(keys, kind="stable").reset_index(drop=True)[sorted(frame.columns)]
    return out
