"""NAB's windowed Gaussian reference detector (numenta/NAB ``nab/detectors/gaussian``), per series.

Published description: the score of a reading is ``1 - Q(|x - mean| / std)``, ``Q`` the Gaussian tail
probability ``Q(z) = erfc(z / sqrt 2) / 2``, with ``mean`` and ``std`` (population, ``ddof=0``; ``1e-6`` when
zero) of a window of earlier readings. The window grows one reading at a time up to ``window_size`` (mean and
std recomputed after every reading); once full it slides by ``step_size`` readings at a time (the statistics
are recomputed only then). The first reading of a series scores 0. Scores lie in [0.5, 1) after the first
reading, so NAB's threshold optimization, not the score itself, decides what counts. NAB's tuned setting is
``window_size=6400, step_size=100``.

Uses no input range. Non-finite readings score 0 and are not learned. ``warmup`` (0 in NAB) scores the
first readings of a series 0. The window is per-series Python state (about ``8 * (window_size + step_size)``
bytes per series): a reference for the NAB harness, not meant for tens of thousands of series.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

from vitals.detectors.base import Detector, FloatArray, IntArray
from vitals.errors import ModelError

MIN_STD = 1e-6


def gaussian_tail_score(x: FloatArray, mean: FloatArray, std: FloatArray) -> FloatArray:
    """``1 - Q(|x - mean| / std)``: the Gaussian two-sided distance of ``x`` expressed as a probability."""
    z = np.abs(x - mean) / std
    return np.asarray(1.0 - 0.5 * erfc(z / math.sqrt(2.0)), dtype=np.float64)


class WindowedGaussianDetector(Detector):
    """Gaussian tail score against a growing, then stepwise sliding window of past readings."""

    uses_input_range = False
    uses_probation = False
    # the NAB-fit threshold (standard profile, 41 development files; abs z of about 7.4): the scores lie in
    # [0.5, 1), so score_series' fallback of 0.40 would make every reading a detection
    decision_threshold = 0.999999999999955

    def __init__(self, *, window_size: int = 6400, step_size: int = 100, warmup: int = 0) -> None:
        self.window_size = window_size
        self.step_size = step_size
        self.warmup = warmup

    def _allocate(self, n: int) -> None:
        if self.window_size < 1 or not 1 <= self.step_size <= self.window_size:
            msg = f"need 1 <= step_size <= window_size, got step_size={self.step_size}, window={self.window_size}"
            raise ModelError(msg)
        self.count_ = np.zeros(n, dtype=np.int64)
        self.filled_ = np.zeros(n, dtype=np.int64)     # readings in the window (window_size once full)
        self.pending_ = np.zeros(n, dtype=np.int64)    # readings waiting for the next slide
        self.mean_ = np.zeros(n)
        self.std_ = np.ones(n)
        self.buffers_: list[FloatArray | None] = [None] * n

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        finite = np.isfinite(v)
        scored = finite & (self.filled_[s] > 0) & (self.count_[s] >= self.warmup)
        out = np.where(scored, gaussian_tail_score(v, self.mean_[s], self.std_[s]), 0.0)
        for i in np.flatnonzero(finite):
            self._learn(int(s[i]), float(v[i]))
        self.count_[s] += 1
        return out

    def _learn(self, i: int, x: float) -> None:
        buf = self.buffers_[i]
        if buf is None:
            buf = self.buffers_[i] = np.empty(self.window_size + self.step_size)
        filled = int(self.filled_[i])
        if filled < self.window_size:
            buf[filled] = x
            self.filled_[i] = filled + 1
            self._update_window(i, buf[: filled + 1])
            return
        pending = int(self.pending_[i])
        buf[filled + pending] = x
        if pending + 1 < self.step_size:
            self.pending_[i] = pending + 1
            return
        buf[: self.window_size] = buf[self.step_size:].copy()
        self.pending_[i] = 0
        self._update_window(i, buf[: self.window_size])

    def _update_window(self, i: int, window: FloatArray) -> None:
        self.mean_[i] = np.mean(window)
        std = float(np.std(window))
        self.std_[i] = std if std != 0.0 else MIN_STD
