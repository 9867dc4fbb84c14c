from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vitals.detectors import QuantileCalibrator, occurrence_rounds, squash


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
