"""The compiled default detector against its numpy oracle, and the same scores whatever the batch split."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.default_oracle import (
    NumpyDefaultDetector,
    NumpyRegimeScore,
    clipped_range,
    routine_records,
    routine_spikes,
)
from vitals.detectors import DefaultDetector, kernel
from vitals.detectors.combined import BASELINE_MODELS
from vitals.detectors.data_quality import DataQualityDetector

N_SERIES = 5
STEPS = 700
T0 = 1_700_000_000 * 1_000_000_000


def stream(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interleaved readings of a few series: seasonal, flat with bursts, a level shift, a stuck run, skewed."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(STEPS, dtype=np.int64) * 300 * 1_000_000_000
    hours = (t // 1_000_000_000 % 86_400) / 3600.0
    cols = [10 + 3 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 0.3, STEPS),
            np.where(rng.random(STEPS) < 0.02, rng.uniform(5, 50, STEPS), 0.0),
            rng.normal(0, 1, STEPS) + np.where(np.arange(STEPS) > 450, 6.0, 0.0),
            np.where((np.arange(STEPS) > 300) & (np.arange(STEPS) < 340), 7.0, rng.normal(7, 1, STEPS)),
            rng.gamma(2.0, 1.0, STEPS)]
    values = np.column_stack(cols)
    series = np.broadcast_to(np.arange(N_SERIES), (STEPS, N_SERIES)).ravel()
    return series.copy(), np.repeat(t, N_SERIES), values.ravel()


# the numpy oracle's score is the seasonal onset: the kernel with the new-extreme score switched off
# (record_half=inf), the quality score out of the sum (it is compared check by check) and the oracle's settings
ORACLE_SETTINGS = {"record_half": np.inf, "regime_half": np.inf, "seasonal_weight": 1.0, "refractory": 500,
                   "half": 10.0,
                   "surprise_half": 3.0, "run_length": 20, "quality_weight": 0.0, "onset_margin": 0.0,
                   "decision_point": DefaultDetector.decision_threshold}


def test_kernel_matches_the_numpy_oracle() -> None:
    s, t, v = stream(3)
    new = DefaultDetector(valid_min=-100.0, **ORACLE_SETTINGS).fit([], [], [], n_series=N_SERIES)
    old = NumpyDefaultDetector(valid_min=-100.0, quality_weight=0.0).fit([], [], [], n_series=N_SERIES)
    restless = NumpyDefaultDetector(valid_min=-100.0, quality_weight=0.0, rest=0).fit([], [], [], n_series=N_SERIES)
    got, want, got_level, want_level, unrested = [], [], [], [], []
    for k in range(0, s.size, N_SERIES):
        got.append(new.update_score(s[k:k + N_SERIES], t[k:k + N_SERIES], v[k:k + N_SERIES]))
        want.append(old.update_score(s[k:k + N_SERIES], t[k:k + N_SERIES], v[k:k + N_SERIES]))
        unrested.append(restless.update_score(s[k:k + N_SERIES], t[k:k + N_SERIES], v[k:k + N_SERIES]))
        got_level.append(new.level_score_.copy())
        want_level.append(old.level_score_.copy())
    assert np.count_nonzero(np.concatenate(want)) > 10 and np.count_nonzero(np.concatenate(want_level)) > 1000
    # the rest after a detection acts here: some repeats within 30 readings of a detection are halved
    halved = np.concatenate(want) != np.concatenate(unrested)
    assert halved.any()
    np.testing.assert_array_equal(np.concatenate(want)[halved], 0.5 * np.concatenate(unrested)[halved])
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(want), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(got_level), np.concatenate(want_level), rtol=0, atol=1e-12)
    np.testing.assert_allclose(new.level_score_, old.level_score_, atol=1e-12)
    np.testing.assert_array_equal(new.check_scores_, old.quality_.check_scores_[:3])
    np.testing.assert_array_equal(new.model_, old.baseline_.model_)
    for a, b in zip(new.band(np.arange(N_SERIES)), old.baseline_.band(np.arange(N_SERIES)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("step_clip", [0.0, 4.0])
def test_regime_score_matches_its_numpy_oracle(step_clip: float) -> None:
    # the kernel's score is the regime onset alone when the seasonal, quality and new-extreme scores are off;
    # a decision point of 0.25 (mapped to the decision threshold 0.40) puts the rest's detections where it acts;
    # a step clip of 4 long mean steps acts on the bursts of series 1
    s, t, v = stream(3)
    point = 0.25
    alone = {"seasonal_weight": 0.0, "quality_weight": 0.0, "record_half": np.inf, "decision_point": point}
    regime = {"regime_warmup": 200, "regime_short": 20, "regime_long": 400, "regime_floor": 0.3,
              "regime_weight": 0.7, "regime_step_clip": step_clip}
    new = DefaultDetector(**regime, **alone, rest=30).fit([], [], [], n_series=N_SERIES)
    oracles = {rest: NumpyRegimeScore(N_SERIES, warmup=200, short=20, long=400, floor=0.3, rest=rest, threshold=point,
                                      step_clip=step_clip)
               for rest in (30, 0)}
    quality = DataQualityDetector(warmup=new.warmup).fit([], [], [], n_series=N_SERIES)
    got, want, unrested, unstuck = [], [], [], []
    for k in range(0, s.size, N_SERIES):
        part = slice(k, k + N_SERIES)
        got.append(new.update_score(s[part], t[part], v[part]))
        quality.update_score(s[part], t[part], v[part])
        stuck = quality.check_scores_[1, s[part]]
        want.append(oracles[30].update(s[part], t[part], v[part], stuck=stuck))
        unrested.append(oracles[0].update(s[part], t[part], v[part], stuck=stuck))
        unstuck.append(stuck == 0.0)
    got_all, want_all = np.concatenate(got), np.concatenate(want)
    assert np.count_nonzero(want_all) >= 2  # the level shift (series 2) and the quiet turns make new regimes
    # the stuck run of series 3 (readings 301-339) is the data-quality check's: no regime while it is a record run
    assert not np.concatenate(unstuck).all()
    assert not want_all[~np.concatenate(unstuck)].any()
    assert (want_all != np.concatenate(unrested)).any()  # repeats within 30 readings of a detection were halved
    target = DefaultDetector.decision_threshold  # the kernel's monotone map taking the decision point to 0.40
    calibrated = np.where(want_all <= point, want_all * target / point,
                          target + (want_all - point) * (1.0 - target) / (1.0 - point))
    np.testing.assert_allclose(got_all, calibrated, rtol=0, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=12), st.booleans())
def test_scores_are_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    assert_split_invariant(stream(5), N_SERIES, cuts, through_pickle)


def score_in_parts(det: DefaultDetector, s: np.ndarray, t: np.ndarray, v: np.ndarray, cuts: list[int], *,
                   through_pickle: bool) -> tuple[DefaultDetector, np.ndarray]:
    """The stream scored in batches cut after the cumulative ``cuts``, optionally pickled between batches: the
    detector at the end and the concatenated scores."""
    bounds = np.unique(np.clip(np.cumsum(cuts), 0, s.size))
    parts = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, s.size], strict=True):
        parts.append(det.update_score(s[lo:hi], t[lo:hi], v[lo:hi]))
        if through_pickle:
            det = pickle.loads(pickle.dumps(det))
    return det, np.concatenate(parts)


def assert_split_invariant(data: tuple[np.ndarray, np.ndarray, np.ndarray], n_series: int, cuts: list[int],
                           through_pickle: bool, **params: float) -> DefaultDetector:
    """The stream scored whole and in batches cut after the cumulative ``cuts`` (optionally pickled between them)
    by ``DefaultDetector(**params)``: the same scores bit for bit. Returns the detector that scored the parts."""
    s, t, v = data
    whole = DefaultDetector(**params).fit([], [], [], n_series=n_series).update_score(s, t, v)
    det = DefaultDetector(**params).fit([], [], [], n_series=n_series)
    det, parts = score_in_parts(det, s, t, v, cuts, through_pickle=through_pickle)
    np.testing.assert_array_equal(parts, whole)
    return det


STATE = ("f_", "i_", "mid_", "dev_", "slot_count_", "hist_", "run_hist_", "blocks_", "record_blocks_", "regime_blocks_")


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_scores_and_state_are_bit_identical_whatever_the_interleaving(seed: int) -> None:
    """A batch is scored series by series (sorted, batch order kept per series): an interleaving shuffled at random
    (each series' readings still in time order) gives the same scores and state as each series fed alone."""
    s, t, v = stream(5)
    slots = np.random.default_rng(seed).permutation(s.size)  # a random place in the batch for every reading
    pos = np.empty(s.size, dtype=np.int64)
    for k in range(N_SERIES):
        mine = np.flatnonzero(s == k)  # in time order: it keeps it
        pos[np.sort(slots[mine])] = mine
    assert (np.diff(s[pos]) < 0).any()  # not sorted: the sorting path runs
    together = DefaultDetector().fit([], [], [], n_series=N_SERIES)
    got = together.update_score(s[pos], t[pos], v[pos])
    alone = DefaultDetector().fit([], [], [], n_series=N_SERIES)
    want = np.empty(s.size)
    for k in range(N_SERIES):
        at = np.flatnonzero(s[pos] == k)  # one series: sorted already, scored as it comes
        want[at] = alone.update_score(s[pos][at], t[pos][at], v[pos][at])
    assert np.count_nonzero(want) > 10
    np.testing.assert_array_equal(got, want)
    for name in STATE:
        assert getattr(together, name).tobytes() == getattr(alone, name).tobytes(), name


def test_out_of_range_series_is_an_error() -> None:
    det = DefaultDetector().fit([], [], [], n_series=2)
    with pytest.raises(IndexError):
        det.update_score([2], [T0], [1.0])


def test_a_non_finite_value_scores_as_impossible_and_is_not_learned() -> None:
    s, t, v = stream(7)
    clean = DefaultDetector().fit([], [], [], n_series=N_SERIES)
    clean.update_score(s, t, v)
    dirty = DefaultDetector().fit([], [], [], n_series=N_SERIES)
    half = s.size // 2
    dirty.update_score(s[:half], t[:half], v[:half])
    bad = dirty.update_score([0, 1], [t[half], t[half]], [np.nan, np.inf])
    assert np.all((bad > 0) & (bad < dirty.decision_threshold))
    assert [e.feature for e in dirty.explain([0, 1])] == ["impossible", "impossible"]
    dirty.update_score(s[half:], t[half:], v[half:])
    np.testing.assert_array_equal(dirty.band(np.arange(2))[1], clean.band(np.arange(2))[1])


def test_a_detector_pickled_before_the_regime_score_loads_and_keeps_its_other_scores() -> None:
    s, t, v = stream(5)
    half = s.size // 2
    det = DefaultDetector(regime_weight=0.7).fit([], [], [], n_series=N_SERIES)
    det.update_score(s[:half], t[:half], v[:half])
    old = pickle.loads(pickle.dumps(det))  # the layout before the regime score: fewer columns, no regime state
    old.f_, old.i_ = old.f_[:, :32].copy(), old.i_[:, :15].copy()
    for name in ("regime_blocks_", "regime_short", "regime_long", "regime_warmup", "regime_half", "regime_weight",
                 "regime_refractory", "regime_floor", "rest", "routine_tolerance"):
        delattr(old, name)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.f_.shape == det.f_.shape and loaded.i_.shape == det.i_.shape
    assert loaded.get_params() == DefaultDetector().get_params()  # its parameters at their defaults
    # without the regime score both continue alike: it and the rest (no series resting) are the parts that start
    # fresh
    assert not loaded.i_[:, kernel.I_REST_LEFT].any()
    det.i_[:, kernel.I_REST_LEFT] = 0
    for d in (det, loaded):
        d.set_params(regime_weight=0.0, routine_tolerance=0.0)
        d.params_ = d._parameters()
    np.testing.assert_array_equal(loaded.update_score(s[half:], t[half:], v[half:]),
                                  det.update_score(s[half:], t[half:], v[half:]))


def spiky_stream(seed: int, steps: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two series of noise with a routine spike every 96 readings (+-2 of jitter): in series 0 the spike due at
    reading 1096 higher than any before, and one spike off the schedule (reading 1250); series 1 routine only."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    values = 10.0 + rng.normal(0, 1, (steps, 2))
    for col in (0, 1):
        for due in range(40, steps, 96):
            at = due + int(rng.integers(-2, 3))
            values[at:at + 2, col] += (80.0 if (col, due) == (0, 1096) else 30.0) + rng.normal(0, 1)
    values[1250, 0] += 30.0
    series = np.broadcast_to(np.arange(2), (steps, 2)).ravel()
    return series.copy(), np.repeat(t, 2), values.ravel()


def test_routine_spikes_match_their_oracle_and_score_nothing() -> None:
    s, t, v = spiky_stream(2)
    on = DefaultDetector(rest=0).fit([], [], [], n_series=2)
    off = DefaultDetector(rest=0, routine_tolerance=0.0).fit([], [], [], n_series=2)
    got, plain, z = [], [], []
    for k in range(0, s.size, 2):
        got.append(on.update_score(s[k:k + 2], t[k:k + 2], v[k:k + 2]))
        plain.append(off.update_score(s[k:k + 2], t[k:k + 2], v[k:k + 2]))
        z.append(on.z_.copy())
    got_all, plain_all, z_all = np.array(got), np.array(plain), np.array(z)
    for col in (0, 1):
        flagged = routine_spikes(z_all[:, col], spike_z=on.spike_z, tolerance=on.routine_tolerance)
        assert flagged.sum() >= 10  # the routine spikes after the first few
        assert not got_all[flagged, col].any()  # a routine spike scores nothing ...
        np.testing.assert_array_equal(got_all[~flagged, col], plain_all[~flagged, col])  # ... the rest as before
    flagged = routine_spikes(z_all[:, 0], spike_z=on.spike_z, tolerance=on.routine_tolerance)
    assert not flagged[1250]  # off its schedule: scored as without the rule
    high = int(np.argmax(v[0::2]))  # the scheduled spike higher than any before
    assert 1090 <= high <= 1100 and flagged[high] and got_all[high, 0] == 0.0
    assert plain_all[high, 0] >= DefaultDetector.decision_threshold  # without the rule: a new-extreme detection


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=1, max_size=12), st.booleans())
def test_routine_spikes_are_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    det = assert_split_invariant(spiky_stream(4), 2, cuts, through_pickle)
    assert det.i_[:, kernel.I_ONSET_N].min() == kernel.ROUTINE_INTERVALS + 1  # the rule was in play


