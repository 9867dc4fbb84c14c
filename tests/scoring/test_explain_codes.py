"""Explanation codes in view columns: ``feature_code`` (each driver's feature computed for its rows only) against
the all-rows ``np.select`` reference, on random detector states."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.detectors import DefaultDetector, kernel
from vitals.detectors.data_quality import CHECKS
from vitals.scoring.explain_codes import (
    BASELINE_MODELS,
    FEATURES,
    RECORD_FEATURE_OFFSET,
    REGIME_FEATURE_OFFSET,
    feature_code,
)

N = 64


def reference(detector: DefaultDetector, rows: np.ndarray) -> np.ndarray:
    """Every candidate feature for every row, then one picked per row by its driver (the former implementation)."""
    baseline = detector.model_[rows].astype(np.int64)
    if not len(rows):
        return baseline
    check = np.argmax(detector.check_scores_[: len(CHECKS) - 1, rows], axis=0).astype(np.int64)
    driver = detector.driver_[rows]
    low = detector.record_is_low(rows).astype(np.int64)
    down = detector.regime_is_down(rows).astype(np.int64)
    return np.select([driver == 1, driver == 2, driver == 3],
                     [len(BASELINE_MODELS) + check, RECORD_FEATURE_OFFSET + low, REGIME_FEATURE_OFFSET + down],
                     baseline)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), picks=st.lists(st.integers(0, N - 1), max_size=3 * N))
def test_feature_code_equals_the_reference(seed: int, picks: list[int]) -> None:
    rng = np.random.default_rng(seed)
    det = DefaultDetector().fit([], [], [], n_series=N)
    det.i_[:, kernel.I_DRIVER] = rng.integers(0, 4, N)
    det.i_[:, kernel.I_MODEL] = rng.integers(0, len(BASELINE_MODELS), N)
    for col in (kernel.F_IMPOSSIBLE, kernel.F_STUCK, kernel.F_SPIKE):  # 0/1 and ties, as the checks give
        det.f_[:, col] = rng.choice([0.0, 0.5, 1.0], N)
    det.f_[:, kernel.F_HIGH] = rng.normal(10, 1, N)
    det.f_[:, kernel.F_LOW] = det.f_[:, kernel.F_HIGH] - rng.exponential(2, N)
    det.f_[:, kernel.F_VALUE] = rng.normal(9, 3, N)
    det.f_[:, kernel.F_REGIME_RATIO] = rng.normal(0, 1, N)
    rows = np.array(picks, dtype=np.int64)
    got = feature_code(det, rows)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, reference(det, rows))
    assert ((got >= 0) & (got < len(FEATURES))).all()
