"""The array implementation of the contextual-novelty memory scores exactly like the object-by-object oracle
(written as the published CAD OSE code is), on series that grow thousands of contexts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.detectors.contextual_novelty_oracle import oracle_scores
from tests.detectors.reference_data import cycle, score_one
from vitals.detectors.contextual_novelty import ContextualNoveltyDetector


def random_walk(n: int, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=n))


def spiky(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = cycle(n, seed)
    values[rng.choice(n, 20, replace=False)] += 30.0
    values[n // 2:] -= 8.0
    return values


@pytest.mark.parametrize(("series", "probation"), [(random_walk(1500, 1), 225), (spiky(1500, 2), 750),
                                                   (cycle(1200, 3), 180)], ids=["walk", "spiky", "cycle"])
def test_array_memory_matches_the_oracle(series: np.ndarray, probation: int) -> None:
    lo, hi = float(series.min()), float(series.max())
    det = ContextualNoveltyDetector(input_min=lo, input_max=hi, probation=probation)
    np.testing.assert_array_equal(score_one(det, series), oracle_scores(series, lo, hi, probation))
