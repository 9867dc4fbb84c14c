"""Seasonal robust baseline: per-series time-of-day and time-of-week profiles plus a flat level.

For every series three predictors run side by side: a flat robust level, a daily profile (``day_slots``
slots of the day) and a weekly profile (``week_slots`` slots of the week). Each slot holds a robust centre
and a mean absolute deviation, updated online with Huber-clipped steps (learning rate ``1/(count+1)``,
never below ``slot_rate``); a profile is only used for a slot seen ``min_slot_count`` times. The predictor
with the smallest recent absolute z-error wins for that series (so a non-seasonal series falls back to the
flat level). Its residual z = (value - expected) / scale is the raw score ``|z|``; expected and the band
``expected +- band_z * scale`` are kept for dashboards and explanations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import Detector, FloatArray, IntArray
from vitals.units import DAY_S, NS_PER_S, WEEK_S

_COUNT_MAX = 30_000  # slot counts saturate (int16); beyond it the learning rate is slot_rate anyway


class SeasonalBaseline(Detector):
    """Robust seasonal baseline giving a residual z-score per reading (raw score ``|z|``)."""

    def __init__(self, *, day_slots: int = 96, week_slots: int = 336, slot_rate: float = 0.1,
                 level_rate: float = 0.002, error_rate: float = 0.01, clip: float = 4.0,
                 min_slot_count: int = 2, warmup: int = 60, band_z: float = 3.0) -> None:
        self.day_slots = day_slots
        self.week_slots = week_slots
        self.slot_rate = slot_rate
        self.level_rate = level_rate
        self.error_rate = error_rate
        self.clip = clip
        self.min_slot_count = min_slot_count
        self.warmup = warmup
        self.band_z = band_z

    @property
    def decision_threshold(self) -> float:
        """The score is ``|z|``: a reading outside the band (``band_z`` scales) is a detection."""
        return self.band_z

    def _allocate(self, n: int) -> None:
        self.count_ = np.zeros(n, dtype=np.int64)
        self.level_ = np.zeros(n)
        self.level_dev_ = np.zeros(n)
        self.level_err_ = np.zeros(n)
        # both profiles side by side in one array per statistic: columns [0, day_slots) are the daily slots,
        # [day_slots, day_slots + week_slots) the weekly ones (float32 / int16: half the memory of float64)
        slots = self.day_slots + self.week_slots
        self.mid_ = np.zeros((n, slots), dtype=np.float32)
        self.dev_ = np.zeros((n, slots), dtype=np.float32)
        self.slot_count_ = np.zeros((n, slots), dtype=np.int16)
        self.profile_err_ = np.zeros((n, 2))
        self.expected_ = np.full(n, np.nan)
        self.scale_ = np.full(n, np.nan)
        self.z_ = np.zeros(n)
        self.model_ = np.zeros(n, dtype=np.int8)  # 0 flat, 1 daily, 2 weekly

    def _slots(self, t: IntArray) -> IntArray:
        """Column of the daily and of the weekly slot of each timestamp, shape (m, 2)."""
        sec = t // NS_PER_S
        day = (sec % DAY_S) * self.day_slots // DAY_S
        week = self.day_slots + (sec % WEEK_S) * self.week_slots // WEEK_S
        return np.stack([day, week], axis=1)

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        first = self.count_[s] == 0
        level = np.where(first, v, self.level_[s])
        floor = 1e-9 + 1e-3 * np.abs(level)
        level_scale = np.maximum(self.level_dev_[s], floor)
        z_flat = (v - level) / level_scale
        rows, cols = s[:, None], self._slots(t)
        mid = self.mid_[rows, cols].astype(np.float64)
        dev = self.dev_[rows, cols].astype(np.float64)
        cnt = self.slot_count_[rows, cols]
        slot_scale = np.maximum(np.maximum(dev, 0.2 * level_scale[:, None]), floor[:, None])
        z_k = (v[:, None] - mid) / slot_scale
        usable = cnt >= self.min_slot_count
        # the predictor with the smallest tracked error wins (ties: the simpler one, flat before daily before weekly)
        err = np.column_stack([self.level_err_[s], np.where(usable, self.profile_err_[s], np.inf)])
        model = np.argmin(err, axis=1)
        at = (np.arange(s.shape[0]), np.maximum(model - 1, 0))
        profile = model > 0
        z = np.where(profile, z_k[at], z_flat)
        scale = np.where(profile, slot_scale[at], level_scale)
        expected = np.where(profile, mid[at], level)
        self._learn(s, v, first=first, level=level, level_scale=level_scale, z_flat=z_flat,
                    slots=(cols, mid, dev, cnt, slot_scale, z_k, usable))
        self.expected_[s], self.scale_[s], self.z_[s] = expected, scale, z
        self.model_[s] = model.astype(np.int8)
        warm = self.count_[s] > self.warmup
        return np.where(warm, np.abs(z), 0.0)

    def _learn(self, s: IntArray, v: FloatArray, *, first: npt.NDArray[np.bool_], level: FloatArray,
               level_scale: FloatArray, z_flat: FloatArray, slots: tuple[IntArray, FloatArray, FloatArray,
                                                                          npt.NDArray[np.int16], FloatArray,
                                                                          FloatArray, npt.NDArray[np.bool_]]) -> None:
        c = self.clip
        count = self.count_[s]
        rate = np.maximum(1.0 / (count + 1.0), self.level_rate)
        resid = v - level
        err = self.level_err_[s]
        self.level_err_[s] = np.where(first, err, err + self.error_rate * (np.minimum(np.abs(z_flat), c) - err))
        bound = c * level_scale
        self.level_[s] = level + rate * np.minimum(np.maximum(resid, -bound), bound)
        self.level_dev_[s] = np.where(first, 0.0, self.level_dev_[s] + rate * (np.abs(resid) - self.level_dev_[s]))
        cols, mid, dev, cnt, slot_scale, z_k, usable = slots
        err_k = self.profile_err_[s]
        tracked = err_k + self.error_rate * (np.minimum(np.abs(z_k), c) - err_k)
        unseen = cnt == 0
        self.profile_err_[s] = np.where(usable, tracked, np.where(unseen, self.level_err_[s][:, None] + 1.0, err_k))
        step = np.maximum(1.0 / (cnt + 1.0), self.slot_rate)
        r = v[:, None] - mid
        rows = s[:, None]
        slot_bound = c * slot_scale
        huber = np.minimum(np.maximum(r, -slot_bound), slot_bound)
        self.mid_[rows, cols] = np.where(unseen, v[:, None], mid + step * huber)
        self.dev_[rows, cols] = np.where(unseen, level_scale[:, None], dev + step * (np.abs(r) - dev))
        self.slot_count_[rows, cols] = np.minimum(cnt + 1, _COUNT_MAX)
        self.count_[s] = count + 1

    def band(self, series: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(lower, expected, upper) of the last reading of each series (NaN before any reading)."""
        self._check_fitted()
        mid = self.expected_[series]
        half = self.band_z * self.scale_[series]
        return mid - half, mid, mid + half
