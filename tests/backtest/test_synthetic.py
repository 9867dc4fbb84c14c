"""Synthetic families (vitals.backtest.synthetic): generators, ground truth, counting, and the benchmark on a tiny
size. No assertion on a detector's quality figures (they are what the benchmark reports, not targets)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vitals.backtest.synthetic import (
    ANOMALIES,
    FAMILIES,
    SPIKE_SCALES,
    Scored,
    SuiteConfig,
    SyntheticSeries,
    clean_figures,
    event_figures,
    excused_end,
    family_named,
    inject,
    make_suite,
    score_suite,
    series_rngs,
    timestamps,
)
from vitals.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
TINY = SuiteConfig(length=700, warmup=300, clean=2, injected=1, window=50, seed=3)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_family_shape_seed_and_domain(family):
    one = family.generate(series_rngs(0, 1, 0, 0)[0], 2000, np.ones(2000))
    again = family.generate(series_rngs(0, 1, 0, 0)[0], 2000, np.ones(2000))
    other = family.generate(series_rngs(1, 1, 0, 0)[0], 2000, np.ones(2000))
    assert one.shape == (2000,) and one.dtype == np.float64 and np.isfinite(one).all()
    np.testing.assert_array_equal(one, again)
    assert not np.array_equal(one, other)
    if family.integer:
        np.testing.assert_array_equal(one, np.round(one))
    if family.nonnegative:
        assert one.min() >= 0
    assert family.scale > 0 and family.per_day in (24, 288)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_gain_changes_the_noise_not_the_draws(family):
    """A family draws the same random numbers whatever the gain: a variance change leaves the past alone."""
    gain = np.ones(1000)
    gain[600:] = 3.0
    base = family.generate(series_rngs(0, 2, 0, 0)[0], 1000, np.ones(1000))
    louder = family.generate(series_rngs(0, 2, 0, 0)[0], 1000, gain)
    np.testing.assert_array_equal(base[:600], louder[:600])
    assert not np.array_equal(base[600:], louder[600:])


def test_suite_layout_and_onsets():
    suite = make_suite(TINY)
    assert len(suite) == len(FAMILIES) * (TINY.clean + TINY.injected * len(ANOMALIES))
    assert {s.values.shape for s in suite} == {(TINY.length,)}
    assert len({s.name for s in suite}) == len(suite)
    for s in suite:
        family = family_named(s.family)
        assert s.cadence_s == family.cadence_s
        if s.anomaly is None:
            assert s.onset is None and s.end is None
            continue
        assert s.onset is not None and s.end is not None
        assert TINY.warmup + TINY.window <= s.onset < TINY.length - max(family.per_day, 2 * TINY.window)
        assert s.onset < s.end <= TINY.length


def test_suite_is_reproducible_and_seeded():
    a, b, c = make_suite(TINY), make_suite(TINY), make_suite(SuiteConfig(**{**TINY.__dict__, "seed": 4}))
    assert all(np.array_equal(x.values, y.values) and x.onset == y.onset for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.values, y.values) for x, y in zip(a, c, strict=True))


def test_clean_series_are_the_family_unchanged():
    """Anomaly-free series are exactly their generator's output: nothing injected."""
    for s in make_suite(SuiteConfig(**{**TINY.__dict__, "injected": 0})):
        family = family_named(s.family)
        rng = series_rngs(TINY.seed, FAMILIES.index(family), 0, s.replicate)[0]
        np.testing.assert_array_equal(s.values, family.generate(rng, TINY.length, np.ones(TINY.length)))


@pytest.mark.parametrize("kind", ANOMALIES)
def test_injected_series_differ_only_from_the_onset(kind):
    for s in make_suite(SuiteConfig(**{**TINY.__dict__, "clean": 0, "anomalies": (kind,)})):
        family = family_named(s.family)
        rng = series_rngs(TINY.seed, FAMILIES.index(family), 1 + ANOMALIES.index(kind), s.replicate)[0]
        clean = family.generate(rng, TINY.length, np.ones(TINY.length))
        assert s.onset is not None and s.end is not None
        np.testing.assert_array_equal(s.values[:s.onset], clean[:s.onset])
        changed = np.flatnonzero(s.values != clean)
        if changed.size:  # a dip of a count at 0 or a flat day at the day's mean can leave a reading as it was
            assert changed[0] >= s.onset
        if s.end < TINY.length:
            np.testing.assert_array_equal(s.values[s.end:], clean[s.end:])


