"""The default combination: a moderate lasting shift is found by the run score and explained as a run; the
|z| cap keeps one first burst of a flat series from dominating its calibration."""

from __future__ import annotations

import numpy as np

from vitals.detectors import DefaultDetector
from vitals.detectors.kernel import F_C_CENTRE

STEP_NS = 300 * 1_000_000_000
T0_NS = 1_700_000_000 * 1_000_000_000


def score_matrix(values: np.ndarray, det: DefaultDetector, watch: int, after: int) -> tuple[np.ndarray, dict]:
    n, k = values.shape
    det.fit([], [], [], n_series=k)
    scores = np.zeros((n, k))
    features: dict[int, str] = {}
    best = -1.0
    for row in range(n):
        scores[row] = det.update_score(np.arange(k), np.full(k, T0_NS + row * STEP_NS), values[row])
        if row >= after and scores[row, watch] > best:
            best = float(scores[row, watch])
            features = {e.series: e.feature for e in det.explain(np.arange(k))}
    return scores, features


def test_lasting_two_sigma_shift_is_detected_by_the_run_score() -> None:
    rng = np.random.default_rng(11)
    values = rng.normal(0.0, 1.0, (2400, 4))
    values[2000:, 0] += 2.0
    # the run mechanism alone: without the new-extreme and regime scores (both also fire on early records of
    # plain noise)
    scores, features = score_matrix(values, DefaultDetector(record_half=np.inf, regime_half=np.inf), watch=0,
                                    after=2000)
    noise_peak = scores[300:2000].max()
    detections = np.flatnonzero(scores[2000:2100, 0] >= DefaultDetector.decision_threshold)
    assert scores[2000:2100, 0].max() > noise_peak + 0.02
    # one detection: the run's score creeps on past the onset margin 16 readings later, the rest halves that repeat
    assert detections.size == 1
    assert scores[2000:, 1:].max() <= noise_peak + 0.01
    assert features[0].startswith("residual_run:")


def test_z_cap_keeps_the_first_burst_of_a_flat_series_from_dominating_its_calibration() -> None:
    rng = np.random.default_rng(5)
    values = np.where(rng.random((3000, 2)) < 0.01, rng.uniform(1, 3, (3000, 2)), 0.0)
    values[:400] = 0.0
    values[400, :] = 3.0                                    # the first burst ever: |z| ~ 1e9 uncapped
    capped, uncapped = DefaultDetector(), DefaultDetector(z_cap=1e12)
    score_matrix(values, capped, watch=0, after=0)
    score_matrix(values, uncapped, watch=0, after=0)
    # uncapped, one reading keeps the typical sqrt|z| at ~17 for 2,500 readings; capped it is back near 0
    assert np.all(capped.f_[:, F_C_CENTRE] < 1.0) and np.all(uncapped.f_[:, F_C_CENTRE] > 10.0)


def test_a_new_extreme_beyond_the_range_of_routine_bursts_is_detected_and_explained() -> None:
    rng = np.random.default_rng(3)
    bursts = rng.choice([5.0, 7.5, 10.0], size=(3000, 2))  # routine bursts of a few fixed heights
    values = np.where(rng.random((3000, 2)) < 0.02, bursts, rng.normal(1.0, 0.1, (3000, 2)))
    values[2500, 0] = 14.0                                 # higher than every routine burst before it
    scores, features = score_matrix(values, DefaultDetector(), watch=0, after=2500)
    assert scores[2500, 0] >= DefaultDetector.decision_threshold
    assert features[0] == "new_high"
    assert scores[1000:, 1].max() < DefaultDetector.decision_threshold  # routine bursts alone: no detection


def test_the_first_day_of_a_daily_cycle_sets_no_new_extremes() -> None:
    """A daily cycle climbs past its own range every hour of its first day: the range is learned for a day."""
    minutes = np.arange(3 * 1440)
    rng = np.random.default_rng(8)
    values = (50 + 20 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 0.5, minutes.size))[:, None]
    ts = T0_NS + minutes * 60 * 1_000_000_000
    series = np.zeros(minutes.size, np.int64)

    def record_scores(**params: float) -> np.ndarray:  # the new-extreme score alone
        det = DefaultDetector(seasonal_weight=0.0, quality_weight=0.0, **params).fit([], [], [], n_series=1)
        return det.update_score(series, ts, values[:, 0])

    assert record_scores()[:1440].max() == 0.0                    # the first day: the range is being learned
    assert record_scores(record_warmup_s=0.0)[:1440].max() >= DefaultDetector.decision_threshold  # else it fires


def test_a_new_extreme_the_seasonal_baseline_expects_is_no_news() -> None:
    """A daily cycle that grows a little from day 3 sets new highs at its peaks, each where the daily profile
    expects it (|z| < record_min_z): the new extreme does not score them; without the rule it detects them."""
    minutes = np.arange(0, 6 * 1440, 5)
    rng = np.random.default_rng(4)
    values = 50 + 20 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 0.5, minutes.size)
    values *= 1 + 0.0004 * np.maximum(minutes / 1440 - 3, 0)
    ts = T0_NS + minutes * 60 * 1_000_000_000
    series = np.zeros(minutes.size, np.int64)

    def record_scores(**params: float) -> np.ndarray:  # the new-extreme score alone
        det = DefaultDetector(seasonal_weight=0.0, quality_weight=0.0, regime_weight=0.0, **params)
        return det.fit([], [], [], n_series=1).update_score(series, ts, values)

    assert DefaultDetector().record_min_z == 1.5
    assert record_scores().max() == 0.0
    assert record_scores(record_min_z=0.0).max() >= DefaultDetector.decision_threshold


def test_a_series_that_turns_jumpy_or_quiet_is_a_regime_change_and_explained() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(10.0, 1.0, (1500, 4))
    values[1200:, 0] = 10.0 + rng.normal(0.0, 4.0, 300)      # the same level, four times the noise
    values[1200:, 1] = 10.0 + rng.normal(0.0, 0.05, 300)     # the same level, almost no noise
    values[1200:, 3] = values[1199, 3]                       # a stuck sensor: the data-quality check's, no regime
    alone = {"record_half": np.inf, "seasonal_weight": 0.0, "quality_weight": 0.0, "regime_weight": 0.7}
    det = DefaultDetector(**alone)  # the regime score alone
    scores, _ = score_matrix(values, det, watch=0, after=1200)
    threshold = det.decision_threshold
    assert scores[1200:1300, 0].max() >= threshold and scores[1200:1300, 1].max() >= threshold
    assert scores[:1200].max() < threshold and scores[:, 2].max() < threshold and scores[:, 3].max() < threshold
    first = [int(np.argmax(scores[1200:, j] >= threshold)) + 1200 for j in (0, 1)]
    again = DefaultDetector(**alone)
    score_matrix(values[: first[0] + 1], again, watch=0, after=0)
    assert [(e.detector, e.feature) for e in again.explain([0], threshold)] == [("regime_change", "volatility_up")]
    again = DefaultDetector(**alone)
    score_matrix(values[: first[1] + 1], again, watch=1, after=0)
    assert [(e.detector, e.feature) for e in again.explain([1], threshold)] == [("regime_change", "volatility_down")]
