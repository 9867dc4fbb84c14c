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

from vitals.detectors.base import NS_PER_S, Detector, FloatArray, IntArray

_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S


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

    def _allocate(self, n: int) -> None:
        self.count_ = np.zeros(n, dtype=np.int64)
        self.level_ = np.zeros(n)
        self.level_dev_ = np.zeros(n)
        self.level_err_ = np.zeros(n)
        self.periods_ = np.array([_DAY_S, _WEEK_S], dtype=np.int64)
        slots = (self.day_slots, self.week_slots)
        self.mid_ = [np.zeros((n, k)) for k in slots]
        self.dev_ = [np.zeros((n, k)) for k in slots]
        self.slot_count_ = [np.zeros((n, k), dtype=np.int32) for k in slots]
        self.profile_err_ = np.zeros((2, n))
        self.expected_ = np.full(n, np.nan)
        self.scale_ = np.full(n, np.nan)
        self.z_ = np.zeros(n)
        self.model_ = np.zeros(n, dtype=np.int8)  # 0 flat, 1 daily, 2 weekly

    def _slot(self, k: int, t: IntArray) -> IntArray:
        n_slots = self.mid_[k].shape[1]
        period = int(self.periods_[k])
        return ((t // NS_PER_S) % period) * n_slots // period

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        first = self.count_[s] == 0
        level = np.where(first, v, self.level_[s])
        floor = 1e-9 + 1e-3 * np.abs(level)
        level_scale = np.maximum(self.level_dev_[s], floor)
        z_flat = (v - level) / level_scale
        z, scale, expected = z_flat.copy(), level_scale.copy(), level.copy()
        best_err = self.level_err_[s].copy()
        model = np.zeros(s.shape[0], dtype=np.int8)
        slots = []
        for k in range(2):
            slot = self._slot(k, t)
            mid, dev, cnt = self.mid_[k][s, slot], self.dev_[k][s, slot], self.slot_count_[k][s, slot]
            slot_scale = np.maximum(np.maximum(dev, 0.2 * level_scale), floor)
            z_k = (v - mid) / slot_scale
            usable = cnt >= self.min_slot_count
            use = usable & (self.profile_err_[k, s] < best_err)
            z = np.where(use, z_k, z)
            scale = np.where(use, slot_scale, scale)
            expected = np.where(use, mid, expected)
            best_err = np.where(use, self.profile_err_[k, s], best_err)
            model = np.where(use, k + 1, model).astype(np.int8)
            slots.append((slot, mid, dev, cnt, slot_scale, z_k, usable))
        self._learn(s, v, first=first, level=level, level_scale=level_scale, z_flat=z_flat, slots=slots)
        self.expected_[s], self.scale_[s], self.z_[s], self.model_[s] = expected, scale, z, model
        warm = self.count_[s] > self.warmup
        return np.where(warm, np.abs(z), 0.0)

    def _learn(self, s: IntArray, v: FloatArray, *, first: np.ndarray, level: FloatArray, level_scale: FloatArray,
               z_flat: FloatArray, slots: list[tuple[IntArray, FloatArray, FloatArray, np.ndarray, FloatArray,
                                                     FloatArray, np.ndarray]]) -> None:
        c = self.clip
        count = self.count_[s]
        rate = np.maximum(1.0 / (count + 1.0), self.level_rate)
        resid = v - level
        err = self.level_err_[s]
        self.level_err_[s] = np.where(first, err, err + self.error_rate * (np.minimum(np.abs(z_flat), c) - err))
        self.level_[s] = level + rate * np.clip(resid, -c * level_scale, c * level_scale)
        self.level_dev_[s] = np.where(first, 0.0, self.level_dev_[s] + rate * (np.abs(resid) - self.level_dev_[s]))
        for k, (slot, mid, dev, cnt, slot_scale, z_k, usable) in enumerate(slots):
            err_k = self.profile_err_[k, s]
            tracked = err_k + self.error_rate * (np.minimum(np.abs(z_k), c) - err_k)
            self.profile_err_[k, s] = np.where(usable, tracked, np.where(cnt == 0, self.level_err_[s] + 1.0, err_k))
            step = np.maximum(1.0 / (cnt + 1.0), self.slot_rate)
            r = v - mid
            self.mid_[k][s, slot] = np.where(cnt == 0, v, mid + step * np.clip(r, -c * slot_scale, c * slot_scale))
            self.dev_[k][s, slot] = np.where(cnt == 0, level_scale, dev + step * (np.abs(r) - dev))
            self.slot_count_[k][s, slot] = cnt + 1
        self.count_[s] = count + 1

    def band(self, series: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(lower, expected, upper) of the last reading of each series (NaN before any reading)."""
        self._check_fitted()
        mid = self.expected_[series]
        half = self.band_z * self.scale_[series]
        return mid - half, mid, mid + half
