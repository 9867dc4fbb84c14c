"""The default detector configuration: seasonal baseline + data quality, calibrated and combined.

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
6. the regime-change score (``regime_weight=0.7``; 0 switches it off): the volatility regime of the series
   beyond every earlier one (:func:`vitals.detectors.kernel._regime`), with its own onset rule; a record run of
   one value (a stuck sensor) scores no regime change, it is the data-quality check's.
   The new extreme (range novelty) counts where the seasonal residual is at least ``record_min_z``; with
   ``record_rate_limit > 0`` (tried, off by default: see docs/detectors.md) also only while that side's running
   rate of records (over about ``record_rate_readings`` readings) is at most the limit: on a trend or a random
   walk records come at a steady rate and one more is no news. Also tried and off by default (0): against one
   wild reading blinding a mechanism for the rest of a series' life, ``record_clip`` (a reading extends the
   new extreme's learned range by at most that many widths) and ``regime_step_clip`` (a step counts at most
   that many long mean steps in the volatility regime). ``regime_by_side`` (0 = off): a regime beyond every
   earlier one is measured in units of the highest (lowest) earlier regime on its own side, not of the whole
   range. ``phase_tolerance`` (0 = off): where the daily profile judges a reading, its point score is also
   judged against the neighbouring slot on the side of the reading's place in its slot (a routine a few
   minutes early or late), and the smaller score counts; the calibrations learn the residual as before. The
   neighbouring slot counts once learned (``1 / slot_rate`` readings) or, with ``phase_min_slot_count > 0``,
   from that many readings; ``phase_young_scale`` (0 = off; tried, see docs/detectors.md) judges such a young
   neighbour at its location with a scale no wider than the reading's own slot's (1: the smaller of the two
   scales; 2: the own slot's; 3: the smaller, and the neighbour counts only where the reading lies inside its
   band).
7. anomaly score = ``max(onset, quality_weight * q)`` in [0, 1); optionally also the window
   model's calibrated score at window close (:class:`~vitals.detectors.window_forest.WindowFeatureModel`).
8. rest after a detection (``rest=30``; 0 switches it off): in the ``rest`` readings of a series after a
   detection (a score at or above ``decision_threshold``), a score that reaches the detection point again is
   halved: NAB and an operator both value the first detection of an event, repeats a few readings apart
   (a score creeping past an onset rule's margin, two mechanisms in turn) are noise. It is the one part that
   uses the decision threshold (through ``decision_point``, the raw score mapped to it).

``level_score_`` keeps the unsuppressed seasonal score for dashboards; each reading's explanation
(:meth:`DefaultDetector.explain`) names the detector and feature that drove its score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.detectors import kernel as k
from vitals.detectors.base import Detector, FloatArray, _as_arrays
from vitals.detectors.data_quality import CHECKS
from vitals.detectors.explain import Explanation, explanations
from vitals.units import NS_PER_S

DRIVERS: tuple[str, ...] = ("seasonal_baseline", "data_quality", "range_novelty", "regime_change")  # by driver_
RECORD_FEATURES: tuple[str, ...] = ("new_high", "new_low")
REGIME_FEATURES: tuple[str, ...] = ("volatility_up", "volatility_down")
_REGIME_DEFAULTS: dict[str, float] = {"regime_short": 100, "regime_long": 1000, "regime_warmup": 300,
                                      "regime_half": 0.1, "regime_weight": 0.7, "regime_refractory": 1000,
                                      "regime_floor": 0.69}
# parameters added after detectors were first pickled: loaded at these defaults (see __setstate__)
_LATER_DEFAULTS: dict[str, float] = {**_REGIME_DEFAULTS, "rest": 30, "routine_tolerance": 0.1,
                                      "record_min_z": 1.5, "record_rate_limit": 0.0, "record_rate_readings": 300,
                                      "record_clip": 0.0, "regime_step_clip": 0.0,
                                      "phase_tolerance": 0.0, "regime_by_side": 0.0,
                                      "phase_min_slot_count": 0, "phase_young_scale": 0}
BASELINE_MODELS: tuple[str, ...] = ("flat_level", "daily_profile", "weekly_profile")


class DefaultDetector(Detector):
    """The one default configuration used by the streaming flow and by the NAB backtest.

    All recurrences run in one compiled pass over a batch (:mod:`vitals.detectors.kernel`): the cost per
    reading does not depend on how many series or timestamps a batch holds.
    """

    decision_threshold = 0.40  # the score at or above which a reading is a detection (ANOMALY_THRESHOLD)

    def __init__(self, *, warmup: int = 60, calibration_start: int = 60, power: float = 0.5,
                 calibration_rate: float = 0.0005, refractory: int = 1000, refractory_blocks: int = 10,
                 half: float = 10.0, z_cap: float = 100.0, surprise_rate: float = 0.0005,
                 surprise_bins: int = 16, bins_per_octave: float = 2.0, surprise_z0: float = 0.5,
                 surprise_half: float = 3.0, run_length: int = 20,
                 run_cap: float = 2.0,
                 quality_weight: float = 0.25,
                 seasonal_weight: float = 0.7, record_half: float = 0.01, record_refractory: int = 50,
                 onset_margin: float = 0.02, decision_point: float = 0.2663, record_warmup: int = 150,
                 record_warmup_s: float = 86_400.0, regime_short: int = 100, regime_long: int = 1000,
                 regime_warmup: int = 300, regime_half: float = 0.1, regime_weight: float = 0.7,
                 regime_refractory: int = 1000, regime_floor: float = 0.69, rest: int = 30,
                 routine_tolerance: float = 0.1, record_min_z: float = 1.5, record_rate_limit: float = 0.0,
                 record_rate_readings: int = 300, record_clip: float = 0.0,
                 regime_step_clip: float = 0.0, phase_tolerance: float = 0.0, regime_by_side: float = 0.0,
                 phase_min_slot_count: int = 0, phase_young_scale: int = 0,
                 day_slots: int = 96, week_slots: int = 336, slot_rate: float = 0.1, level_rate: float = 0.002,
                 error_rate: float = 0.01, clip: float = 4.0, min_slot_count: int = 2, band_z: float = 3.0,
                 stuck_min_run: int = 12, spike_z: float = 8.0, stale_factor: float = 5.0, step_rate: float = 0.01,
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
        self.seasonal_weight = seasonal_weight
        self.record_half = record_half
        self.record_refractory = record_refractory
        self.onset_margin = onset_margin
        self.decision_point = decision_point
        self.record_warmup = record_warmup
        self.record_warmup_s = record_warmup_s
        self.regime_short = regime_short
        self.regime_long = regime_long
        self.regime_warmup = regime_warmup
        self.regime_half = regime_half
        self.regime_weight = regime_weight
        self.regime_refractory = regime_refractory
        self.regime_floor = regime_floor
        self.rest = rest
        self.routine_tolerance = routine_tolerance
        self.record_min_z = record_min_z
        self.record_rate_limit = record_rate_limit
        self.record_rate_readings = record_rate_readings
        self.record_clip = record_clip
        self.regime_step_clip = regime_step_clip
        self.phase_tolerance = phase_tolerance
        self.regime_by_side = regime_by_side
        self.phase_min_slot_count = phase_min_slot_count
        self.phase_young_scale = phase_young_scale
        self.day_slots = day_slots
        self.week_slots = week_slots
        self.slot_rate = slot_rate
        self.level_rate = level_rate
        self.error_rate = error_rate
        self.clip = clip
        self.min_slot_count = min_slot_count
        self.band_z = band_z
        self.stuck_min_run = stuck_min_run
        self.spike_z = spike_z
        self.stale_factor = stale_factor
        self.step_rate = step_rate
        self.valid_min = valid_min
        self.valid_max = valid_max

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Load a detector pickled before the regime-change score or the rest: their parameters at their
        defaults, their per-series state fresh (the regime learns from the next readings on, no series is
        resting; every other score continues)."""
        self.__dict__.update(state)
        missing = {name: value for name, value in _LATER_DEFAULTS.items() if name not in state}
        self.__dict__.update(missing)
        if missing and "f_" in state:
            f: FloatArray = state["f_"]
            i: npt.NDArray[np.int64] = state["i_"]
            self.f_ = np.pad(f, ((0, 0), (0, k.F_COLUMNS - f.shape[1])))
            self.i_ = np.pad(i, ((0, 0), (0, k.I_COLUMNS - i.shape[1])))
            if "regime_blocks_" not in state:
                self.regime_blocks_ = np.zeros((f.shape[0], max(self.refractory_blocks, 1)))
            self.params_ = self._parameters()

    def _parameters(self) -> FloatArray:
        return k.parameters(
            warmup=self.warmup, cal_start=self.calibration_start, power=self.power, cal_rate=self.calibration_rate,
            half=self.half, z_cap=self.z_cap, s_rate=self.surprise_rate, bins_per_octave=self.bins_per_octave,
            s_z0=self.surprise_z0, s_half=self.surprise_half, run_length=self.run_length, run_cap=self.run_cap,
            quality_weight=self.quality_weight, day_slots=self.day_slots, week_slots=self.week_slots,
            slot_rate=self.slot_rate, level_rate=self.level_rate, error_rate=self.error_rate, clip=self.clip,
            min_slot_count=self.min_slot_count, refractory=self.refractory, stuck_min_run=self.stuck_min_run,
            spike_z=self.spike_z, step_rate=self.step_rate, prior=1.0, seasonal_weight=self.seasonal_weight,
            record_half=self.record_half, record_refractory=self.record_refractory, onset_margin=self.onset_margin,
            decision_point=self.decision_point, decision_score=self.decision_threshold,
            record_warmup=self.record_warmup, record_warmup_s=self.record_warmup_s, regime_short=self.regime_short,
            regime_long=self.regime_long, regime_warmup=self.regime_warmup, regime_half=self.regime_half,
            regime_weight=self.regime_weight, regime_refractory=self.regime_refractory,
            regime_floor=self.regime_floor, rest=self.rest,
            routine_tolerance=self.routine_tolerance, record_min_z=self.record_min_z,
            record_rate_limit=self.record_rate_limit, record_rate_readings=self.record_rate_readings,
            record_clip=self.record_clip, regime_step_clip=self.regime_step_clip,
            phase_tolerance=self.phase_tolerance, regime_by_side=self.regime_by_side,
            phase_min_slot_count=self.phase_min_slot_count, phase_young_scale=self.phase_young_scale)

    def _allocate(self, n: int) -> None:
        self.params_ = self._parameters()
        self.f_ = np.zeros((n, k.F_COLUMNS))
        self.f_[:, [k.F_EXPECTED, k.F_SCALE, k.F_VALUE, k.F_Q_LAST_VALUE]] = np.nan
        self.f_[:, k.F_VMIN] = np.broadcast_to(np.asarray(
            -np.inf if self.valid_min is None else self.valid_min, dtype=np.float64), (n,))
        self.f_[:, k.F_VMAX] = np.broadcast_to(np.asarray(
            np.inf if self.valid_max is None else self.valid_max, dtype=np.float64), (n,))
        self.i_ = np.zeros((n, k.I_COLUMNS), dtype=np.int64)
        slots = self.day_slots + self.week_slots
        self.mid_ = np.zeros((n, slots), dtype=np.float32)
        self.dev_ = np.zeros((n, slots), dtype=np.float32)
        self.slot_count_ = np.zeros((n, slots), dtype=np.int16)
        self.hist_ = np.zeros((n, 2, self.surprise_bins), dtype=np.float32)
        self.run_hist_ = np.zeros((n, 1, 2 * self.surprise_bins), dtype=np.float32)
        self.blocks_ = np.zeros((n, max(self.refractory_blocks, 1)))
        self.record_blocks_ = np.zeros((n, max(self.refractory_blocks, 1)))
        self.regime_blocks_ = np.zeros((n, max(self.refractory_blocks, 1)))

    def update_score(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        """Score a batch in batch order (higher = more anomalous; 0 during warm-up), then learn from it."""
        self._check_fitted()
        s, t, v = _as_arrays(series, ts_ns, values)
        if s.size and (int(s.min()) < 0 or int(s.max()) >= self.n_series_):
            msg = f"series index out of range 0..{self.n_series_ - 1}"
            raise IndexError(msg)
        if s.size > 1 and bool((s[1:] < s[:-1]).any()):
            # series by series (batch order kept within each): the kernel walks the state rows in address order
            # instead of jumping between them (~25 % less CPU on a city batch); every recurrence reads and writes
            # its own series' row only, so the scores are the same in any order of the series
            order = np.argsort(s, kind="stable")
            scores = np.empty(s.size)
            scores[order] = self._score_batch(s[order], t[order], v[order])
            return scores
        return self._score_batch(s, t, v)

    def _score_batch(self, s: npt.NDArray[np.int64], t: npt.NDArray[np.int64], v: FloatArray) -> FloatArray:
        return k.score_batch(self.params_, s, t, v, self.f_, self.i_, self.mid_, self.dev_, self.slot_count_,
                             self.hist_, self.run_hist_, self.blocks_, self.record_blocks_, self.regime_blocks_)

    # ---- what the flow and the explanations read --------------------------------------------------------
    @property
    def level_score_(self) -> FloatArray:
        """Unsuppressed seasonal score of each series' last reading (for dashboards)."""
        return self.f_[:, k.F_LEVEL_SCORE]

    @property
    def score_(self) -> FloatArray:
        return self.f_[:, k.F_SCORE]

    @property
    def driver_(self) -> npt.NDArray[np.int64]:
        """Index into :data:`DRIVERS`: 0 seasonal baseline, 1 data quality, 2 range novelty (a new extreme),
        3 regime change (a volatility regime beyond every earlier one)."""
        return self.i_[:, k.I_DRIVER]

    @property
    def run_driven_(self) -> npt.NDArray[np.bool_]:
        return self.i_[:, k.I_RUN_DRIVEN] == 1

    @property
    def model_(self) -> npt.NDArray[np.int64]:
        """Baseline model of each series' last reading: index into :data:`BASELINE_MODELS`."""
        return self.i_[:, k.I_MODEL]

    @property
    def z_(self) -> FloatArray:
        return self.f_[:, k.F_Z]

    @property
    def check_scores_(self) -> FloatArray:
        """Data-quality check scores of each series' last reading, rows in :data:`CHECKS` order but stale."""
        return self.f_[:, [k.F_IMPOSSIBLE, k.F_STUCK, k.F_SPIKE]].T

    def record_is_low(self, series: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """For each series, whether its last reading lay below (not above) its past range's middle."""
        s = np.asarray(series, dtype=np.int64)
        return self.f_[s, k.F_VALUE] < 0.5 * (self.f_[s, k.F_HIGH] + self.f_[s, k.F_LOW])

    def regime_is_down(self, series: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """For each series, whether its volatility regime lies below (quieter than) its long-run one."""
        return self.f_[np.asarray(series, dtype=np.int64), k.F_REGIME_RATIO] < 0.0

    def band(self, series: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(lower, expected, upper) of the last reading of each series (NaN before any reading)."""
        self._check_fitted()
        s = np.asarray(series, dtype=np.int64)
        mid = self.f_[s, k.F_EXPECTED]
        half = self.band_z * self.f_[s, k.F_SCALE]
        return mid - half, mid, mid + half

    def stale_scores(self, now_ns: int) -> FloatArray:
        """Staleness at ``now_ns`` in [0, 1): ``1 - stale_factor * spacing / age`` once silent that long."""
        self._check_fitted()
        age = (now_ns - self.i_[:, k.I_Q_LAST_TS]) / NS_PER_S
        limit = self.stale_factor * np.maximum(self.f_[:, k.F_Q_SPACING], 1e-9)
        stale = (self.i_[:, k.I_Q_COUNT] > 1) & (age > limit)
        return np.where(stale, 1.0 - limit / np.maximum(age, 1e-9), 0.0)

    def explain(self, series: npt.ArrayLike, threshold: float = 0.0) -> list[Explanation]:
        """Why the last reading of each given series scored as it did (only scores >= threshold)."""
        self._check_fitted()
        s = np.asarray(series, dtype=np.int64)
        s = s[self.score_[s] >= threshold]
        lower, mid, upper = self.band(s)
        quality_check = np.argmax(self.check_scores_[:, s], axis=0) if s.size else np.empty(0, np.int64)
        residual = np.where(self.run_driven_[s], "residual_run:", "residual_z:")
        seasonal = np.char.add(residual, np.array(BASELINE_MODELS)[self.model_[s]])
        extreme = np.array(RECORD_FEATURES)[self.record_is_low(s).astype(np.int64)]
        regime = np.array(REGIME_FEATURES)[self.regime_is_down(s).astype(np.int64)]
        features = np.select([self.driver_[s] == 1, self.driver_[s] == 2, self.driver_[s] == 3],
                             [np.array(CHECKS)[quality_check], extreme, regime], seasonal)
        return explanations(series=s, detectors=np.array(DRIVERS)[self.driver_[s]], features=features,
                            values=self.f_[s, k.F_VALUE], expected=mid, lower=lower, upper=upper,
                            scores=self.score_[s], z=self.z_[s])
