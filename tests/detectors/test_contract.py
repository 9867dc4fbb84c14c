"""The contract every registered detector keeps (discovered from ``DETECTORS``, as river's ``iter_estimators``):
clone, pickle round trip, finite scores, zero during warm-up, seeded determinism, better than chance (ROC-AUC)
on injected anomalies, batches equal to row-by-row updates. Calibrators, trainers and window models: see
``test_contract_components.py``."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from vitals.detectors import Detector
from vitals.detectors.registry import DETECTORS
from vitals.errors import NotFittedError

N_SERIES = 12
STEPS = 900
STEP_NS = 300 * 1_000_000_000


def city_like(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series x time matrices: daily seasonal signal plus noise, timestamps, and the injected-anomaly mask."""
    rng = np.random.default_rng(seed)
    t = np.arange(STEPS)[:, None] * STEP_NS + np.int64(1_700_000_000) * 1_000_000_000
    hours = (t // 1_000_000_000 % 86_400) / 3600.0
    level = rng.uniform(10, 100, N_SERIES)
    values = level * (1 + 0.3 * np.sin(2 * np.pi * hours / 24)) + rng.normal(0, 1, (STEPS, N_SERIES))
    mask = np.zeros((STEPS, N_SERIES), dtype=bool)
    rows = rng.choice(np.arange(400, STEPS - 5), size=(6, N_SERIES))
    mask[rows, np.arange(N_SERIES)] = True
    return np.broadcast_to(t, (STEPS, N_SERIES)).copy(), values, mask


def inject_spikes(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.copy()
    out[mask] += 25.0
    return out


def inject_impossible(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.copy()
    out[mask] = -1.0
    return out


@dataclass(frozen=True)
class Case:
    """What a test needs beyond the defaults: constructor arguments, the anomaly to inject, the ROC-AUC bar."""

    params: dict[str, Any] = field(default_factory=dict)
    inject: Callable[[np.ndarray, np.ndarray], np.ndarray] = inject_spikes
    auc_bar: float = 0.8


# Only names that need something; every other registered detector runs with its defaults (spikes, bar 0.8).
# Array parameters (per-series valid ranges, as the flow passes them) also check that clone copies arrays.
CASES: dict[str, Case] = {
    "data_quality": Case({"valid_min": np.zeros(N_SERIES)}, inject_impossible),
    # the default reports the onset of an anomaly and suppresses repeats for `refractory` readings (six spikes
    # per series fall into one such period here), so its bar is lower
    "default": Case({"valid_min": np.zeros(N_SERIES)}, auc_bar=0.7),
    # a window of a day or more: the Gaussian of a shorter one mistakes the daily cycle for anomalies
    "windowed_gaussian": Case({"window_size": 300, "step_size": 10, "warmup": 60}),
    # NAB's per-file probation (rest period probation / 5) and input range, per series
    "contextual_novelty": Case({"probation": np.full(N_SERIES, 300), "input_min": np.zeros(N_SERIES),
                                "input_max": np.full(N_SERIES, 200.0)}),
    # silent until reading `probation`: a training set of half a day
    "knn_cad": Case({"probation": np.full(N_SERIES, 150)}),
}
NAMES = DETECTORS.names()


def factory(name: str) -> Detector:
    det = DETECTORS.create(name, **CASES.get(name, Case()).params)
    assert isinstance(det, Detector), f"{name} is registered as a detector but is not a vitals Detector"
    return det


def same_params(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Parameter dicts equal, arrays compared by value."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray)
                                        else a[k] == b[k] for k in a)


def run(det: Detector, ts: np.ndarray, values: np.ndarray, start: int = 0, stop: int = STEPS) -> np.ndarray:
    series = np.arange(N_SERIES)
    rows = [det.update_score(series, ts[k], values[k]) for k in range(start, stop)]
    return np.array(rows)


def fitted(name: str) -> Detector:
    return factory(name).fit([], [], [], n_series=N_SERIES)


def injected(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts, values, mask = city_like(seed)
    return ts, CASES.get(name, Case()).inject(values, mask), mask


def test_discovers_every_registered_detector() -> None:
    assert {"default", "seasonal_baseline", "data_quality"} <= set(NAMES)
    assert set(CASES) <= set(NAMES), "a contract case names a detector that is not registered"


def test_same_params_compares_arrays_by_value() -> None:
    assert same_params({"a": np.zeros(3), "b": 1}, {"a": np.zeros(3), "b": 1})
    assert not same_params({"a": np.zeros(3), "b": 1}, {"a": np.ones(3), "b": 1})
    assert not same_params({"a": np.zeros(3)}, {"a": np.zeros(3), "b": 1})


@pytest.mark.parametrize("name", NAMES)
class TestContract:
    def test_clone_keeps_parameters_and_drops_state(self, name: str) -> None:
        # Can fail for every name (issue 13): a changed parameter or a clone that keeps the fitted state fails.
        det = fitted(name)
        copy = clone(det)
        assert same_params(copy.get_params(), factory(name).get_params())
        with pytest.raises(NotFittedError):
            copy.update_score([0], [0], [1.0])

    def test_pickle_round_trip_gives_identical_scores(self, name: str) -> None:
        ts, values, _ = injected(name, 1)
        det = fitted(name)
        run(det, ts, values, 0, 500)
        restored = pickle.loads(pickle.dumps(det))
        np.testing.assert_array_equal(run(det, ts, values, 500), run(restored, ts, values, 500))

    def test_finite_scores_and_zero_during_warmup(self, name: str) -> None:
        ts, values, _ = injected(name, 2)
        det = fitted(name)
        scores = run(det, ts, values)
        assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
        warmup = det.get_params().get("warmup")  # only detectors with a warm-up parameter promise zeros
        if warmup is not None:
            assert np.all(scores[:warmup] == 0)

    def test_seeded_determinism(self, name: str) -> None:
        ts, values, _ = injected(name, 3)
        np.testing.assert_array_equal(run(fitted(name), ts, values), run(fitted(name), ts, values))

    def test_beats_chance_on_injected_anomalies(self, name: str) -> None:
        ts, values, mask = injected(name, 4)
        scores = run(fitted(name), ts, values)
        after = slice(300, STEPS)
        assert roc_auc_score(mask[after].ravel(), scores[after].ravel()) > CASES.get(name, Case()).auc_bar

    def test_batch_with_repeated_series_equals_row_by_row(self, name: str) -> None:
        ts, values, _ = injected(name, 5)
        expected = run(fitted(name), ts, values, 0, 200)
        det = fitted(name)
        series = np.tile(np.arange(N_SERIES), 200)
        got = det.update_score(series, ts[:200].ravel(), values[:200].ravel())
        np.testing.assert_array_equal(got.reshape(200, N_SERIES), expected)
