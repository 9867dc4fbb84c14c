"""Small synthetic series for the reference detectors' tests: a noisy daily cycle with one injected anomaly."""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.base import clone

from vitals.detectors.base import Detector

STEP_NS = 300 * 1_000_000_000


def cycle(n: int, seed: int, period: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return 50.0 + 10.0 * np.sin(2 * np.pi * k / period) + rng.normal(0.0, 1.0, n)


def timestamps(n: int) -> np.ndarray:
    return np.int64(1_700_000_000) * 1_000_000_000 + np.arange(n, dtype=np.int64) * STEP_NS


def score_one(det: Detector, values: np.ndarray, fit: bool = True) -> np.ndarray:
    """Scores of one series fed reading by reading."""
    if fit:
        det.fit([], [], [], n_series=1)
    ts = timestamps(values.shape[0])
    return np.array([det.update_score([0], [ts[i]], [values[i]])[0] for i in range(values.shape[0])])


def assert_clone_and_pickle_round_trip(det: Detector, values: np.ndarray, split: int) -> None:
    """A clone scores like a fresh detector; a pickled state continues exactly like the original."""
    expected = score_one(det, values)
    np.testing.assert_array_equal(score_one(clone(det), values), expected)
    first = score_one(clone(det), values[:split])
    det.fit([], [], [], n_series=1)
    ts = timestamps(values.shape[0])
    for i in range(split):
        det.update_score([0], [ts[i]], [values[i]])
    restored = pickle.loads(pickle.dumps(det))
    rest = np.array([restored.update_score([0], [ts[i]], [values[i]])[0] for i in range(split, values.shape[0])])
    np.testing.assert_array_equal(np.concatenate([first, rest]), expected)
