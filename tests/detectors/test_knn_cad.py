"""kNN-CAD on small synthetic series: detections, the alarm hold, clone and pickle round trips."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detectors.reference_data import assert_clone_and_pickle_round_trip, cycle, score_one
from vitals.detectors.knn_cad import KnnCadDetector, nonconformity
from vitals.errors import ModelError

PROBATION = 300


def test_probation_scores_zero_and_scores_are_conformal_shares() -> None:
    scores = score_one(KnnCadDetector(probation=PROBATION), cycle(800, seed=1))
    assert np.all(scores[: PROBATION - 1] == 0)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.median(scores[PROBATION:]) < 0.9


@pytest.mark.parametrize("kind", ["spike", "level_shift"])
def test_detects_an_injected_anomaly(kind: str) -> None:
    values = cycle(900, seed=2)
    if kind == "spike":
        values[600] += 25.0
    else:
        values[600:] += 25.0
    scores = score_one(KnnCadDetector(probation=PROBATION), values)
    assert scores[600] >= 0.9965
    assert np.flatnonzero(scores >= 0.9965).tolist() == [600]
    hold = PROBATION // 5
    np.testing.assert_array_equal(scores[601: 601 + hold], 0.5)


def test_nonconformity_is_the_sum_of_the_k_smallest_distances() -> None:
    rng = np.random.default_rng(0)
    training, item = rng.normal(size=(40, 4)), rng.normal(size=4)
    sigma = np.linalg.inv(training.T @ training)
    direct = sorted(float((row - item) @ sigma @ (row - item)) for row in training)
    assert nonconformity(training, sigma, item, 5) == pytest.approx(sum(direct[:5]))


def test_per_series_probation_and_clone_pickle_round_trip() -> None:
    values = cycle(600, seed=3)
    values[450] -= 30.0
    assert_clone_and_pickle_round_trip(KnnCadDetector(probation=[120]), values, 300)


def test_rejects_a_probation_too_short_for_k_neighbours() -> None:
    with pytest.raises(ModelError, match="probation"):
        KnnCadDetector(probation=40).fit([], [], [], n_series=1)
