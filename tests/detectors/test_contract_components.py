"""The contract of every registered calibrator, trainer and window model (discovered from the registries).

Calibrators have two shapes (offline ``fit/transform``, streaming ``allocate/update``), so each name has a
driver below; a registered calibrator without one fails :func:`test_every_calibrator_has_a_driver`.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone

from vitals.detectors.registry import CALIBRATORS, TRAINERS, WINDOW_MODELS
from vitals.errors import NotFittedError

GRID = 64  # series (one grid value each) for the monotonicity check
NS = 1_000_000_000


@dataclass(frozen=True)
class Driver:
    """How to feed raw scores of ``n`` series to a calibrator: ``start`` (fit or allocate) and ``step``."""

    start: Callable[[Any, int, np.ndarray], None]
    step: Callable[[Any, np.ndarray], np.ndarray]
    streaming: bool


DRIVERS: dict[str, Driver] = {
    "quantile": Driver(lambda c, n, train: c.fit(train.ravel()), lambda c, raw: c.transform(raw), streaming=False),
    "online_tail": Driver(lambda c, n, train: c.allocate(n),
                          lambda c, raw: c.update(np.arange(raw.size), raw, np.ones(raw.size, dtype=bool)),
                          streaming=True),
    "surprise": Driver(lambda c, n, train: c.allocate(n),
                       lambda c, raw: c.update(np.arange(raw.size), raw, np.zeros(raw.size, np.int64),
                                               np.ones(raw.size, dtype=bool)), streaming=True),
}


def training(seed: int, steps: int = 300, n: int = GRID) -> np.ndarray:
    """(steps, n) raw scores, the same row for every series so that all series share one state."""
    rng = np.random.default_rng(seed)
    return np.broadcast_to(rng.exponential(1.0, (steps, 1)), (steps, n)).copy()


def trained(name: str, train: np.ndarray) -> Any:
    driver = DRIVERS[name]
    cal = CALIBRATORS.create(name)
    driver.start(cal, train.shape[1], train)
    if driver.streaming:
        for row in train:
            driver.step(cal, row)
    return cal


def test_every_calibrator_has_a_driver() -> None:
    missing = set(CALIBRATORS.names()) - set(DRIVERS)
    assert not missing, f"add a Driver for the calibrators {sorted(missing)} to this file"


@pytest.mark.parametrize("name", sorted(DRIVERS))
class TestCalibratorContract:
    def test_clone_keeps_parameters_and_drops_state(self, name: str) -> None:
        copy = clone(trained(name, training(0)))
        assert copy.get_params() == CALIBRATORS.create(name).get_params()
        with pytest.raises(NotFittedError):
            DRIVERS[name].step(copy, np.ones(GRID))

    def test_pickle_round_trip_gives_identical_outputs(self, name: str) -> None:
        cal = trained(name, training(1))
        restored = pickle.loads(pickle.dumps(cal))
        for row in training(2, steps=50):
            np.testing.assert_array_equal(DRIVERS[name].step(cal, row), DRIVERS[name].step(restored, row))

    def test_monotone_higher_raw_never_calibrates_lower(self, name: str) -> None:
        cal = trained(name, training(3))
        grid = np.linspace(0.0, 20.0, GRID)  # series k gets grid[k], from one shared state
        out = DRIVERS[name].step(cal, grid)
        assert np.all(np.isfinite(out)) and np.all(np.diff(out) >= 0)
        assert out[-1] > out[0]


@pytest.mark.parametrize("name", TRAINERS.names())
def test_trainer_resolves_and_fits(name: str) -> None:
    trainer = TRAINERS.create(name)
    assert callable(getattr(trainer, "fit", None))
    assert getattr(trainer, "family", name) == name


def window_history(seed: int, n_series: int = 8, hours: int = 48) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = hours * 12
    t = 1_699_999_200 * NS + np.arange(steps) * 300 * NS
    v = 50.0 + rng.normal(0, 1, (steps, n_series)) + np.arange(n_series)
    return np.tile(np.arange(n_series), steps), np.repeat(t, n_series), v.ravel()


@pytest.mark.parametrize("name", WINDOW_MODELS.names())
def test_window_model_contract(name: str) -> None:
    """Clone keeps parameters, a pickle round trip scores identically, scores are finite and in [0, 1]."""
    model = WINDOW_MODELS.create(name).fit(*window_history(0), n_series=8)
    copy = clone(model)
    assert copy.get_params() == WINDOW_MODELS.create(name).get_params()
    with pytest.raises(NotFittedError):
        copy.update([0], [0], [1.0])
    s, t, v = window_history(1)
    half = s.size // 2
    model.update(s[:half], t[:half], v[:half])
    restored = pickle.loads(pickle.dumps(model))
    a, b = model.update(s[half:], t[half:], v[half:]), restored.update(s[half:], t[half:], v[half:])
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.scores.size > 0 and np.all(np.isfinite(a.scores)) and np.all((a.scores >= 0) & (a.scores <= 1))
