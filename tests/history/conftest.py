"""What the history tests share: a copy of the module's flow-written history (``flow_history``, each module's own)
to damage or compact, and both kinds read back in one order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from vitals.history import read_readings, read_vitals


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
