"""Data-quality detectors: physically impossible values, stuck sensors, spikes and stale series.

* impossible: a value outside the series' valid range ``[valid_min, valid_max]`` scores 1.
* stuck: the current run of identical values, relative to the longest run seen before ``warmup`` readings
  ended... and after: score ``1 - longest / run`` once a run exceeds both ``stuck_min_run`` readings and the
  longest run seen so far (a series that was always flat is never "stuck").
* spike: a jump of more than ``spike_z`` mean absolute steps that reverses on the next reading scores, when
  the reversal arrives, ``1 - spike_z / jump`` (the reading before is the spike).
* stale: :meth:`DataQualityDetector.stale_scores` for a given clock: ``1 - stale_factor * cadence / age``
  for series silent longer than ``stale_factor`` times their observed median spacing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import Detector, FloatArray, IntArray
from vitals.units import NS_PER_S

CHECKS: tuple[str, ...] = ("impossible", "stuck", "spike", "stale")


class DataQualityDetector(Detector):
    """Scores in [0, 1] per reading: the maximum of the impossible, stuck and spike checks."""

    def __init__(self, *, valid_min: npt.ArrayLike | None = None, valid_max: npt.ArrayLike | None = None,
                 stuck_min_run: int = 12, spike_z: float = 8.0, stale_factor: float = 5.0,
                 warmup: int = 60, step_rate: float = 0.01) -> None:
        self.valid_min = valid_min
        self.valid_max = valid_max
        self.stuck_min_run = stuck_min_run
        self.spike_z = spike_z
        self.stale_factor = stale_factor
        self.warmup = warmup
        self.step_rate = step_rate

    def _allocate(self, n: int) -> None:
        self.vmin_ = np.broadcast_to(np.asarray(
            -np.inf if self.valid_min is None else self.valid_min, dtype=np.float64), (n,)).copy()
        self.vmax_ = np.broadcast_to(np.asarray(
            np.inf if self.valid_max is None else self.valid_max, dtype=np.float64), (n,)).copy()
        self.count_ = np.zeros(n, dtype=np.int64)
        self.last_value_ = np.full(n, np.nan)
        self.last_step_ = np.zeros(n)
        self.last_ts_ = np.zeros(n, dtype=np.int64)
        self.spacing_s_ = np.zeros(n)
        self.step_scale_ = np.zeros(n)
        self.run_ = np.zeros(n, dtype=np.int64)
        self.longest_run_ = np.zeros(n, dtype=np.int64)
        self.check_scores_ = np.zeros((len(CHECKS), n))

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        count = self.count_[s]
        warm = count > self.warmup
        impossible = ((v < self.vmin_[s]) | (v > self.vmax_[s]) | ~np.isfinite(v)).astype(np.float64)
        same = v == self.last_value_[s]
        run = np.where(same, self.run_[s] + 1, 1)
        longest = self.longest_run_[s]
        over = warm & (run >= self.stuck_min_run) & (run > longest)
        stuck = np.where(over, 1.0 - np.maximum(longest, self.stuck_min_run - 1) / np.maximum(run, 1), 0.0)
        step = v - self.last_value_[s]
        scale = np.maximum(self.step_scale_[s], 1e-9)
        prev_jump = np.abs(self.last_step_[s]) / scale
        reverses = np.sign(step) == -np.sign(self.last_step_[s])
        spike_ok = warm & reverses & (prev_jump > self.spike_z) & (np.abs(step) > 0.5 * np.abs(self.last_step_[s]))
        spike = np.where(spike_ok, 1.0 - self.spike_z / np.maximum(prev_jump, self.spike_z), 0.0)
        self._learn(s, t, v, count=count, run=run, longest=longest, step=step)
        self.check_scores_[0, s], self.check_scores_[1, s], self.check_scores_[2, s] = impossible, stuck, spike
        return np.maximum(np.maximum(impossible, stuck), spike)

    def _learn(self, s: IntArray, t: IntArray, v: FloatArray, *, count: IntArray, run: IntArray, longest: IntArray,
               step: FloatArray) -> None:
        finite_step = np.where(np.isfinite(step), np.abs(step), 0.0)
        rate = np.maximum(1.0 / (count + 1.0), self.step_rate)
        self.step_scale_[s] = self.step_scale_[s] + rate * (finite_step - self.step_scale_[s])
        gap = (t - self.last_ts_[s]) / NS_PER_S
        spacing = self.spacing_s_[s]
        self.spacing_s_[s] = np.where(count == 0, 0.0, np.where(spacing == 0, gap, spacing + 0.05 * (gap - spacing)))
        ended = run == 1
        self.longest_run_[s] = np.where(ended & (count > 0), np.maximum(longest, self.run_[s]), longest)
        self.run_[s] = run
        self.last_step_[s] = np.where(np.isfinite(step), step, 0.0)
        self.last_value_[s], self.last_ts_[s], self.count_[s] = v, t, count + 1

    def stale_scores(self, now_ns: int) -> FloatArray:
        """Staleness of every series at ``now_ns`` in [0, 1) (0 for fresh series and those never seen)."""
        self._check_fitted()
        age = (now_ns - self.last_ts_) / NS_PER_S
        limit = self.stale_factor * np.maximum(self.spacing_s_, 1e-9)
        stale = (self.count_ > 1) & (age > limit)
        score = np.where(stale, 1.0 - limit / np.maximum(age, 1e-9), 0.0)
        self.check_scores_[3] = score
        return score
