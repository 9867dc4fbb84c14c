"""Windowed Gaussian: checked against a direct numpy computation of its definition on every reading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.detectors.reference_data import assert_clone_and_pickle_round_trip, cycle, score_one
from vitals.detectors.windowed_gaussian import WindowedGaussianDetector
from vitals.errors import ModelError


def oracle(values: np.ndarray, window: int, step: int) -> np.ndarray:
    """Reading i against readings [0, i) while the window grows, then [k*step, window + k*step)."""
    out = np.zeros(values.shape[0])
    for i in range(1, values.shape[0]):
        k = (i - window) // step if i >= window else 0
        past = values[k * step: min(i, window + k * step)]
        std = float(np.std(past)) or 1e-6
        z = abs(values[i] - float(np.mean(past))) / std
        out[i] = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
    return out


@pytest.mark.parametrize(("window", "step"), [(50, 7), (40, 1), (30, 30)])
def test_matches_the_definition_on_every_reading(window: int, step: int) -> None:
    values = cycle(400, seed=3)
    values[200:220] = 50.0          # a flat stretch: std 0 -> 1e-6 once the window holds only it
    got = score_one(WindowedGaussianDetector(window_size=window, step_size=step), values)
    np.testing.assert_allclose(got, oracle(values, window, step), rtol=1e-12, atol=1e-15)


def test_constant_start_uses_the_minimum_std() -> None:
    values = np.array([5.0, 5.0, 5.0, 5.0 + 1e-6])
    got = score_one(WindowedGaussianDetector(window_size=10, step_size=2), values)
    np.testing.assert_allclose(got, [0.0, 0.5, 0.5, 1.0 - 0.5 * math.erfc(1 / math.sqrt(2.0))])


def test_spike_scores_highest() -> None:
    values = cycle(600, seed=4)
    values[450] += 40.0
    scores = score_one(WindowedGaussianDetector(window_size=300, step_size=10), values)
    assert int(np.argmax(scores[100:])) + 100 == 450
    assert scores[450] > 0.9999


def test_warmup_and_non_finite_readings_score_zero() -> None:
    values = cycle(100, seed=5)
    values[70] = np.nan
    scores = score_one(WindowedGaussianDetector(window_size=50, step_size=5, warmup=20), values)
    assert np.all(scores[:20] == 0) and scores[70] == 0 and np.all(scores[20:70] > 0.5)


def test_clone_and_pickle_round_trip() -> None:
    values = cycle(500, seed=6)
    values[300] -= 30.0
    assert_clone_and_pickle_round_trip(WindowedGaussianDetector(window_size=120, step_size=9), values, 250)


def test_rejects_a_step_larger_than_the_window() -> None:
    with pytest.raises(ModelError, match="step_size"):
        WindowedGaussianDetector(window_size=10, step_size=20).fit([], [], [], n_series=1)
