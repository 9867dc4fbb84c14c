"""Synthetic series families with known ground truth: data no detector was tuned on.

Two kinds of series, every one of them from a fixed seed:

* *clean* series of a family (:data:`FAMILIES`): anomaly-free by construction, so every detection after the
  warm-up is a false one;
* *injected* series: the same family with one anomaly of a kind in :data:`ANOMALIES` from a known onset (after
  the warm-up), so a detection soon after the onset is a true one.

Each family has a noise ``scale`` (the standard deviation of one reading's noise as generated; one step for the
random walk, one level for the integer levels): anomalies are sized in it (a spike of 6 scales, a level shift of
3). Integer families stay integer after an injection, non-negative ones stay non-negative (a dip of a count is
clipped at 0). Before its onset an injected series is what its family generates from the same generator, the
variance change included (a family draws the same random numbers whatever the noise gain); the onset and the
anomaly's own draws come from a second generator.

:func:`evaluate` scores a suite with a registered detector through
:func:`vitals.detectors.notebook.score_series` (one wide frame per cadence, the decision being that of
``score_series``: the detector's ``decision_threshold``, else 0.40) and counts detections; the benchmark
``benchmarks/bench_synthetic.py`` prints the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.signal import lfilter

from vitals.errors import ConfigError

FloatArray = npt.NDArray[np.float64]
Generator = Callable[[np.random.Generator, int, FloatArray], FloatArray]

START = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday
FIVE_MINUTES = 300
HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class Family:
    """One anomaly-free series family: ``generate(rng, n, gain)`` -> n readings (``gain`` scales the noise)."""

    name: str
    cadence_s: int
    scale: float
    generate: Generator
    integer: bool = False
    nonnegative: bool = False
    burst_height: float = 4.0  # an injected burst's height in scales (the family's routine bursts where it has some)

    @property
    def per_day(self) -> int:
        return DAY // self.cadence_s


@dataclass(frozen=True)
class SyntheticSeries:
    """One generated series; ``anomaly`` None for a clean series, else its kind, onset and end (exclusive)."""

    family: str
    anomaly: str | None
    replicate: int
    cadence_s: int
    values: FloatArray = field(repr=False)
    onset: int | None = None
    end: int | None = None

    @property
    def name(self) -> str:
        return f"{self.family}/{self.anomaly or 'clean'}/{self.replicate}"


@dataclass(frozen=True)
class SuiteConfig:
    """Sizes of a suite: readings per series, warm-up, clean series per family, injected per family and kind."""

    length: int = 5000
    warmup: int = 3000
    clean: int = 5
    injected: int = 2
    window: int = 100
    seed: int = 0
    families: tuple[str, ...] = ()   # empty: all
    anomalies: tuple[str, ...] = ()  # empty: all

    def check(self) -> None:
        free = self.length - self.warmup
        if self.window < 1 or free < 2 * self.window + DAY // FIVE_MINUTES:
            msg = (f"need length - warmup >= 2 * window + 288 readings (room for the onset and a flat day), got "
                   f"length {self.length}, warmup {self.warmup}, window {self.window}")
            raise ConfigError(msg)
        for name in self.families:
            family_named(name)
        unknown = sorted(set(self.anomalies) - set(ANOMALIES))
        if unknown:
            msg = f"unknown anomalies {unknown}; known: {', '.join(ANOMALIES)}"
            raise ConfigError(msg)


# ----------------------------------------------------------------------------------------------- families


def _time_of_day(n: int, cadence_s: int) -> FloatArray:
    return np.asarray((np.arange(n) * cadence_s % DAY) / DAY, dtype=np.float64)


def _daily(n: int, cadence_s: int) -> FloatArray:
    """1 + sin(2 pi (time of day - 1/4)): 0 at midnight, 2 at noon."""
    return np.asarray(1.0 + np.sin(2 * np.pi * (_time_of_day(n, cadence_s) - 0.25)), dtype=np.float64)


def _counts(mean: FloatArray, draws: FloatArray, gain: FloatArray) -> FloatArray:
    """Counts around ``mean`` with the deviations scaled by ``gain``, rounded and at least 0."""
    return np.asarray(np.maximum(np.round(mean + gain * (draws - mean)), 0.0), dtype=np.float64)


def white_noise(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    return 10.0 + gain * rng.normal(0.0, 1.0, n)


def ar1(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """AR(1), phi 0.9, innovations of sd 1 (marginal sd 2.29), started in its stationary law."""
    shocks = gain * rng.normal(0.0, 1.0, n)
    shocks[0] = rng.normal(0.0, 1.0 / np.sqrt(1 - 0.81))
    return 50.0 + np.asarray(lfilter([1.0], [1.0, -0.9], shocks), dtype=np.float64)


def random_walk(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    return 100.0 + np.cumsum(gain * rng.normal(0.0, 1.0, n))


def daily_cycle(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    return 100.0 + 20.0 * _daily(n, FIVE_MINUTES) + gain * rng.normal(0.0, 3.0, n)


def weekly_daily(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """Hourly: a daily cycle, weekends at 60 % of weekdays (the series starts on a Monday)."""
    weekend = (np.arange(n) * HOUR // DAY) % 7 >= 5
    return np.where(weekend, 0.6, 1.0) * (50.0 + 25.0 * _daily(n, HOUR)) + gain * rng.normal(0.0, 4.0, n)


def poisson_2(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    mean = 2.0 * (0.2 + 0.8 * _daily(n, FIVE_MINUTES))
    return _counts(mean, rng.poisson(mean).astype(np.float64), gain)


def poisson_50(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    mean = 50.0 * (0.5 + 0.5 * _daily(n, FIVE_MINUTES))
    return _counts(mean, rng.poisson(mean).astype(np.float64), gain)


BURST_START = 0.02   # share of readings that start a routine burst (bursty family)
BURST_MEAN = 40.0    # counts a burst adds per reading
BASE_MEAN, BASE_DISPERSION = 10.0, 5.0  # negative binomial base: variance 10 + 10^2 / 5 = 30


def _bursts(rng: np.random.Generator, n: int, start_rate: float) -> FloatArray:
    """Compound Poisson bursts: starts at ``start_rate``, lengths geometric (mean 3), Poisson(40) per reading."""
    starts = rng.random(n) < start_rate
    lengths = rng.geometric(1 / 3, n)
    heights = rng.poisson(BURST_MEAN, n).astype(np.float64)
    out = np.zeros(n)
    for at in np.flatnonzero(starts):
        stop = min(at + int(lengths[at]), n)
        out[at:stop] += heights[at:stop]
    return out


def bursty(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """Negative binomial counts (mean 10, sd 5.5) plus routine random bursts (2 % of readings start one)."""
    p = BASE_DISPERSION / (BASE_DISPERSION + BASE_MEAN)
    base = _counts(np.full(n, BASE_MEAN), rng.negative_binomial(BASE_DISPERSION, p, n).astype(np.float64), gain)
    return base + _bursts(rng, n, BURST_START)


def student_t(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    return 10.0 + gain * rng.standard_t(3.0, n)


INTERMITTENT_RATE = 0.05


def intermittent(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """Hourly, mostly zeros: 5 % of readings carry 1 + Poisson(4) (sd of the readings 1.18)."""
    occurs = rng.random(n) < INTERMITTENT_RATE
    amounts = 1.0 + rng.poisson(4.0, n)
    return np.where(occurs, np.round(amounts * gain), 0.0)


def integer_levels(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """A step-like integer level in [0, 10]: 2 % of readings move it one level (reflected at the ends)."""
    moves = np.where(rng.random(n) < 0.02, rng.choice([-1.0, 1.0], n), 0.0) * np.round(gain)
    level = 5.0 + np.cumsum(moves)
    folded = np.mod(level, 20.0)
    return np.asarray(np.where(folded > 10.0, 20.0 - folded, folded), dtype=np.float64)


def slow_trend(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """Hourly: +0.01 noise sd per reading (+50 sd over 5,000 readings)."""
    return 50.0 + 0.01 * np.arange(n) + gain * rng.normal(0.0, 1.0, n)


def sawtooth(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """A daily ramp from 0 to 100 that resets at midnight (a disk filled, emptied every night), noise sd 2."""
    return 100.0 * _time_of_day(n, FIVE_MINUTES) + gain * rng.normal(0.0, 2.0, n)


def job_spike(rng: np.random.Generator, n: int, gain: FloatArray) -> FloatArray:
    """Noise (sd 1) plus a job every 6 hours: 3 readings at +15 (+-1)."""
    jobs = (np.arange(n) % 72 < 3) * (15.0 + rng.normal(0.0, 1.0, n))
    return 20.0 + jobs + gain * rng.normal(0.0, 1.0, n)


FAMILIES: tuple[Family, ...] = (
    Family("white_noise", FIVE_MINUTES, 1.0, white_noise),
    Family("ar1_phi0.9", FIVE_MINUTES, float(1 / np.sqrt(1 - 0.81)), ar1),
    Family("random_walk", FIVE_MINUTES, 1.0, random_walk),
    Family("daily_cycle", FIVE_MINUTES, 3.0, daily_cycle),
    Family("weekly_daily", HOUR, 4.0, weekly_daily),
    Family("poisson_2_daily", FIVE_MINUTES, float(np.sqrt(2.0)), poisson_2, integer=True, nonnegative=True),
    Family("poisson_50_daily", FIVE_MINUTES, float(np.sqrt(50.0)), poisson_50, integer=True, nonnegative=True),
    Family("bursty_counts", FIVE_MINUTES, float(np.sqrt(30.0)), bursty, integer=True, nonnegative=True,
           burst_height=BURST_MEAN / float(np.sqrt(30.0))),
    Family("student_t3", FIVE_MINUTES, float(np.sqrt(3.0)), student_t),
    Family("intermittent", HOUR, 1.18, intermittent, integer=True, nonnegative=True),
    Family("integer_levels", FIVE_MINUTES, 1.0, integer_levels, integer=True, nonnegative=True),
    Family("slow_trend", HOUR, 1.0, slow_trend),
    Family("sawtooth_daily", FIVE_MINUTES, 2.0, sawtooth),
    Family("job_spike_6h", FIVE_MINUTES, 1.0, job_spike),
)


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    msg = f"unknown family {name!r}; known: {', '.join(f.name for f in FAMILIES)}"
    raise ConfigError(msg)


# ---------------------------------------------------------------------------------------------- anomalies

ANOMALIES: tuple[str, ...] = ("spike", "dip", "level_shift", "variance", "stuck", "drift", "flat_day", "bursts")
SPIKE_SCALES = 6.0
SHIFT_SCALES = 3.0
VARIANCE_GAIN = 3.0
DRIFT_SCALES_PER_READING = 0.05   # 5 scales after 100 readings
DENSE_BURST_START = 0.1           # 10 % of the readings in the window start a burst (bursty family: 5x routine)


def inject(family: Family, kind: str, rngs: tuple[np.random.Generator, np.random.Generator], *, n: int,
           onset: int, window: int) -> tuple[FloatArray, int]:
    """The family's series of ``rngs[0]`` with one anomaly of ``kind`` from ``onset``; returns (values, end)."""
    gain = np.ones(n)
    if kind == "variance":
        gain[onset:] = VARIANCE_GAIN
    values = family.generate(rngs[0], n, gain)
    end = _apply(kind, family, values, onset=onset, window=window, rng=rngs[1])
    if family.integer:
        values = np.round(values)
    if family.nonnegative:
        values = np.maximum(values, 0.0)
    return values, end