RATE_LIMIT = 0.015  # the tried setting of record_rate_limit (docs/detectors.md)


def trending_stream(seed: int, steps: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three series of 5-minute readings: a slow trend (+0.01 noise sd per reading), a random walk, and
    stationary noise with one genuine new high (+8 sd) at reading 2500, after a long quiet."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    values = np.column_stack([50.0 + 0.01 * np.arange(steps) + rng.normal(0, 1, steps),
                              100.0 + np.cumsum(rng.normal(0, 1, steps)),
                              20.0 + rng.normal(0, 1, steps)])
    values[2500, 2] = 20.0 + 8.0
    series = np.broadcast_to(np.arange(3), (steps, 3)).ravel()
    return series.copy(), np.repeat(t, 3), values.ravel()


def test_routine_records_match_their_oracle() -> None:
    """With ``record_rate_limit``, a side's new extreme scores 0 where that side's running rate of records
    (oracle: written from the rule) exceeds the limit; every other reading's new-extreme score is as without
    the rule, and so is the state the rule does not own."""
    s, t, v = trending_stream(1)
    on = DefaultDetector(record_rate_limit=RATE_LIMIT).fit([], [], [], n_series=3)
    off = DefaultDetector().fit([], [], [], n_series=3)
    got, plain = [], []
    for k in range(0, s.size, 3):
        on.update_score(s[k:k + 3], t[k:k + 3], v[k:k + 3])
        off.update_score(s[k:k + 3], t[k:k + 3], v[k:k + 3])
        got.append(on.f_[:, kernel.F_RECORD].copy())
        plain.append(off.f_[:, kernel.F_RECORD].copy())
    got_all, plain_all = np.array(got), np.array(plain)
    gated_total = 0
    for col in range(3):
        high, low, rate_high, rate_low = routine_records(v[col::3], readings=on.record_rate_readings)
        np.testing.assert_allclose(on.f_[col, [kernel.F_RECORD_RATE_HIGH, kernel.F_RECORD_RATE_LOW]],
                                   [rate_high[-1] + (float(high[-1]) - rate_high[-1]) / on.record_rate_readings,
                                    rate_low[-1] + (float(low[-1]) - rate_low[-1]) / on.record_rate_readings],
                                   atol=1e-12)
        gated = (high & (rate_high > RATE_LIMIT)) | (low & (rate_low > RATE_LIMIT))
        near = (high & (np.abs(rate_high - RATE_LIMIT) < 1e-9)) | (low & (np.abs(rate_low - RATE_LIMIT) < 1e-9))
        free = ~gated & ~near  # (a rate within rounding of the limit: either way)
        assert not got_all[gated, col].any()
        np.testing.assert_array_equal(got_all[free, col], plain_all[free, col])
        gated_total += int((gated & (plain_all[:, col] > 0)).sum())
    assert gated_total >= 10  # the rule was in play: new extremes that scored without it
    learned = [kernel.F_LEVEL, kernel.F_EXPECTED, kernel.F_Z, kernel.F_HIGH, kernel.F_LOW]
    np.testing.assert_array_equal(on.f_[:, learned], off.f_[:, learned])  # the rule gates scores, not learning
    assert not off.f_[:, [kernel.F_RECORD_RATE_HIGH, kernel.F_RECORD_RATE_LOW]].any()  # off: the rates not kept


