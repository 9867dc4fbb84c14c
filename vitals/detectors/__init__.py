"""Anomaly detectors, vectorized across series (see ``docs/detectors.md``).

The names below are loaded on first use (PEP 562), so ``import vitals.detectors.registry`` (what the CLI needs
to list detector names) does not import scikit-learn, pandas or numba.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitals.detectors.base import Detector, classify, occurrence_rounds
    from vitals.detectors.calibration import OnlineTailCalibrator, QuantileCalibrator, SurpriseCalibrator, squash
    from vitals.detectors.combined import DefaultDetector
    from vitals.detectors.data_quality import DataQualityDetector
    from vitals.detectors.explain import Explanation
    from vitals.detectors.notebook import NotebookDetector, make_detector, score_series
    from vitals.detectors.seasonal import SeasonalBaseline
    from vitals.detectors.window_forest import WindowFeatureModel, WindowScores

_HOMES = {
    "Detector": "base", "classify": "base", "occurrence_rounds": "base",
    "OnlineTailCalibrator": "calibration", "QuantileCalibrator": "calibration", "SurpriseCalibrator": "calibration",
    "squash": "calibration", "DefaultDetector": "combined", "Explanation": "explain",
    "NotebookDetector": "notebook", "make_detector": "notebook", "score_series": "notebook",
    "DataQualityDetector": "data_quality", "SeasonalBaseline": "seasonal", "WindowFeatureModel": "window_forest",
    "WindowScores": "window_forest",
}

__all__ = [
    "DataQualityDetector", "DefaultDetector", "Detector", "Explanation", "NotebookDetector", "OnlineTailCalibrator",
    "QuantileCalibrator", "SeasonalBaseline", "SurpriseCalibrator", "WindowFeatureModel", "WindowScores",
    "classify", "make_detector", "occurrence_rounds", "score_series", "squash",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        msg = f"module 'vitals.detectors' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"vitals.detectors.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
