"""Anomaly detectors, vectorized across series (see ``docs/detectors.md``).

The names below are imported on first use (PEP 562): importing a submodule such as
:mod:`vitals.detectors.registry` (which `vitals backtest --help` lists) must not pull in scikit-learn, scipy and
numba, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitals.detectors.base import Detector, classify, occurrence_rounds
    from vitals.detectors.calibration import OnlineTailCalibrator, QuantileCalibrator, SurpriseCalibrator, squash
    from vitals.detectors.combined import DefaultDetector
    from vitals.detectors.explain import Explanation
    from vitals.detectors.notebook import NotebookDetector, make_detector, score_series
    from vitals.detectors.quality import DataQualityDetector
    from vitals.detectors.seasonal import SeasonalBaseline
    from vitals.detectors.window_model import WindowFeatureModel, WindowScores

_WHERE = {
    "Detector": "base", "classify": "base", "occurrence_rounds": "base",
    "OnlineTailCalibrator": "calibration", "QuantileCalibrator": "calibration", "SurpriseCalibrator": "calibration",
    "squash": "calibration", "DefaultDetector": "combined", "Explanation": "explain",
    "NotebookDetector": "notebook", "make_detector": "notebook", "score_series": "notebook",
    "DataQualityDetector": "quality", "SeasonalBaseline": "seasonal",
    "WindowFeatureModel": "window_model", "WindowScores": "window_model",
}

__all__ = [
    "DataQualityDetector", "DefaultDetector", "Detector", "Explanation", "NotebookDetector", "OnlineTailCalibrator",
    "QuantileCalibrator", "SeasonalBaseline", "SurpriseCalibrator", "WindowFeatureModel", "WindowScores",
    "classify", "make_detector", "occurrence_rounds", "score_series", "squash",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
