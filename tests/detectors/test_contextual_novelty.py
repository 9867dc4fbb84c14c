"""Contextual novelty (CAD OSE-like) on small synthetic series: a new pattern scores, rest periods hold,
the NAB input range and the running range, clone and pickle round trips."""

from __future__ import annotations

import numpy as np

from tests.detectors.reference_data import assert_clone_and_pickle_round_trip, cycle, score_one
from vitals.detectors.contextual_novelty import ContextualNoveltyDetector, py2_tuple_hash, sensor_facts

PROBATION = 250          # rest period 50


def square(n: int) -> np.ndarray:
    """A repeating pattern over the 8 levels of the range [0, 7]."""
    return np.tile([0.0, 0.0, 3.0, 3.0, 7.0, 7.0, 5.0, 1.0], n // 8 + 1)[:n].copy()


def test_learned_pattern_goes_quiet_and_a_break_scores() -> None:
    values = square(800)
    values[600] = 6.0
    det = ContextualNoveltyDetector(input_min=0.0, input_max=7.0, probation=PROBATION)
    scores = score_one(det, values)
    assert np.all(scores[:50] == 0)
    assert np.all(scores[300:600] == 0)
    assert scores[600] > 0.5


def test_rest_period_silences_the_readings_after_a_high_score() -> None:
    values = square(900)
    values[600] = 6.0
    values[620] = 2.0
    scores = score_one(ContextualNoveltyDetector(input_min=0.0, input_max=7.0, probation=PROBATION), values)
    assert scores[600] >= 0.75 and scores[620] == 0


def test_noisy_cycle_with_a_level_shift() -> None:
    values = cycle(2000, seed=1)
    values[1500:] += 12.0
    det = ContextualNoveltyDetector(input_min=values.min(), input_max=values.max(), probation=PROBATION)
    scores = score_one(det, values)
    assert scores[1500:1520].max() > np.quantile(scores[1000:1500], 0.99)


def test_running_range_without_an_input_range() -> None:
    values = square(800) + 10.0
    values[600] = 16.0
    with_range = score_one(ContextualNoveltyDetector(input_min=10.0, input_max=17.0, probation=PROBATION), values)
    running = score_one(ContextualNoveltyDetector(probation=PROBATION), values)
    for scores in (with_range, running):      # the running range is complete after 5 readings
        assert np.all(scores[300:600] == 0) and scores[600] > 0.5


def test_encoding_and_python2_hash() -> None:
    assert sensor_facts(5, 3) == (65537, 65538, 65541)
    assert py2_tuple_hash(()) == 3527539           # hash(()) in Python 2.7, 64-bit
    assert py2_tuple_hash((1, 2)) == 3713081631934410656


def test_clone_and_pickle_round_trip() -> None:
    values = cycle(700, seed=2)
    values[500:] -= 15.0
    det = ContextualNoveltyDetector(input_min=[values.min()], input_max=[values.max()], probation=PROBATION)
    assert_clone_and_pickle_round_trip(det, values, 400)