def _apply(kind: str, family: Family, values: FloatArray, *, onset: int, window: int,
           rng: np.random.Generator) -> int:
    """Change ``values`` in place from ``onset``; the end (exclusive) of the anomaly."""
    n, scale = values.shape[0], family.scale
    if kind in ("spike", "dip"):
        values[onset] += (SPIKE_SCALES if kind == "spike" else -SPIKE_SCALES) * scale
        return onset + 1
    if kind == "level_shift":
        values[onset:] += SHIFT_SCALES * scale
        return n
    if kind == "variance":
        return n
    if kind == "stuck":
        values[onset:onset + window] = values[onset - 1]
        return onset + window
    if kind == "drift":
        values[onset:] += DRIFT_SCALES_PER_READING * scale * np.arange(1, n - onset + 1)
        return n
    if kind == "flat_day":
        day = family.per_day
        values[onset:onset + day] = values[onset - day:onset].mean()
        return onset + day
    if kind == "bursts":
        starts = rng.random(window) < DENSE_BURST_START
        for at in np.flatnonzero(starts) + onset:   # 1-3 readings each, cut at the window's end
            stop = min(at + int(rng.integers(1, 4)), onset + window)
            values[at:stop] += family.burst_height * scale * (1 + rng.exponential(0.25))
        return onset + window
    msg = f"unknown anomaly {kind!r}; known: {', '.join(ANOMALIES)}"
    raise ConfigError(msg)