def test_anomaly_shapes_on_white_noise():
    family = family_named("white_noise")
    n, onset, window = 1000, 700, 50

    def injected(kind: str) -> tuple[np.ndarray, np.ndarray, int]:
        clean = family.generate(series_rngs(9, 0, 0, 0)[0], n, np.ones(n))
        values, end = inject(family, kind, series_rngs(9, 0, 0, 0), n=n, onset=onset, window=window)
        return clean, values, end

    clean, spike, end = injected("spike")
    assert end == onset + 1 and spike[onset] - clean[onset] == pytest.approx(SPIKE_SCALES * family.scale)
    clean, shift, end = injected("level_shift")
    assert end == n and np.allclose(shift[onset:] - clean[onset:], 3.0 * family.scale)
    _, stuck, end = injected("stuck")
    assert end == onset + window and np.all(stuck[onset:end] == stuck[onset - 1])
    _, flat, end = injected("flat_day")
    assert end == onset + family.per_day and np.ptp(flat[onset:end]) == 0
    clean, drift, end = injected("drift")
    assert end == n and np.allclose(np.diff(drift[onset:] - clean[onset:]), 0.05 * family.scale)
    clean, bursts, end = injected("bursts")
    assert end == onset + window and np.all(bursts[onset:] >= clean[onset:]) and np.any(bursts > clean)


def test_counting_found_delay_and_false_detections():
    """Hand-made scores: found within the window, delay from the onset, false outside the excused readings."""
    n, warmup, window = 1000, 300, 50
    ended = SyntheticSeries("white_noise", "stuck", 0, 300, np.zeros(n), onset=500, end=620)
    lasting = SyntheticSeries("white_noise", "level_shift", 0, 300, np.zeros(n), onset=500, end=n)
    clean = SyntheticSeries("white_noise", None, 0, 300, np.zeros(n))
    hits = [100, 400, 510, 530, 600, 700]   # 100: warm-up, never counted
    scores = np.zeros(n)
    scores[hits] = 0.5
    scored = Scored("x", [scores, scores.copy(), scores.copy()], 0.4)
    assert excused_end(ended, window) == 620 and excused_end(lasting, window) == 550
    by_kind = event_figures([ended, lasting, clean], scored, warmup, window)
    stuck, shift = by_kind["stuck"], by_kind["level_shift"]
    assert (stuck.events, stuck.found, stuck.delays) == (1, 1, (10,))
    assert stuck.false_detections == 2 and stuck.false_readings == n - warmup - 120    # 400 and 700
    assert shift.false_detections == 3 and shift.false_readings == n - warmup - window  # 400, 600, 700
    assert shift.median_delay == 10
    quiet = clean_figures([ended, lasting, clean], scored, warmup)["white_noise"]
    assert (quiet.readings, quiet.detections, quiet.series, quiet.series_with_any) == (700, 5, 1, 1)
    assert quiet.per_1000 == pytest.approx(5 / 0.7)


def test_config_is_checked():
    with pytest.raises(ConfigError, match="length - warmup"):
        SuiteConfig(length=3200, warmup=3000).check()
    with pytest.raises(ConfigError, match="unknown family"):
        make_suite(SuiteConfig(families=("nope",)))
    with pytest.raises(ConfigError, match="unknown anomalies"):
        make_suite(SuiteConfig(anomalies=("nope",)))


def test_timestamps_follow_the_cadence():
    index = timestamps(5, 3600)
    assert index[0].isoformat() == "2026-01-05T00:00:00+00:00" and (index[1] - index[0]).total_seconds() == 3600


@pytest.mark.parametrize("detector", ["default", "data_quality"])
def test_score_suite_on_a_tiny_suite(detector):
    config = SuiteConfig(**{**TINY.__dict__, "families": ("white_noise", "weekly_daily"),
                            "anomalies": ("spike", "stuck")})
    suite = make_suite(config)
    scored = score_suite(suite, detector)
    assert scored.threshold == pytest.approx(0.40)
    assert [s.shape for s in scored.scores] == [(config.length,)] * len(suite)
    assert all(np.isfinite(s).all() for s in scored.scores)
    clean = clean_figures(suite, scored, config.warmup)
    assert set(clean) == {"white_noise", "weekly_daily"}
    assert all(f.readings == config.clean * (config.length - config.warmup) for f in clean.values())
    events = event_figures(suite, scored, config.warmup, config.window)
    assert {k: v.events for k, v in events.items()} == {"spike": 2, "stuck": 2}
    assert all(0 <= v.found <= v.events and len(v.delays) == v.found for v in events.values())


def test_benchmark_runs_on_a_tiny_size():
    cmd = [sys.executable, str(REPO / "benchmarks/bench_synthetic.py"), "--detectors", "default,seasonal_baseline",
           "--length", "700", "--warmup", "300", "--window", "50", "--clean", "1", "--injected", "1",
           "--families", "white_noise,bursty_counts", "--anomalies", "spike,level_shift"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO, timeout=600).stdout
    doc = json.loads(out.strip().splitlines()[-2])
    assert set(doc["detectors"]) == {"default", "seasonal_baseline"}
    assert doc["config"]["series"] == 2 * (1 + 2)
    default = doc["detectors"]["default"]
    assert set(default["clean"]) == {"white_noise", "bursty_counts"}
    assert set(default["events"]) == {"spike", "level_shift"} and default["events_all"]["events"] == 4
    assert out.strip().splitlines()[-1].startswith("total:")
