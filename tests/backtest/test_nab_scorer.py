"""NAB scoring against hand-computed cases (windows, scaled sigmoid, weights, normalization)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vitals.backtest.nab import PROFILES, probation_length, scaled_sigmoid, score_corpus, window_indices
from vitals.errors import ConfigError


def sig(y: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


MAX_TP = sig(-1.0)


def one_file(n: int, windows: list[tuple[int, int]], hits: list[int], profile: str = "standard",
             probation: float = 0.0) -> float:
    scores = np.zeros(n)
    scores[hits] = 1.0
    return score_corpus({"f": (scores, windows)}, profile, threshold=0.5, probation_percent=probation).raw


def test_scaled_sigmoid_values() -> None:
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(scaled_sigmoid(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert float(scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(scaled_sigmoid(3.0)) == -1.0


def test_detection_at_window_start_is_worth_a_full_true_positive() -> None:
    assert one_file(100, [(40, 49)], [40]) == pytest.approx(1.0)


def test_detection_at_window_end() -> None:
    # position -(49 - 49 + 1) / 10 = -0.1
    assert one_file(100, [(40, 49)], [49]) == pytest.approx(sig(-0.1) / MAX_TP)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert one_file(100, [(40, 49)], [45, 42, 48]) == pytest.approx(sig(-(49 - 42 + 1) / 10) / MAX_TP)


def test_missed_window_costs_the_fn_weight() -> None:
    assert one_file(100, [(40, 49)], []) == pytest.approx(-1.0)
    assert one_file(100, [(40, 49)], [], "reward_low_FN_rate") == pytest.approx(-2.0)


def test_false_positive_before_any_window_costs_the_fp_weight() -> None:
    assert one_file(100, [(40, 49)], [10]) == pytest.approx(-1.0 - 0.11)
    assert one_file(100, [(40, 49)], [10], "reward_low_FP_rate") == pytest.approx(-1.0 - 0.22)


def test_false_positive_after_a_window_is_weighted_by_distance() -> None:
    # row 52 is 3 rows after the right edge 49 of a 10-row window: y = 3 / 9
    expected = 1.0 + 0.11 * sig(3 / 9)
    assert one_file(100, [(40, 49)], [40, 52]) == pytest.approx(expected)
    # far behind (y >= 3): a full false positive
    assert one_file(200, [(40, 49)], [40, 90]) == pytest.approx(1.0 - 0.11)


def test_probation_rows_are_not_scored() -> None:
    assert probation_length(1000) == 150
    assert probation_length(22695) == 750
    assert one_file(1000, [(500, 509)], [10, 500], probation=0.15) == pytest.approx(1.0)


def test_null_and_perfect_detectors_normalize_to_0_and_100() -> None:
    windows = {"a": [(300, 339)], "b": [(400, 419), (700, 719)]}
    perfect = {k: np.zeros(1000) for k in windows}
    for k, ws in windows.items():
        for left, _ in ws:
            perfect[k][left] = 1.0
    for profile in PROFILES:
        best = score_corpus({k: (perfect[k], windows[k]) for k in windows}, profile)
        assert best.normalized == pytest.approx(100.0)
        null = score_corpus({k: (np.full(1000, 0.5), windows[k]) for k in windows}, profile)
        assert null.normalized == pytest.approx(0.0)
        assert null.null == pytest.approx(-3 * PROFILES[profile].fn)


def test_one_threshold_is_optimized_for_the_whole_corpus() -> None:
    a = np.zeros(1000)
    a[300] = 0.9   # TP in a's window
    a[600] = 0.8   # FP
    b = np.zeros(1000)
    b[500] = 0.7   # TP in b's window
    result = score_corpus({"a": (a, [(300, 339)]), "b": (b, [(500, 519)])}, "standard")
    # at 0.7: 2 TPs at window starts and one FP 261 rows after a's window (y = 261/39 >= 3: -0.11)
    assert result.threshold == pytest.approx(0.7)
    assert result.raw == pytest.approx(2.0 - 0.11)
    assert result.per_file["a"] == pytest.approx(1.0 - 0.11)


def test_windows_match_timestamps_and_repeated_stamps() -> None:
    ts = np.array(["2024-01-01T00:00", "2024-01-01T00:05", "2024-01-01T00:05", "2024-01-01T00:10",
                   "2024-01-01T00:15"], dtype="datetime64[ns]")
    assert window_indices(ts, [("2024-01-01 00:05:00.000000", "2024-01-01 00:10:00.000000")]) == [(1, 3)]
    with pytest.raises(ConfigError):
        window_indices(ts, [("2024-01-02 00:00:00", "2024-01-02 00:05:00")])