# ------------------------------------------------------------------------------------------------- suites


def series_rngs(seed: int, family: int, anomaly: int, replicate: int) -> tuple[np.random.Generator,
                                                                                np.random.Generator]:
    """(the family's draws, the onset's and the anomaly's draws) of one series (``anomaly`` 0: clean)."""
    values, extra = np.random.SeedSequence([seed, family, anomaly, replicate]).spawn(2)
    return np.random.default_rng(values), np.random.default_rng(extra)


def make_suite(config: SuiteConfig) -> list[SyntheticSeries]:
    """Clean series of every family, then injected ones (onset drawn after the warm-up, room left behind it)."""
    config.check()
    families = [f for f in FAMILIES if not config.families or f.name in config.families]
    kinds = [k for k in ANOMALIES if not config.anomalies or k in config.anomalies]
    suite: list[SyntheticSeries] = []
    for family in families:
        fi = FAMILIES.index(family)
        for r in range(config.clean):
            values = family.generate(series_rngs(config.seed, fi, 0, r)[0], config.length, np.ones(config.length))
            suite.append(SyntheticSeries(family.name, None, r, family.cadence_s, values))
        for kind in kinds:
            for r in range(config.injected):
                rngs = series_rngs(config.seed, fi, 1 + ANOMALIES.index(kind), r)
                onset = int(rngs[1].integers(config.warmup + config.window,
                                             config.length - max(family.per_day, 2 * config.window)))
                values, end = inject(family, kind, rngs, n=config.length, onset=onset, window=config.window)
                suite.append(SyntheticSeries(family.name, kind, r, family.cadence_s, values, onset, end))
    return suite


