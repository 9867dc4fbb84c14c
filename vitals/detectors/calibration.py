"""Calibration of raw detector scores to [0, 1] against their training distribution.

* :class:`QuantileCalibrator` (offline): the empirical CDF of the raw scores seen in training, with an
  exponential tail beyond the largest training score, so a score of 0.99 means "higher than 99% of training".
* :class:`OnlineTailCalibrator` (streaming, per series): the training distribution is the series' own past.
  It tracks a robust centre ``m`` and mean absolute deviation ``d`` of ``raw ** power`` (learning rate
  ``1/k``, never below ``rate``) and turns a raw score into the tail statistic ``u = (raw**power - m) / d``;
  :func:`squash` maps ``u >= 0`` to ``u / (u + half)`` in [0, 1).
* :class:`SurpriseCalibrator` (streaming, per series, non-parametric): the rank of a raw score among the
  series' own past, as the surprise ``-log10 P(X >= x)`` from a small decaying histogram. It needs no
  distributional assumption, so sparse spiky series (mostly flat, rare bursts) are judged by how often such
  magnitudes really occurred, where a mean/deviation statistic would call every burst extreme.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import FloatArray, IntArray
from vitals.errors import ModelError, NotFittedError
from vitals.params import Parameters


def squash(u: FloatArray, half: float = 10.0) -> FloatArray:
    """Map a non-negative tail statistic to [0, 1): 0 -> 0, ``half`` -> 0.5, infinity -> 1."""
    pos = np.where(u > 0.0, np.minimum(u, 1e12), 0.0)  # NaN and negatives -> 0, +inf -> 1e12
    return pos / (pos + half)


class QuantileCalibrator(Parameters):
    """Empirical CDF of training scores (per group, e.g. indicator family) with an exponential upper tail."""

    def __init__(self, *, n_quantiles: int = 200, tail_fraction: float = 0.01) -> None:
        self.n_quantiles = n_quantiles
        self.tail_fraction = tail_fraction

    def fit(self, raw: npt.ArrayLike, groups: npt.ArrayLike | None = None) -> QuantileCalibrator:
        x = np.asarray(raw, dtype=np.float64).ravel()
        g = np.zeros(x.shape[0], np.int64) if groups is None else np.asarray(groups, dtype=np.int64).ravel()
        if x.size == 0 or not np.all(np.isfinite(x)):
            msg = "QuantileCalibrator.fit needs a non-empty array of finite training scores"
            raise ModelError(msg)
        probs = np.linspace(0.0, 1.0, self.n_quantiles)
        n_groups = int(g.max()) + 1
        self.quantiles_ = np.tile(np.quantile(x, probs), (n_groups, 1))
        for k in np.unique(g):
            self.quantiles_[k] = np.quantile(x[g == k], probs)
        q = self.quantiles_
        tail_start = np.quantile(x, 1.0 - self.tail_fraction)
        self.tail_scale_ = np.maximum(q[:, -1] - np.minimum(q[:, -2], tail_start), 1e-12)
        self.probs_ = probs
        return self

    def transform(self, raw: npt.ArrayLike, groups: npt.ArrayLike | None = None) -> FloatArray:
        if not hasattr(self, "quantiles_"):
            msg = "QuantileCalibrator is not fitted: call fit(training_scores) first"
            raise NotFittedError(msg)
        x = np.asarray(raw, dtype=np.float64).ravel()
        g = np.zeros(x.shape[0], np.int64) if groups is None else np.asarray(groups, dtype=np.int64).ravel()
        g = np.clip(g, 0, self.quantiles_.shape[0] - 1)
        out = np.empty(x.shape[0])
        for k in np.unique(g):
            sel = g == k
            q = self.quantiles_[k]
            inside = np.interp(x[sel], q, self.probs_)
            beyond = x[sel] > q[-1]
            excess = (x[sel] - q[-1]) / self.tail_scale_[k]
            tail = 1.0 - (1.0 - self.probs_[-2]) * np.exp(-np.maximum(excess, 0.0))
            out[sel] = np.where(beyond, tail, inside * self.probs_[-2] / self.probs_[-1])
        return np.clip(out, 0.0, 1.0)


class OnlineTailCalibrator(Parameters):
    """Per-series online tail statistic of raw scores against the series' own past (see module doc)."""

    def __init__(self, *, power: float = 0.5, rate: float = 0.0005, start: int = 60) -> None:
        self.power = power
        self.rate = rate
        self.start = start

    def allocate(self, n_series: int) -> OnlineTailCalibrator:
        self.count_ = np.zeros(n_series, dtype=np.int64)
        self.centre_ = np.zeros(n_series)
        self.spread_ = np.zeros(n_series)
        return self

    def update(self, s: IntArray, raw: FloatArray, active: npt.NDArray[np.bool_]) -> FloatArray:
        """Tail statistic of each raw score (0 until ``start`` active scores were seen), then learn it."""
        if not hasattr(self, "count_"):
            msg = "OnlineTailCalibrator is not allocated: call allocate(n_series) first"
            raise NotFittedError(msg)
        f = np.abs(raw) ** self.power
        k = self.count_[s]
        centre, spread = self.centre_[s], self.spread_[s]
        u = (f - centre) / np.maximum(spread, 1e-6 * np.abs(centre) + 1e-12)
        ready = active & (k >= self.start)
        rate = np.maximum(1.0 / (k + 1.0), self.rate)
        d = f - centre
        self.centre_[s] = np.where(active, centre + rate * d, centre)
        self.spread_[s] = np.where(active, np.where(k == 0, 0.0, spread + rate * (np.abs(d) - spread)), spread)
        self.count_[s] = k + active
        return np.where(ready, u, 0.0)