def test_a_trend_sets_no_new_extreme_detection_and_a_quiet_series_still_does() -> None:
    """On the trend, once the rate of records has built up (``2 * record_rate_readings`` readings), no new high
    is a detection with the rule (without it, dozens are); the random walk's fall to a handful; on the quiet
    series the rule changes no detection, and its genuine new high is detected by the new extreme."""
    s, t, v = trending_stream(1)
    found = {}
    for limit in (0.0, RATE_LIMIT):
        det = DefaultDetector(record_rate_limit=limit).fit([], [], [], n_series=3)
        out, drivers = [], []
        for k in range(0, s.size, 3):
            out.append(det.update_score(s[k:k + 3], t[k:k + 3], v[k:k + 3]))
            drivers.append(det.driver_.copy())
        novelty = (np.array(out) >= det.decision_threshold) & (np.array(drivers) == DRIVERS_RANGE_NOVELTY)
        found[limit] = novelty
        assert novelty[2500, 2]  # the genuine new high after a long quiet
    built = 2 * DefaultDetector().record_rate_readings
    assert found[0.0][built:, 0].sum() >= 20 and not found[RATE_LIMIT][built:, 0].any()
    assert found[0.0][:, 1].sum() >= 15 and found[RATE_LIMIT][:, 1].sum() <= 3
    np.testing.assert_array_equal(found[RATE_LIMIT][:, 2], found[0.0][:, 2])  # stationary: as without the rule