def timestamps(length: int, cadence_s: int) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=length, freq=pd.Timedelta(seconds=cadence_s))


# --------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Scored:
    """One detector's scores of a suite (one array per series, suite order) and its own decision threshold."""

    detector: str
    scores: list[FloatArray]
    threshold: float


@dataclass(frozen=True)
class CleanFigures:
    """False detections on the clean series of one family (readings after the warm-up only)."""

    readings: int
    detections: int
    series: int
    series_with_any: int

    @property
    def per_1000(self) -> float:
        return 1000.0 * self.detections / self.readings if self.readings else float("nan")


@dataclass(frozen=True)
class EventFigures:
    """Injected anomalies of one kind: found within the window after the onset, delays, false detections."""

    events: int
    found: int
    delays: tuple[int, ...]
    false_detections: int
    false_readings: int

    @property
    def recall(self) -> float:
        return self.found / self.events if self.events else float("nan")

    @property
    def median_delay(self) -> float:
        return float(np.median(self.delays)) if self.delays else float("nan")

    @property
    def false_per_1000(self) -> float:
        return 1000.0 * self.false_detections / self.false_readings if self.false_readings else float("nan")


def score_suite(suite: list[SyntheticSeries], detector: str) -> Scored:
    """Every series scored by ``score_series`` (one wide frame per cadence and length), suite order kept."""
    from vitals.detectors.notebook import build_detector, decision_threshold, score_series

    scores: list[FloatArray] = [np.empty(0)] * len(suite)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(suite):
        groups.setdefault((s.cadence_s, s.values.shape[0]), []).append(i)
    for (cadence_s, length), members in groups.items():
        frame = pd.DataFrame(np.column_stack([suite[i].values for i in members]), index=timestamps(length, cadence_s),
                             columns=[suite[i].name for i in members])
        out = np.asarray(score_series(frame, detector=detector).xs("score", axis=1, level="field"), dtype=np.float64)
        for column, i in enumerate(members):
            scores[i] = out[:, column].copy()
    return Scored(detector, scores, decision_threshold(build_detector(detector)))