class SurpriseCalibrator(Parameters):
    """Per-series surprise ``-log10 P(X >= x)`` of a position ``x >= 0`` against the series' own past.

    ``x`` is binned in ``bins`` unit-width bins (the last one open-ended) on each of ``sides`` sides (e.g. the
    sign of a residual, so that a drop is judged against past drops). Counts decay by ``1 - rate`` per
    reading (memory of about ``1 / rate`` readings, float32 to keep state small). ``P`` interpolates inside
    the bin and adds ``prior`` pseudo-counts spread on a geometric tail ``2^(-x / tail)``: a magnitude never
    seen keeps growing more surprising, smoothly, instead of saturating at the histogram's resolution.
    """

    def __init__(self, *, bins: int = 16, sides: int = 1, rate: float = 0.0005, prior: float = 1.0,
                 tail: float = 4.0, start: int = 60) -> None:
        self.bins = bins
        self.sides = sides
        self.rate = rate
        self.prior = prior
        self.tail = tail
        self.start = start

    def allocate(self, n_series: int) -> SurpriseCalibrator:
        self.counts_ = np.zeros((n_series, self.sides, self.bins), dtype=np.float32)
        self.total_ = np.zeros(n_series)
        self.seen_ = np.zeros(n_series, dtype=np.int64)
        return self

    def update(self, s: IntArray, x: FloatArray, side: IntArray, active: npt.NDArray[np.bool_]) -> FloatArray:
        """Surprise of each position (0 until ``start`` active readings were seen), then learn it."""
        if not hasattr(self, "counts_"):
            msg = "SurpriseCalibrator is not allocated: call allocate(n_series) first"
            raise NotFittedError(msg)
        rows = np.arange(s.shape[0])
        counts = self.counts_[s]
        mine = counts[rows, side]
        b = np.minimum(x.astype(np.int64), self.bins - 1)
        above = np.cumsum(mine[:, ::-1], axis=1)[:, ::-1][rows, b]
        tail_mass = above - np.minimum(x - b, 1.0) * mine[rows, b]  # x >= b
        total = self.total_[s]
        p = (tail_mass + self.prior * np.exp2(-x / self.tail)) / (total + self.prior)
        surprise = -np.log10(np.minimum(np.maximum(p, 1e-300), 1.0))  # np.clip costs 4 us a call
        keep = np.where(active, np.float32(1.0 - self.rate), np.float32(1.0))
        counts *= keep[:, None, None]
        counts[rows, side, b] += active
        self.counts_[s] = counts
        self.total_[s] = np.where(active, total * (1.0 - self.rate) + 1.0, total)
        ready = active & (self.seen_[s] >= self.start)
        self.seen_[s] += active
        return np.where(ready, surprise, 0.0)
