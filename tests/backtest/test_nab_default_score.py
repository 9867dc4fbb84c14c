"""The default configuration on the NAB development split reproduces its stored score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vitals.backtest.nab_cv import loco_cv
from vitals.backtest.nab_run import load_nab, run_detector, score_files

STORED = Path(__file__).with_name("nab_default_score.json")


@pytest.mark.slow
def test_default_detector_reproduces_stored_nab_score(nab_dir: Path) -> None:
    files = load_nab(nab_dir)
    run_detector(files)
    results = score_files(files)
    stored = json.loads(STORED.read_text())
    for profile, figure in stored["scores"].items():
        assert results[profile].normalized == pytest.approx(figure, abs=0.01)
        assert results[profile].threshold == pytest.approx(stored["threshold"], abs=0.005)  # the decision threshold
    scores, windows = {f.name: f.scores for f in files}, {f.name: f.windows for f in files}
    for profile, figure in stored["cv_pooled"].items():
        assert loco_cv({"default": scores}, windows, profile).pooled == pytest.approx(figure, abs=0.01)
