"""IsolationForest on window features, one model per indicator family, scored at window close.

Readings are folded into per-series tumbling event-time windows (``window_s``; window id =
``ts // window``) held in arrays (count, sum, sum of squares, min, max, first, last). When a series'
window closes, its features are standardized by the series' own training centre and scale and every
closed window of the batch is scored at once by the model of its family (``IsolationForest.score_samples``
is *lower* = more abnormal, so it is negated), then calibrated to [0, 1] against the training windows of
that family (:class:`~vitals.detectors.calibration.QuantileCalibrator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

from vitals.detectors.base import FloatArray, IntArray, _as_arrays, occurrence_rounds
from vitals.detectors.calibration import QuantileCalibrator
from vitals.errors import ModelError, NotFittedError
from vitals.units import NS_PER_S

FEATURES: tuple[str, ...] = ("mean", "std", "min", "max", "range", "change")


@dataclass(frozen=True)
class WindowScores:
    series: IntArray
    window_start_ns: IntArray
    features: FloatArray   # standardized features, one row per closed window
    scores: FloatArray     # calibrated, in [0, 1]


def window_features(series: IntArray, window: IntArray, values: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Raw features of every (series, window) group of a history (any order within groups is fine for all
    features but ``change``, which needs time order)."""
    key = series * (int(window.max()) + 1 if window.size else 1) + (window - (int(window.min()) if window.size else 0))
    uniq, inverse = np.unique(key, return_inverse=True)
    k = uniq.size
    count = np.bincount(inverse, minlength=k).astype(np.float64)
    mean = np.bincount(inverse, values, k) / count
    var = np.maximum(np.bincount(inverse, values * values, k) / count - mean * mean, 0.0)
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    np.minimum.at(lo, inverse, values)
    np.maximum.at(hi, inverse, values)
    first_pos = np.full(k, values.size)
    last_pos = np.full(k, -1)
    positions = np.arange(values.size)
    np.minimum.at(first_pos, inverse, positions)
    np.maximum.at(last_pos, inverse, positions)
    feats = np.column_stack([mean, np.sqrt(var), lo, hi, hi - lo, values[last_pos] - values[first_pos]])
    return series[first_pos], window[first_pos], feats


