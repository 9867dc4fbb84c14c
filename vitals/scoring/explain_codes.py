"""Explanations as small integer codes in view columns, and back to label values for the exporter.

A view holds only float columns, so the detector and the feature that drove a series' score travel as codes
(``explain_detector``, ``explain_feature``); :data:`DETECTORS` and :data:`FEATURES` give their names for
``vitals_anomaly_explanation_info{detector, feature}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.detectors.data_quality import CHECKS
from vitals.detectors.window_forest import FEATURES as WINDOW_FEATURE_NAMES

DETECTORS: tuple[str, ...] = ("seasonal_baseline", "data_quality", "window_model", "range_novelty", "regime_change")
BASELINE_MODELS: tuple[str, ...] = ("flat_level", "daily_profile", "weekly_profile")
WINDOW_FEATURES: tuple[str, ...] = tuple(f"window_{name}" for name in WINDOW_FEATURE_NAMES)
RECORD_FEATURES: tuple[str, ...] = ("new_high", "new_low")
REGIME_FEATURES: tuple[str, ...] = ("volatility_up", "volatility_down")
FEATURES: tuple[str, ...] = (*(f"residual_z:{m}" for m in BASELINE_MODELS), *CHECKS, *WINDOW_FEATURES, *RECORD_FEATURES,
                             *REGIME_FEATURES)
WINDOW_DETECTOR = DETECTORS.index("window_model")
WINDOW_FEATURE_OFFSET = len(BASELINE_MODELS) + len(CHECKS)  # FEATURES code of the window model's features
RECORD_FEATURE_OFFSET = WINDOW_FEATURE_OFFSET + len(WINDOW_FEATURES)
REGIME_FEATURE_OFFSET = RECORD_FEATURE_OFFSET + len(RECORD_FEATURES)
# DefaultDetector.driver_ (0 seasonal baseline, 1 data quality, 2 range novelty, 3 regime change) -> DETECTORS code
_DRIVER_CODES = np.array([DETECTORS.index("seasonal_baseline"), DETECTORS.index("data_quality"),
                          DETECTORS.index("range_novelty"), DETECTORS.index("regime_change")], dtype=np.int64)


def detector_code(driver: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """DefaultDetector.driver_ (0 seasonal, 1 data quality, 2 range novelty, 3 regime change) as DETECTORS codes."""
    return _DRIVER_CODES[np.asarray(driver, dtype=np.int64)]


def feature_code(detector: Any, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The feature behind each row's score: the baseline model in use, the data-quality check that fired, the
    new extreme's side or the regime's direction."""
    codes = detector.model_[rows].astype(np.int64)  # the baseline model, unless another driver scored
    if not len(rows):
        return codes
    driver = detector.driver_[rows]
    # each driver's feature only for its rows (most rows are the seasonal baseline's)
    if (at := np.flatnonzero(driver == 1)).size:
        check = np.argmax(detector.check_scores_[: len(CHECKS) - 1, rows[at]], axis=0)
        codes[at] = len(BASELINE_MODELS) + check
    if (at := np.flatnonzero(driver == 2)).size:
        codes[at] = RECORD_FEATURE_OFFSET + detector.record_is_low(rows[at]).astype(np.int64)
    if (at := np.flatnonzero(driver == 3)).size:
        codes[at] = REGIME_FEATURE_OFFSET + detector.regime_is_down(rows[at]).astype(np.int64)
    return codes


def names(codes: npt.NDArray[np.floating], table: tuple[str, ...]) -> npt.NDArray[np.str_]:
    idx = np.clip(np.nan_to_num(codes, nan=0).astype(np.int64), 0, len(table) - 1)
    return np.asarray(table)[idx]