def detections_after(scores: FloatArray, threshold: float, warmup: int) -> npt.NDArray[np.int64]:
    """Positions at or after ``warmup`` whose score is a detection (``score >= threshold``)."""
    return np.flatnonzero(scores[warmup:] >= threshold).astype(np.int64) + warmup


def clean_figures(suite: list[SyntheticSeries], scored: Scored, warmup: int,
                  threshold: float | None = None) -> dict[str, CleanFigures]:
    """Per family: detections after the warm-up on its clean series."""
    cut = scored.threshold if threshold is None else threshold
    tally: dict[str, list[int]] = {}
    for s, scores in zip(suite, scored.scores, strict=True):
        if s.anomaly is not None:
            continue
        found = detections_after(scores, cut, warmup).shape[0]
        row = tally.setdefault(s.family, [0, 0, 0, 0])
        row[0] += s.values.shape[0] - warmup
        row[1] += found
        row[2] += 1
        row[3] += found > 0
    return {family: CleanFigures(*row) for family, row in tally.items()}


def event_figures(suite: list[SyntheticSeries], scored: Scored, warmup: int, window: int, *,
                  threshold: float | None = None, by: str = "anomaly") -> dict[str, EventFigures]:
    """Per anomaly kind (``by="anomaly"``) or family (``by="family"``): detections of the injected series.

    Found: a detection in ``[onset, onset + window)`` (delay: the first one's distance from the onset). False:
    detections after the warm-up outside the anomaly: outside ``[onset, max(onset + window, end))`` for an
    anomaly that ends (a stuck run, a flat day), outside ``[onset, onset + window)`` for one that lasts to the
    end of the series (level shift, variance, drift: repeats after the window count as false, NAB's rule).
    """
    cut = scored.threshold if threshold is None else threshold
    tally: dict[str, tuple[list[int], list[int]]] = {}
    for s, scores in zip(suite, scored.scores, strict=True):
        if s.anomaly is None or s.onset is None:
            continue
        hits = detections_after(scores, cut, warmup)
        found = (hits >= s.onset) & (hits < s.onset + window)
        excused = (hits >= s.onset) & (hits < excused_end(s, window))
        counts, delays = tally.setdefault(s.anomaly if by == "anomaly" else s.family, ([0, 0, 0, 0], []))
        counts[0] += 1
        counts[1] += bool(found.any())
        counts[2] += int((~excused).sum())
        counts[3] += s.values.shape[0] - warmup - (excused_end(s, window) - s.onset)
        if found.any():
            delays.append(int(hits[found][0] - s.onset))
    return {key: EventFigures(c[0], c[1], tuple(d), c[2], c[3]) for key, (c, d) in tally.items()}


def excused_end(series: SyntheticSeries, window: int) -> int:
    """End (exclusive) of the readings after an onset where a detection is not false (see event_figures)."""
    if series.onset is None or series.end is None:
        msg = f"{series.name} has no injected anomaly"
        raise ConfigError(msg)
    if series.end >= series.values.shape[0]:
        return series.onset + window
    return max(series.onset + window, series.end)
