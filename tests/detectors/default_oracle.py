"""Oracle: the default detector in numpy rounds, as it was before the compiled kernel (renamed only).

The default detector configuration: seasonal baseline + data quality, calibrated and combined.

Per reading of series ``i``:

1. ``z``: residual z of the :class:`~vitals.detectors.seasonal.SeasonalBaseline` (daily/weekly/flat), with
   ``|z|`` capped at ``z_cap`` (beyond it a residual carries no more information, and an uncapped first burst
   of a series that was flat would dominate its statistics for thousands of readings).
2. two calibrations of the residual against the series' own past, each in [0, 1):

   * ``a`` (parametric): :class:`~vitals.detectors.calibration.OnlineTailCalibrator` tail statistic ``u`` of
     ``|z|``, squashed ``u / (u + half)``;
   * ``b`` (rank): :class:`~vitals.detectors.calibration.SurpriseCalibrator` surprise of the signed residual
     (half-octave bins of ``|z|``, drops judged against past drops), squashed ``s / (s + surprise_half)``.

   The point score is the geometric mean ``sqrt(a * b)``: high only when both agree, so a burst that is
   extreme in deviations but common in rank (sparse spiky series), or rare in rank but small in size (very
   quiet series), does not raise an alarm alone.
3. the run score: the same two calibrations, applied to the running mean of the surprise ``s`` over about
   ``run_length`` readings (like the anomaly likelihood of Numenta's HTM): a slow drift or a new level gives a
   run of moderately surprising residuals that is unusual as a run although no single reading is extreme.
   The seasonal score is the larger of the point and the run score.
4. onset suppression: the seasonal score only counts when it exceeds every seasonal score of the same series
   in its last ``refractory`` readings (a running peak that expires after ``refractory`` readings), so a
   lasting anomaly raises one early detection instead of a stream of repeats.
5. ``q``: the :class:`~vitals.detectors.data_quality.DataQualityDetector` score (impossible, stuck, spike).
6. anomaly score = ``max(onset, quality_weight * q)`` in [0, 1); optionally also the window
   model's calibrated score at window close (:class:`~vitals.detectors.window_forest.WindowFeatureModel`).

``level_score_`` keeps the unsuppressed seasonal score for dashboards; each reading's explanation
(:meth:`DefaultDetector.explain`) names the detector and feature that drove its score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from vitals.detectors.base import Detector, FloatArray, IntArray
from vitals.detectors.calibration import OnlineTailCalibrator, SurpriseCalibrator, squash
from vitals.detectors.data_quality import CHECKS, DataQualityDetector
from vitals.detectors.explain import Explanation, explanations
from vitals.detectors.seasonal import SeasonalBaseline

DRIVERS: tuple[str, ...] = ("seasonal_baseline", "data_quality")



def onset_of(blocks: FloatArray, block_max: FloatArray, block_fill: IntArray, s: IntArray, u: FloatArray,
             *, refractory: int, margin: float) -> FloatArray:
    """``u`` where it beats the running maximum of the last ``refractory`` readings by more than ``margin``, else 0.

    The window is kept as ``blocks.shape[1]`` block maxima per series (block = refractory / blocks readings), so
    the memory per series is small and the window length is exact to one block; the arrays are updated in place.
    """
    peak = np.maximum(blocks[s].max(axis=1), block_max[s])
    onset = np.where(u > peak + margin, u, 0.0)
    block_len = max(refractory // blocks.shape[1], 1)
    current = np.maximum(block_max[s], u)
    fill = block_fill[s] + 1
    full = fill >= block_len
    rows = s[full]
    blocks[rows] = np.roll(blocks[rows], 1, axis=1)
    blocks[rows, 0] = current[full]
    block_max[s] = np.where(full, 0.0, current)
    block_fill[s] = np.where(full, 0, fill)
    return onset


def rest_of(left: IntArray, s: IntArray, u: FloatArray, *, rest: int, threshold: float) -> FloatArray:
    """Rest after a detection: ``u`` halved where it reaches ``threshold`` within the ``rest`` readings after a
    detection (``u >= threshold`` outside a rest, which starts one); ``left`` (readings of rest left per series)
    is updated in place."""
    resting = left[s] > 0
    detected = u >= threshold
    left[s] = np.where(resting, left[s] - 1, np.where(detected & (rest >= 1), rest, 0))
    return np.where(resting & detected, 0.5 * u, u)


class NumpyDefaultDetector(Detector):
    """The default detector as it was written in numpy rounds: the oracle of the compiled kernel."""

    def __init__(self, *, warmup: int = 60, calibration_start: int = 60, power: float = 0.5,
                 calibration_rate: float = 0.0005, refractory: int = 500, refractory_blocks: int = 10,
                 half: float = 10.0, z_cap: float = 100.0, surprise_rate: float = 0.0005,
                 surprise_bins: int = 16, bins_per_octave: float = 2.0, surprise_z0: float = 0.5,
                 surprise_half: float = 3.0, run_length: int = 20,
                 run_cap: float = 2.0,
                 quality_weight: float = 0.3, rest: int = 30, decision_threshold: float = 0.40,
                 valid_min: npt.ArrayLike | None = None,
                 valid_max: npt.ArrayLike | None = None) -> None:
        self.warmup = warmup
        self.calibration_start = calibration_start
        self.power = power
        self.calibration_rate = calibration_rate
        self.refractory = refractory
        self.refractory_blocks = refractory_blocks
        self.half = half
        self.z_cap = z_cap
        self.surprise_rate = surprise_rate
        self.surprise_bins = surprise_bins
        self.bins_per_octave = bins_per_octave
        self.surprise_z0 = surprise_z0
        self.surprise_half = surprise_half
        self.run_length = run_length
        self.run_cap = run_cap
        self.quality_weight = quality_weight
        self.rest = rest
        self.decision_threshold = decision_threshold
        self.valid_min = valid_min
        self.valid_max = valid_max

    def _allocate(self, n: int) -> None:
        self.baseline_ = SeasonalBaseline(warmup=self.warmup).fit([], [], [], n_series=n)
        self.quality_ = DataQualityDetector(valid_min=self.valid_min, valid_max=self.valid_max,
                                            warmup=self.warmup).fit([], [], [], n_series=n)
        self.calibrator_ = OnlineTailCalibrator(power=self.power, rate=self.calibration_rate,
                                                start=self.calibration_start).allocate(n)
        self.surprise_ = SurpriseCalibrator(bins=self.surprise_bins, sides=2, rate=self.surprise_rate,
                                            tail=2.0 * self.bins_per_octave, start=self.calibration_start).allocate(n)
        # the run: running mean of the surprise, its tail statistic and its rank (quarter-unit bins, 0..8)
        self.run_mean_ = np.zeros(n)
        self.run_calibrator_ = OnlineTailCalibrator(power=1.0, rate=self.calibration_rate,
                                                    start=self.calibration_start).allocate(n)
        self.run_surprise_ = SurpriseCalibrator(bins=2 * self.surprise_bins, sides=1, rate=self.surprise_rate,
                                                tail=4.0, start=self.calibration_start).allocate(n)
        self.blocks_ = np.zeros((n, self.refractory_blocks))  # maxima of the last completed blocks
        self.block_max_ = np.zeros(n)                          # maximum of the current block
        self.block_fill_ = np.zeros(n, dtype=np.int64)
        self.rest_left_ = np.zeros(n, dtype=np.int64)
        self.level_score_ = np.zeros(n)
        self.score_ = np.zeros(n)
        self.driver_ = np.zeros(n, dtype=np.int8)     # index into DRIVERS: 0 seasonal baseline, 1 data quality
        self.run_driven_ = np.zeros(n, dtype=bool)     # the seasonal score came from the run, not the point
        self.value_ = np.full(n, np.nan)

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        raw = np.minimum(self.baseline_._step(s, t, v), self.z_cap)
        active = self.baseline_.count_[s] > self.warmup + 1
        tail = squash(self.calibrator_.update(s, raw, active), self.half)
        surprise = self._surprise(s, active)
        point = np.sqrt(tail * squash(surprise, self.surprise_half))
        run = self._run(s, surprise, active)
        seasonal = np.maximum(point, run)
        onset = self._onset(s, seasonal)
        quality = self.quality_weight * self.quality_._step(s, t, v)
        score = rest_of(self.rest_left_, s, np.maximum(onset, quality), rest=self.rest,
                        threshold=self.decision_threshold)
        self.level_score_[s] = seasonal
        self.score_[s] = score
        self.driver_[s] = np.where(quality > onset, 1, 0)
        self.run_driven_[s] = run > point
        self.value_[s] = v
        return score

    def _surprise(self, s: IntArray, active: npt.NDArray[np.bool_]) -> FloatArray:
        """Rank surprise of the signed residual against the series' past residuals (half-octave bins)."""
        z = np.minimum(np.maximum(self.baseline_.z_[s], -self.z_cap), self.z_cap)
        position = np.log2(np.maximum(np.abs(z), self.surprise_z0) / self.surprise_z0) * self.bins_per_octave
        return self.surprise_.update(s, position, (z < 0).astype(np.int64), active)

    def _run(self, s: IntArray, surprise: FloatArray, active: npt.NDArray[np.bool_]) -> FloatArray:
        """Score of the running mean of the surprise: geometric mean of its tail statistic and its rank.

        The mean starts when the surprise does (not on the zeros before it) and each reading adds at most
        ``run_cap`` to it (p = 0.01): one spike alone does not make a run.
        """
        ready = active & (self.surprise_.seen_[s] > self.surprise_.start)
        mean = self.run_mean_[s]
        mean = np.where(ready, mean + (np.minimum(surprise, self.run_cap) - mean) / self.run_length, mean)
        self.run_mean_[s] = mean
        tail = squash(self.run_calibrator_.update(s, mean, ready), self.half)
        rank = self.run_surprise_.update(s, 4.0 * mean, np.zeros(s.shape[0], dtype=np.int64), ready)
        return np.sqrt(tail * squash(rank, self.surprise_half))

    def _onset(self, s: IntArray, u: FloatArray) -> FloatArray:
        return onset_of(self.blocks_, self.block_max_, self.block_fill_, s, u, refractory=self.refractory,
                        margin=0.0)

    def explain(self, series: npt.ArrayLike, threshold: float = 0.0) -> list[Explanation]:
        """Why the last reading of each given series scored as it did (only scores >= threshold)."""
        self._check_fitted()
        s = np.asarray(series, dtype=np.int64)
        s = s[self.score_[s] >= threshold]
        lower, mid, upper = self.baseline_.band(s)
        quality_check = np.argmax(self.quality_.check_scores_[:3, s], axis=0) if s.size else np.empty(0, np.int64)
        model_names = np.array(["flat_level", "daily_profile", "weekly_profile"])
        residual = np.where(self.run_driven_[s], "residual_run:", "residual_z:")
        features = np.where(self.driver_[s] == 1, np.array(CHECKS)[quality_check],
                            np.char.add(residual, model_names[self.baseline_.model_[s]]))
        return explanations(series=s, detectors=np.array(DRIVERS)[self.driver_[s]], features=features,
                            values=self.value_[s], expected=mid, lower=lower, upper=upper, scores=self.score_[s],
                            z=self.baseline_.z_[s])


