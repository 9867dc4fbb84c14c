"""Anomaly detectors, vectorized across series (see ``docs/detectors.md``)."""

from vitals.detectors.base import Detector, classify, occurrence_rounds
from vitals.detectors.calibration import OnlineTailCalibrator, QuantileCalibrator, SurpriseCalibrator, squash
from vitals.detectors.combined import DefaultDetector
from vitals.detectors.explain import Explanation
from vitals.detectors.notebook import NotebookDetector, make_detector, score_series
from vitals.detectors.quality import DataQualityDetector
from vitals.detectors.seasonal import SeasonalBaseline
from vitals.detectors.window_model import WindowFeatureModel, WindowScores

__all__ = [
    "DataQualityDetector", "DefaultDetector", "Detector", "Explanation", "NotebookDetector", "OnlineTailCalibrator",
    "QuantileCalibrator", "SeasonalBaseline", "SurpriseCalibrator", "WindowFeatureModel", "WindowScores",
    "classify", "make_detector", "occurrence_rounds", "score_series", "squash",
]