class WindowFeatureModel(BaseEstimator):
    """Per-family IsolationForest over standardized window features (see module doc)."""

    def __init__(self, *, window_s: int = 3600, n_estimators: int = 100, max_samples: int | str = 256,
                 random_state: int = 0, min_count: int = 3) -> None:
        self.window_s = window_s
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.min_count = min_count

    def fit(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike, *, n_series: int,
            families: npt.ArrayLike | None = None) -> WindowFeatureModel:
        s, t, v = _as_arrays(series, ts_ns, values)
        if s.size == 0:
            msg = "WindowFeatureModel.fit needs training history (series, ts_ns, values)"
            raise ModelError(msg)
        fam = np.zeros(n_series, np.int64) if families is None else np.asarray(families, dtype=np.int64)
        self.family_ = fam
        self.centre_ = np.zeros(n_series)
        self.scale_ = np.ones(n_series)
        order = np.lexsort((t, s))
        s, t, v = s[order], t[order], v[order]
        seen = np.unique(s)
        bounds = np.searchsorted(s, seen), np.searchsorted(s, seen, side="right")
        medians = np.array([np.median(v[a:b]) for a, b in zip(*bounds, strict=True)])  # one per series
        mads = np.array([np.median(np.abs(v[a:b] - m)) for a, b, m in zip(*bounds, medians, strict=True)])
        self.centre_[seen], self.scale_[seen] = medians, np.maximum(mads * 1.4826, 1e-9 + 1e-3 * np.abs(medians))
        ws, _, raw = window_features(s, t // (self.window_s * NS_PER_S), v)
        x = self._standardize(ws, raw)
        self.models_: dict[int, IsolationForest] = {}
        raw_scores = np.zeros(x.shape[0])
        for f in np.unique(fam[ws]):
            rows = fam[ws] == f
            model = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                    random_state=self.random_state).fit(x[rows])
            self.models_[int(f)] = model
            raw_scores[rows] = -model.score_samples(x[rows])
        self.calibrator_ = QuantileCalibrator().fit(raw_scores, fam[ws])
        self._allocate(n_series)
        return self

    def _allocate(self, n: int) -> None:
        self.window_ = np.full(n, -1, dtype=np.int64)
        self.acc_ = np.zeros((7, n))  # count, sum, sumsq, min, max, first, last

    def _standardize(self, series: IntArray, raw: FloatArray) -> FloatArray:
        c, sc = self.centre_[series][:, None], self.scale_[series][:, None]
        x = raw.copy()
        x[:, [0, 2, 3]] = (raw[:, [0, 2, 3]] - c) / sc
        x[:, [1, 4, 5]] = raw[:, [1, 4, 5]] / sc
        return x

    def score_windows(self, series: IntArray, raw: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(standardized features, calibrated scores) of closed windows, all series at once per family."""
        if not hasattr(self, "models_"):
            msg = "WindowFeatureModel is not fitted: call fit(series, ts_ns, values, n_series=N) first"
            raise NotFittedError(msg)
        x = self._standardize(series, raw)
        fam = self.family_[series]
        raw_scores = np.zeros(series.shape[0])
        for f in np.unique(fam):
            rows = fam == f
            model = self.models_.get(int(f))
            if model is not None:
                raw_scores[rows] = -model.score_samples(x[rows])
        return x, self.calibrator_.transform(raw_scores, fam)

    def update(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> WindowScores:
        """Fold a batch into the open windows; score the windows it closes."""
        if not hasattr(self, "window_"):
            msg = "WindowFeatureModel is not fitted: call fit(...) first"
            raise NotFittedError(msg)
        s, t, v = _as_arrays(series, ts_ns, values)
        closed_s: list[IntArray] = []
        closed_w: list[IntArray] = []
        closed_f: list[FloatArray] = []
        for pos in occurrence_rounds(s):
            rs, rw, rv = s[pos], t[pos] // (self.window_s * NS_PER_S), v[pos]
            closing = (self.window_[rs] >= 0) & (rw > self.window_[rs]) & (self.acc_[0, rs] >= self.min_count)
            if np.any(closing):
                cs = rs[closing]
                a = self.acc_[:, cs]
                mean = a[1] / a[0]
                std = np.sqrt(np.maximum(a[2] / a[0] - mean * mean, 0.0))
                closed_s.append(cs)
                closed_w.append(self.window_[cs])
                closed_f.append(np.column_stack([mean, std, a[3], a[4], a[4] - a[3], a[6] - a[5]]))
            self._accumulate(rs, rw, rv)
        if not closed_s:
            empty = np.empty(0, np.int64)
            return WindowScores(empty, empty, np.empty((0, len(FEATURES))), np.empty(0))
        cs_all = np.concatenate(closed_s)
        x, scores = self.score_windows(cs_all, np.vstack(closed_f))
        return WindowScores(cs_all, np.concatenate(closed_w) * self.window_s * NS_PER_S, x, scores)

    def _accumulate(self, s: IntArray, w: IntArray, v: FloatArray) -> None:
        new = w != self.window_[s]
        a = self.acc_
        a[0, s] = np.where(new, 1.0, a[0, s] + 1.0)
        a[1, s] = np.where(new, v, a[1, s] + v)
        a[2, s] = np.where(new, v * v, a[2, s] + v * v)
        a[3, s] = np.where(new, v, np.minimum(a[3, s], v))
        a[4, s] = np.where(new, v, np.maximum(a[4, s], v))
        a[5, s] = np.where(new, v, a[5, s])
        a[6, s] = v
        self.window_[s] = np.where(new, w, self.window_[s])