DRIVERS_RANGE_NOVELTY = 2


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 900), min_size=1, max_size=12), st.booleans())
def test_routine_records_are_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    assert_split_invariant(trending_stream(2), 3, cuts, through_pickle, record_rate_limit=RATE_LIMIT)


def test_a_detector_pickled_before_the_record_rate_loads_and_scores_as_before() -> None:
    s, t, v = trending_stream(3)
    half = s.size // 2
    det = DefaultDetector().fit([], [], [], n_series=3)
    det.update_score(s[:half], t[:half], v[:half])
    old = pickle.loads(pickle.dumps(det))  # the layout before the rate of records: two float columns fewer
    old.f_ = old.f_[:, :kernel.F_RECORD_RATE_HIGH].copy()
    for name in ("record_rate_limit", "record_rate_readings"):
        delattr(old, name)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.f_.shape == det.f_.shape and loaded.get_params() == DefaultDetector().get_params()
    np.testing.assert_array_equal(loaded.update_score(s[half:], t[half:], v[half:]),
                                  det.update_score(s[half:], t[half:], v[half:]))


CLIP = 2.0  # record_clip: a reading extends the learned range by at most two widths


def wild_stream(seed: int, steps: int = 1200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two series of 5-minute noise (10 + N(0, 1)): in series 0 a wild reading (+200) at 400 and, much later, a
    smaller new high (+20, beyond everything but the wild reading) at 900; in series 1 a lasting new level (+50)
    from reading 500 on."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    values = 10.0 + rng.normal(0, 1, (steps, 2))
    values[400, 0] += 200.0
    values[900, 0] += 20.0
    values[500:, 1] += 50.0
    series = np.broadcast_to(np.arange(2), (steps, 2)).ravel()
    return series.copy(), np.repeat(t, 2), values.ravel()


def test_clipped_range_matches_its_oracle() -> None:
    """With ``record_clip``, the range before each reading and the new-extreme score follow the rule's oracle;
    in the warm-up (range not yet scored) the range learns every reading whole."""
    s, t, v = wild_stream(1)
    det = DefaultDetector(record_clip=CLIP).fit([], [], [], n_series=2)
    highs, lows, records, z = [], [], [], []
    for k in range(0, s.size, 2):
        highs.append(det.f_[:, kernel.F_HIGH].copy())
        lows.append(det.f_[:, kernel.F_LOW].copy())
        det.update_score(s[k:k + 2], t[k:k + 2], v[k:k + 2])
        records.append(det.f_[:, kernel.F_RECORD].copy())
        z.append(det.z_.copy())
    steps = s.size // 2
    elapsed = (t[::2] - t[0]) / 1e9
    learned = (np.arange(steps) + 1 > det.record_warmup) & (elapsed >= det.record_warmup_s)
    for col in (0, 1):
        high, low, novelty = clipped_range(v[col::2], learned=learned, clip=CLIP)
        np.testing.assert_array_equal(np.array(highs)[1:, col], high[1:])
        np.testing.assert_array_equal(np.array(lows)[1:, col], low[1:])
        novel = novelty / (novelty + det.record_half)
        counted = np.abs(np.array(z)[:, col]) >= det.record_min_z
        np.testing.assert_allclose(np.array(records)[:, col], np.where(counted, novel, 0.0), rtol=0, atol=1e-12)
    wild = v[0::2][400]
    assert np.array(highs)[401, 0] < 0.25 * wild  # the wild reading widened the range by two widths, not to itself
    assert det.f_[1, kernel.F_HIGH] == v[1::2].max()  # a lasting new level walks the range out to itself


def test_a_new_extreme_after_a_wild_reading_is_still_news() -> None:
    """The later, smaller new high of series 0 is a new-extreme detection with the clip; without it the wild
    reading's range hides it. The wild reading itself is detected either way."""
    s, t, v = wild_stream(1)
    got = {}
    for clip in (0.0, CLIP):
        det = DefaultDetector(record_clip=clip).fit([], [], [], n_series=2)
        got[clip] = det.update_score(s, t, v).reshape(-1, 2)
    threshold = DefaultDetector.decision_threshold
    assert got[0.0][400, 0] >= threshold and got[CLIP][400, 0] >= threshold
    assert got[0.0][900, 0] < threshold <= got[CLIP][900, 0]
    np.testing.assert_array_equal(got[CLIP][:400], got[0.0][:400])  # before the wild reading: the same


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 600), min_size=1, max_size=12), st.booleans())
def test_clipped_range_is_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    assert_split_invariant(wild_stream(2), 2, cuts, through_pickle, record_clip=CLIP)