class NumpyRegimeScore:
    """Oracle of the kernel's regime-change score, in numpy rounds (one reading per series per call).

    Per series: ``short`` and ``long`` running means of the absolute step (rates ``max(1/k, 1/short)``,
    ``max(1/k, 1/long)`` at the k-th step), regime ``r = log((short + e) / (long + e))`` with
    ``e = 1e-3 long + 1e-12`` from step ``short + 1`` on, 0 where ``|r| < floor``; the novelty of ``r`` beyond
    the range of the earlier regimes (those from reading ``warmup // 2`` on) in units of that range or ``floor``,
    the larger, scored from reading ``warmup`` and one day of event time,
    squashed ``u / (u + half)``; a score counts where it beats every score of the last ``refractory`` readings
    (block maxima) by more than ``margin``, then is weighted by ``weight``. With ``step_clip`` > 0, a step after
    the first ``short`` counts at most ``step_clip`` times the long mean before it.
    """

    def __init__(self, n: int, *, short: int = 50, long: int = 1000, warmup: int = 300, half: float = 0.1,
                 weight: float = 0.7, refractory: int = 1000, blocks: int = 10, margin: float = 0.02,
                 warmup_s: float = 86_400.0, floor: float = 0.69, rest: int = 30,
                 threshold: float = 0.40, step_clip: float = 0.0) -> None:
        self.short, self.long, self.warmup, self.half, self.floor = short, long, warmup, half, floor
        self.step_clip = step_clip
        self.weight, self.refractory, self.margin, self.warmup_s = weight, refractory, margin, warmup_s
        self.rest, self.threshold = rest, threshold
        self.rest_left = np.zeros(n, dtype=np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.first_ts = np.zeros(n, dtype=np.int64)
        self.last = np.zeros(n)
        self.mean_short = np.zeros(n)
        self.mean_long = np.zeros(n)
        self.high = np.full(n, -np.inf)
        self.low = np.full(n, np.inf)
        self.blocks = np.zeros((n, blocks))
        self.block_max = np.zeros(n)
        self.block_fill = np.zeros(n, dtype=np.int64)

    def update(self, s: IntArray, t: IntArray, v: FloatArray, stuck: FloatArray | None = None) -> FloatArray:
        """``stuck``: the data-quality stuck check of these readings (a record run of one value scores no
        regime: it is the data-quality check's)."""
        k = self.count[s]
        self.first_ts[s] = np.where(k == 0, t, self.first_ts[s])
        step = np.abs(v - self.last[s])
        if self.step_clip > 0.0:  # past ``short`` steps, a step counts at most ``step_clip`` long mean steps
            step = np.where(k > self.short, np.minimum(step, self.step_clip * self.mean_long[s]), step)
        kk = np.maximum(k, 1).astype(np.float64)
        short = self.mean_short[s] + np.maximum(1.0 / kk, 1.0 / self.short) * (step - self.mean_short[s])
        long = self.mean_long[s] + np.maximum(1.0 / kk, 1.0 / self.long) * (step - self.mean_long[s])
        started = k > 0
        self.mean_short[s] = np.where(started, short, 0.0)
        self.mean_long[s] = np.where(started, long, 0.0)
        self.last[s] = v
        self.count[s] = k + 1
        eps = 1e-3 * long + 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(k > self.short, np.log((short + eps) / (long + eps)), np.nan)
        ratio = np.where(np.abs(ratio) < self.floor, 0.0, ratio)
        high, low = self.high[s], self.low[s]
        span = np.maximum(high - low, self.floor)
        with np.errstate(invalid="ignore", divide="ignore"):
            beyond = np.maximum(np.maximum((ratio - high) / span, (low - ratio) / span), 0.0)
        scored = (k >= self.warmup) & (span > 0) & np.isfinite(span) & ((t - self.first_ts[s]) >= self.warmup_s * 1e9)
        novelty = np.where(scored & np.isfinite(ratio), beyond, 0.0)
        if stuck is not None:
            novelty = np.where(stuck > 0.0, 0.0, novelty)
        learn = (k >= self.warmup // 2) & np.isfinite(ratio)
        self.high[s] = np.where(learn, np.maximum(high, ratio), high)
        self.low[s] = np.where(learn, np.minimum(low, ratio), low)
        u = squash(novelty, self.half)
        return rest_of(self.rest_left, s, self.weight * self._onset(s, u), rest=self.rest, threshold=self.threshold)

    def _onset(self, s: IntArray, u: FloatArray) -> FloatArray:
        return onset_of(self.blocks, self.block_max, self.block_fill, s, u, refractory=self.refractory,
                        margin=self.margin)


def routine_spikes(z: FloatArray, *, spike_z: float = 8.0, intervals: int = 3, tolerance: float = 0.1,
                   min_tolerance: int = 2) -> npt.NDArray[np.bool_]:
    """Readings of routine spikes, written directly from the rule: a spike is a run of ``z > spike_z``
    (readings more than 2 apart start a new one); its onset is routine when the last ``intervals`` intervals
    between onsets agree within ``max(tolerance * median, min_tolerance)`` of their median and the interval to
    this onset does too; every reading of a routine spike is flagged."""
    flags = np.zeros(z.shape[0], dtype=bool)
    onsets: list[int] = []
    previous = -10
    routine = False
    for i, value in enumerate(z):
        if not value > spike_z:
            routine = False
            continue
        if i - previous > 2:
            routine = False
            if len(onsets) >= intervals + 1:
                gaps = np.diff(onsets[-(intervals + 1):])
                median = float(np.median(gaps))
                tol = max(tolerance * median, min_tolerance)
                routine = bool(np.all(np.abs(gaps - median) <= tol) and abs(i - onsets[-1] - median) <= tol)
            onsets.append(i)
        previous = i
        flags[i] = routine
    return flags



def routine_records(values: FloatArray, *, readings: float,
                    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], FloatArray, FloatArray]:
    """The rate of records of the new extreme for one series, written directly from the rule: whether each
    reading sets a new high (low) beyond every earlier reading, and the running rate of such records before it
    (``rate_k = rate_{k-1} + (record_k - rate_{k-1}) / readings``, 0 before the second reading). A side's new
    extreme is gated where its rate before the reading exceeds the limit. Returns (new_high, new_low, rate of
    highs, rate of lows), each rate as seen by the reading (before it)."""
    past_high = np.maximum.accumulate(values)
    past_low = np.minimum.accumulate(values)
    new_high = np.r_[False, values[1:] > past_high[:-1]]
    new_low = np.r_[False, values[1:] < past_low[:-1]]
    a = 1.0 / readings
    before = [np.r_[0.0, lfilter([a], [1.0, -(1.0 - a)], records.astype(np.float64))[:-1]]
              for records in (new_high, new_low)]
    return new_high, new_low, before[0], before[1]


def clipped_range(values: FloatArray, *, learned: npt.NDArray[np.bool_],
                  clip: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The new extreme's range learned with a clip, a loop written from the rule: per reading the range before
    it (high, low) and its novelty beyond that range in units of the range's width; a reading extends the range
    by at most ``clip`` widths where ``learned`` (the range is trained: the new extreme is scored), else fully."""
    n = values.size
    high, low, novelty = np.empty(n), np.empty(n), np.zeros(n)
    hi = lo = float(values[0])
    high[0], low[0] = hi, lo
    for j in range(1, n):
        v = float(values[j])
        high[j], low[j] = hi, lo
        span = max(hi - lo, 1e-9 * max(abs(hi), 1.0))
        if learned[j]:
            novelty[j] = max((v - hi) / span, (lo - v) / span, 0.0)
            hi, lo = max(hi, min(v, hi + clip * span)), min(lo, max(v, lo - clip * span))
        else:
            hi, lo = max(hi, v), min(lo, v)
    return high, low, novelty
