from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.detectors import QuantileCalibrator, SurpriseCalibrator, occurrence_rounds, squash


def test_quantile_calibrator_is_monotone_and_in_unit_interval() -> None:
    rng = np.random.default_rng(0)
    train = rng.exponential(1.0, 5000)
    cal = QuantileCalibrator().fit(train)
    x = np.linspace(-1, 20, 500)
    y = cal.transform(x)
    assert np.all((y >= 0) & (y <= 1)) and np.all(np.diff(y) >= 0)
    # calibrated against the training distribution: the training median maps to about 0.5
    assert abs(float(cal.transform([np.median(train)])[0]) - 0.5) < 0.02


def test_squash_maps_to_unit_interval() -> None:
    assert squash(np.array([0.0, 10.0, np.inf, -3.0, np.nan])).tolist() == [0.0, 0.5, 1e12 / (1e12 + 10), 0.0, 0.0]


@given(st.lists(st.integers(0, 6), max_size=60))
def test_rounds_hold_each_series_once_and_keep_order(series: list[int]) -> None:
    s = np.array(series, dtype=np.int64)
    rounds = list(occurrence_rounds(s))
    seen = np.concatenate(rounds) if rounds else np.empty(0, np.int64)
    assert sorted(seen.tolist()) == list(range(len(series)))
    for pos in rounds:
        assert len(set(s[pos].tolist())) == pos.size
    for value in set(series):
        order = [p for r in rounds for p in r.tolist() if series[p] == value]
        assert order == sorted(order)


def surprise_oracle(history: np.ndarray, x: float, prior: float, tail: float, bins: int) -> float:
    """-log10 P(X >= x) from the plain (undecayed) empirical distribution of binned past positions."""
    b = min(int(x), bins - 1)
    past_bins = np.minimum(history.astype(np.int64), bins - 1)
    above = float(np.sum(past_bins > b)) + (1.0 - min(max(x - b, 0.0), 1.0)) * float(np.sum(past_bins == b))
    return float(-np.log10((above + prior * 2.0 ** (-x / tail)) / (history.size + prior)))


@given(st.lists(st.floats(0.0, 20.0, allow_nan=False), min_size=1, max_size=80))
def test_surprise_calibrator_equals_empirical_rank_on_every_prefix(xs: list[float]) -> None:
    x = np.array(xs)
    cal = SurpriseCalibrator(bins=8, sides=1, rate=0.0, prior=1.0, tail=4.0, start=0).allocate(2)
    got = [float(cal.update(np.array([1]), x[k:k + 1], np.zeros(1, np.int64), np.array([True]))[0])
           for k in range(x.size)]
    want = [surprise_oracle(x[:k], float(x[k]), 1.0, 4.0, 8) for k in range(x.size)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert cal.total_[0] == 0.0 and cal.counts_[0].sum() == 0.0   # the other series is untouched


def test_surprise_calibrator_sides_decay_and_warmup() -> None:
    cal = SurpriseCalibrator(bins=4, sides=2, rate=0.01, start=3).allocate(1)
    s, on = np.array([0]), np.array([True])
    first = [float(cal.update(s, np.array([3.0]), np.array([0]), on)[0]) for _ in range(3)]
    assert first == [0.0, 0.0, 0.0]                         # nothing before `start` readings
    up = float(cal.update(s, np.array([3.0]), np.array([0]), on)[0])
    down = float(cal.update(s, np.array([3.0]), np.array([1]), on)[0])
    assert up < 0.5 < down                                  # common upwards, never seen downwards
    assert cal.counts_.sum() == pytest.approx(cal.total_[0], rel=1e-6)
    assert cal.total_[0] == pytest.approx(sum(0.99 ** k for k in range(5)))
    frozen = cal.counts_.copy()
    cal.update(s, np.array([1.0]), np.array([0]), np.array([False]))
    np.testing.assert_array_equal(cal.counts_, frozen)       # inactive readings teach nothing


def test_surprise_grows_beyond_anything_seen() -> None:
    cal = SurpriseCalibrator(bins=16, sides=1, rate=0.0005, start=0).allocate(1)
    rng = np.random.default_rng(3)
    for x in rng.uniform(0, 4, 500):
        cal.update(np.array([0]), np.array([x]), np.array([0]), np.array([True]))
    probe = np.array([6.0, 8.0, 12.0, 30.0])
    scores = [float(copy.deepcopy(cal).update(np.array([0]), probe[k:k + 1], np.array([0]), np.array([True]))[0])
              for k in range(4)]
    assert np.all(np.diff(scores) > 0) and scores[0] > np.log10(500)