def test_a_detector_pickled_before_the_clip_loads_with_it_at_its_default() -> None:
    s, t, v = wild_stream(3)
    half = s.size // 2
    det = DefaultDetector().fit([], [], [], n_series=2)
    det.update_score(s[:half], t[:half], v[:half])
    old = pickle.loads(pickle.dumps(det))  # a detector from before the clip: no such parameter, same state
    for name in ("record_clip", "regime_step_clip"):
        delattr(old, name)
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params() == DefaultDetector().get_params()
    np.testing.assert_array_equal(loaded.update_score(s[half:], t[half:], v[half:]),
                                  det.update_score(s[half:], t[half:], v[half:]))


STEP_CLIP = 100.0  # regime_step_clip: a step counts at most 100 long mean steps (as z_cap caps the residual)


def jumpy_stream(seed: int, steps: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two series of 5-minute noise (N(0, 1)): in series 0 one wild reading (+1000) at 400 and, from reading
    1500 on (past the regime's onset memory of the wild reading), a real change of how it moves (noise sd x 6);
    series 1 the same without the wild reading."""
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    values = rng.normal(0, 1, (steps, 2))
    values[1500:] *= 6.0
    values[400, 0] += 1000.0
    series = np.broadcast_to(np.arange(2), (steps, 2)).ravel()
    return series.copy(), np.repeat(t, 2), values.ravel()


def test_a_wild_step_does_not_hide_a_later_change_of_volatility() -> None:
    """Without the clip, the one wild step of series 0 sets a volatility regime (and a long mean step) that the
    real change at reading 1500 stays below; with it, the change lies beyond every earlier regime, as it does
    in series 1, whose scores the clip does not change (no step there comes near 100 long mean steps)."""
    s, t, v = jumpy_stream(1)
    ratio, high, scores = {}, {}, {}
    for clip in (0.0, STEP_CLIP):
        det = DefaultDetector(regime_step_clip=clip).fit([], [], [], n_series=2)
        r, h, out = [], [], []
        for k in range(0, s.size, 2):
            out.append(det.update_score(s[k:k + 2], t[k:k + 2], v[k:k + 2]))
            r.append(det.f_[:, kernel.F_REGIME_RATIO].copy())
            h.append(det.f_[:, kernel.F_REGIME_HIGH].copy())
        ratio[clip], high[clip], scores[clip] = np.array(r), np.array(h), np.array(out)
    assert ratio[0.0][1500:1600, 0].max() < high[0.0][1499, 0]  # hidden by the wild step's regime
    assert ratio[STEP_CLIP][1500:1600, 0].max() > high[STEP_CLIP][1499, 0]  # beyond every earlier regime
    assert ratio[STEP_CLIP][1500:1600, 1].max() > high[STEP_CLIP][1499, 1]
    np.testing.assert_array_equal(scores[STEP_CLIP][:, 1], scores[0.0][:, 1])
    np.testing.assert_array_equal(scores[STEP_CLIP][:400], scores[0.0][:400])  # before the wild step: the same


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 800), min_size=1, max_size=12), st.booleans())
def test_step_clip_is_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    assert_split_invariant(jumpy_stream(2), 2, cuts, through_pickle, regime_step_clip=STEP_CLIP)


DAY_STEPS = 288  # readings of a day at a 5-minute spacing


def working_day_stream(seed: int, days: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], int]:
    """One series of 5-minute readings (noise sd 0.5 around 10) that rises by 20 over the working day (09:00 to
    17:00) every day; from day 5 on, every other day the rise comes five minutes early (08:55: the end of the
    profile slot before 09:00); on day 12 a rise of 20 at 03:00 for half an hour, off the routine. Returns the
    stream, the early onsets and the night rise."""
    rng = np.random.default_rng(seed)
    steps = days * DAY_STEPS
    midnight = T0 - (T0 // 1_000_000_000 % 86_400) * 1_000_000_000
    t = midnight + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    v = 10 + rng.normal(0, 0.5, steps)
    early = []
    for d in range(days):
        start = d * DAY_STEPS + 108  # 09:00
        if d >= 5 and d % 2 == 1:
            start -= 1
            early.append(start)
        v[start:d * DAY_STEPS + 204] += 20  # to 17:00
    night = 12 * DAY_STEPS + 36  # 03:00
    v[night:night + 6] += 20
    return np.zeros(steps, dtype=np.int64), t, v, early, night


def levels(det: DefaultDetector, s: np.ndarray, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unsuppressed score (``level_score_``) and the baseline model of each reading, one reading a batch."""
    out, model = np.empty(s.size), np.empty(s.size, dtype=np.int64)
    for k in range(s.size):
        det.update_score(s[k:k + 1], t[k:k + 1], v[k:k + 1])
        out[k], model[k] = det.level_score_[0], det.model_[0]
    return out, model


def test_a_routine_a_few_minutes_early_is_judged_at_the_neighbouring_phase() -> None:
    """Without the phase tolerance, a working day that starts five minutes early scores like an anomaly where the
    daily profile judges it (its slot still expects the night); with it, the reading is also judged against the
    neighbouring slot (09:00-09:15, the working day) and scores low. A rise at night, off the routine, scores the
    same either way: both neighbouring slots expect the night."""
    s, t, v, early, night = working_day_stream(0)
    off, model = levels(DefaultDetector(phase_tolerance=0.0).fit([], [], [], n_series=1), s, t, v)
    on, model_on = levels(DefaultDetector(phase_tolerance=1.0).fit([], [], [], n_series=1), s, t, v)
    np.testing.assert_array_equal(model, model_on)  # the model choice does not change
    daily = [k for k in early if model[k] == BASELINE_MODELS.index("daily_profile")]
    assert len(daily) >= 3
    threshold = DefaultDetector.decision_threshold
    assert all(off[k] >= threshold for k in daily)
    assert all(on[k] < threshold for k in daily)
    assert off[night] >= threshold
    assert on[night] == off[night]
    assert (on <= off + 1e-12).sum() > 0.99 * s.size  # it lowers point scores; only onsets may move


@pytest.mark.parametrize("need", [0, 4])
def test_the_neighbouring_slot_counts_from_phase_min_slot_count_readings(need: int) -> None:
    """A reading is judged at the neighbouring slot (its ``z`` there differs from its own) only where that slot
    has seen ``phase_min_slot_count`` readings, or with 0 once it is learned (``1 / slot_rate`` readings); the
    working day starts five minutes early on days 1 to 3, when the slot after has seen 3, 6 and 9 readings."""
    s, t, v, _, _ = working_day_stream(5, days=6)
    for d in (1, 2, 3):
        v[d * DAY_STEPS + 107] += 20
    det = DefaultDetector(phase_tolerance=1.0, phase_min_slot_count=need).fit([], [], [], n_series=1)
    ready = need if need else int(np.ceil(1.0 / det.slot_rate))
    judged = []
    for k in range(s.size):
        seen = int(det.slot_count_[0, kernel._near(int(t[k] // 1_000_000_000), det.day_slots)])
        det.update_score(s[k:k + 1], t[k:k + 1], v[k:k + 1])
        if det.f_[0, kernel.F_Z_NEAR] != det.f_[0, kernel.F_Z]:
            judged.append(seen)
    assert judged
    assert min(judged) >= ready
    if need:
        assert min(judged) < int(np.ceil(1.0 / det.slot_rate))  # a young slot counts: earlier than learned


def young_neighbour_trace(young: int) -> dict[str, np.ndarray]:
    """Per reading of a working-day stream with spikes in its first days (its slots young): the reading's ``z``,
    ``z`` at the neighbouring slot, its own slot's scale and model, and the neighbouring slot's count, centre and
    scale before the reading (the scale as the kernel floors it), with ``phase_min_slot_count=2``."""
    s, t, v, _, _ = working_day_stream(5, days=6)
    rng = np.random.default_rng(1)
    v[rng.choice(np.arange(DAY_STEPS, 4 * DAY_STEPS), 40, replace=False)] += 8
    det = DefaultDetector(phase_tolerance=1.0, phase_min_slot_count=2, phase_young_scale=young).fit(
        [], [], [], n_series=1)
    rows: dict[str, list[float]] = {key: [] for key in ("z", "z_near", "scale", "model", "count", "mid", "dev")}
    for k in range(s.size):
        n = kernel._near(int(t[k] // 1_000_000_000), det.day_slots)
        floor = 1e-9 + 1e-3 * abs(det.f_[0, kernel.F_LEVEL])
        level_scale = max(det.f_[0, kernel.F_LEVEL_DEV], floor)
        rows["count"].append(det.slot_count_[0, n])
        rows["mid"].append(det.mid_[0, n])
        rows["dev"].append(max(float(det.dev_[0, n]), 0.2 * level_scale, floor))
        det.update_score(s[k:k + 1], t[k:k + 1], v[k:k + 1])
        for key, column in (("z", kernel.F_Z), ("z_near", kernel.F_Z_NEAR), ("scale", kernel.F_SCALE)):
            rows[key].append(det.f_[0, column])
        rows["model"].append(det.model_[0])
    out = {key: np.array(values, dtype=np.float64) for key, values in rows.items()}
    out["v"] = v
    return out


@pytest.mark.parametrize("young", [1, 2, 3])
def test_a_young_neighbour_is_judged_with_a_scale_no_wider_than_its_own_slots(young: int) -> None:
    """With ``phase_young_scale``, a young neighbouring slot (from ``phase_min_slot_count`` readings, not yet
    learned) judges a reading at its centre with a scale no wider than the reading's own slot's (1 and 3: the
    smaller of the two; 2: the own slot's); with 3 only where the reading then lies inside its band (else its
    ``z`` stays its own). A learned neighbour, and every reading the rule does not judge, are judged as without
    it; without it, the young neighbour's own (wider) scale judges at least one of the stream's spikes."""
    off, on = young_neighbour_trace(0), young_neighbour_trace(young)
    for key in ("z", "scale", "model", "count", "mid", "dev"):  # the switch changes no baseline state
        np.testing.assert_array_equal(off[key], on[key])
    judged = (on["model"] == 1) & (np.abs(on["z"]) > kernel.PHASE_MIN_Z) & (on["count"] >= 2)
    is_young = judged & (on["count"] < 10)
    scale = on["scale"] if young == 2 else np.minimum(on["dev"], on["scale"])
    want = (on["v"] - on["mid"]) / scale
    if young == 3:
        want = np.where(np.abs(want) > kernel.PHASE_MIN_Z, on["z"], want)
    np.testing.assert_allclose(on["z_near"][is_young], want[is_young], rtol=1e-12)
    np.testing.assert_array_equal(on["z_near"][~is_young], off["z_near"][~is_young])
    wider = is_young & (off["dev"] > off["scale"])
    assert wider.any() and bool((np.abs(off["z_near"][wider]) < np.abs(on["z_near"][wider])).all())


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 1500), min_size=1, max_size=12), st.booleans())
def test_phase_tolerance_is_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    s, t, v, _, _ = working_day_stream(2, days=8)
    assert_split_invariant((s, t, v), 1, cuts, through_pickle, phase_tolerance=1.0)


def test_regime_novelty_by_side_matches_its_rule() -> None:
    """With ``regime_by_side``, a regime above every earlier one is measured in units of the highest earlier
    regime, one below in units of the lowest (each at least the floor), not of the whole range: the unsuppressed
    score (the regime score alone here) follows that rule reading by reading; a series that was very busy once
    and then goes calm scores its calm higher than in units of the whole range."""
    rng = np.random.default_rng(4)
    steps = 3000
    t = T0 + np.arange(steps, dtype=np.int64) * 300 * 1_000_000_000
    sd = np.ones(steps)
    sd[400:600] = 20.0
    sd[1700:] = 0.1
    v = rng.normal(0, 1, steps) * sd
    s = np.zeros(steps, dtype=np.int64)
    alone = {"seasonal_weight": 0.0, "record_half": np.inf, "routine_tolerance": 0.0}
    got: dict[float, np.ndarray] = {}
    for side in (0.0, 1.0):
        det = DefaultDetector(regime_by_side=side, **alone).fit([], [], [], n_series=1)
        level, ratio, high, low, count = [], [], [], [], []
        for k in range(steps):
            high.append(det.f_[0, kernel.F_REGIME_HIGH])
            low.append(det.f_[0, kernel.F_REGIME_LOW])
            count.append(det.i_[0, kernel.I_REGIME_COUNT])
            det.update_score(s[k:k + 1], t[k:k + 1], v[k:k + 1])
            level.append(det.level_score_[0])
            ratio.append(det.f_[0, kernel.F_REGIME_RATIO])
        got[side] = np.array(level)
        if side:
            r = np.array(ratio)
            r = np.where(np.abs(r) < det.regime_floor, 0.0, r)
            hi, lo = np.array(high), np.array(low)
            novelty = np.maximum(np.maximum((r - hi) / np.maximum(hi, det.regime_floor),
                                            (lo - r) / np.maximum(-lo, det.regime_floor)), 0.0)
            scored = (np.array(count) >= det.regime_warmup) & (t - t[0] >= 86_400 * 1_000_000_000)
            raw = np.where(scored, det.regime_weight * novelty / (novelty + det.regime_half), 0.0)
            point, target = det.decision_point, DefaultDetector.decision_threshold
            want = np.where(raw <= point, raw * target / point, target + (raw - point) * (1.0 - target) / (1.0 - point))
            np.testing.assert_allclose(got[side], want, rtol=0, atol=1e-12)
    assert got[1.0][1700:].max() > got[0.0][1700:].max() > 0.0


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 800), min_size=1, max_size=12), st.booleans())
def test_regime_by_side_is_bit_identical_whatever_the_batch_split(cuts: list[int], through_pickle: bool) -> None:
    assert_split_invariant(jumpy_stream(2), 2, cuts, through_pickle, regime_by_side=1.0)


def test_a_detector_pickled_before_the_phase_tolerance_loads_with_the_switches_off() -> None:
    """A detector pickled before the switches (no such parameters, one float column fewer) loads at the defaults
    (both off) and scores on as one that had them from the start."""
    s, t, v, _, _ = working_day_stream(3, days=6)
    half = s.size // 2
    det = DefaultDetector().fit([], [], [], n_series=1)
    det.update_score(s[:half], t[:half], v[:half])
    old = pickle.loads(pickle.dumps(det))
    for name in ("phase_tolerance", "regime_by_side", "phase_min_slot_count", "phase_young_scale"):
        delattr(old, name)
    old.f_ = old.f_[:, :kernel.F_Z_NEAR].copy()
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded.get_params() == DefaultDetector().get_params()
    assert loaded.f_.shape == det.f_.shape
    np.testing.assert_array_equal(loaded.update_score(s[half:], t[half:], v[half:]),
                                  det.update_score(s[half:], t[half:], v[half:]))
