"""Shared machinery of the detectors: the scikit-learn parameter rules (:class:`vitals.params.Parameters`, no
scikit-learn import), per-series state, batch rounds.

Every detector keeps its per-series state in numpy arrays indexed by a dense series index ``0..n_series-1``
(allocated by ``fit``) and scores a whole batch at once: ``update_score(series, ts_ns, values) -> scores``.
A batch may hold several readings of one series; they are processed in *rounds* (round k holds the k-th
reading of every series in the batch), so every round is one vectorized update with no per-reading loop.
Higher scores mean more anomalous; deciding is separate (:func:`classify`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

import numpy as np
import numpy.typing as npt

from vitals.errors import ModelError, NotFittedError
from vitals.params import Parameters

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def classify(scores: npt.ArrayLike, threshold: float) -> npt.NDArray[np.bool_]:
    """Detections: scores at or above the threshold (NAB's rule)."""
    return np.asarray(scores, dtype=np.float64) >= threshold


def occurrence_rounds(series: npt.NDArray[np.integer]) -> Iterator[IntArray]:
    """Positions of a batch split into rounds with at most one reading per series, batch order kept."""
    n = series.shape[0]
    if n == 0:
        return
    order = np.argsort(series, kind="stable")
    sorted_series = series[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_series[1:] != sorted_series[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    for k in range(int(rank.max()) + 1):
        yield np.flatnonzero(rank == k)


class Detector(Parameters):
    """Base of the streaming detectors: scikit-learn parameter rules plus per-series array state.

    Subclasses implement ``_allocate(n_series)`` and ``_step(series, ts_ns, values) -> raw scores`` for one
    round (unique series). ``__init__`` only stores parameters; learned state ends in ``_``.

    NAB hands its detectors two figures of the whole file, known before its first row (NAB's convention, not
    causal in the strict sense); a detector that uses them says so, and the NAB harness
    (:func:`vitals.backtest.nab_run.build_detector`) passes them per file: ``uses_input_range`` (the file's
    minimum and maximum as the parameters ``input_min``/``input_max``) and ``uses_probation`` (NAB's
    probationary period as ``probation``).
    """

    uses_input_range: bool = False
    uses_probation: bool = False

    def fit(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike, *,
            n_series: int | None = None) -> Self:
        """Allocate state for ``n_series`` series and learn from history (time-ordered per series)."""
        s, t, v = _as_arrays(series, ts_ns, values)
        size = int(n_series if n_series is not None else (int(s.max()) + 1 if s.size else 0))
        if size <= 0 or (s.size and int(s.max()) >= size):
            msg = f"n_series={size} does not cover the series indices given (max {s.max() if s.size else '-'})"
            raise ModelError(msg)
        self.n_series_ = size
        self._allocate(size)
        self._learn_history(s, t, v)
        return self

    def update_score(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        """Score a batch (higher = more anomalous; 0 during warm-up), then learn from it."""
        self._check_fitted()
        s, t, v = _as_arrays(series, ts_ns, values)
        if s.shape[0] < 2 or bool(np.all(np.diff(np.sort(s)) != 0)):  # one reading per series: one round
            return np.asarray(self._step(s, t, v), dtype=np.float64)
        out = np.zeros(s.shape[0], dtype=np.float64)
        for pos in occurrence_rounds(s):
            out[pos] = self._step(s[pos], t[pos], v[pos])
        return out

    def score_history(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        """Alias of :meth:`update_score` for a whole history in one call (offline, still causal)."""
        return self.update_score(series, ts_ns, values)

    def _learn_history(self, s: IntArray, t: IntArray, v: FloatArray) -> None:
        if s.size:
            self.update_score(s, t, v)

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_series_"):
            msg = f"{type(self).__name__} is not fitted yet: call fit(series, ts_ns, values, n_series=N) first"
            raise NotFittedError(msg)

    def _allocate(self, n_series: int) -> None:
        raise NotImplementedError

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        raise NotImplementedError


def _as_arrays(series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> tuple[
        IntArray, IntArray, FloatArray]:
    s = np.asarray(series, dtype=np.int64).ravel()
    t = np.asarray(ts_ns, dtype=np.int64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if not (s.shape == t.shape == v.shape):
        msg = f"series, ts_ns and values must have one length, got {s.shape[0]}, {t.shape[0]}, {v.shape[0]}"
        raise ModelError(msg)
    return s, t, v


def per_series(param: npt.ArrayLike | None, n_series: int, default: float) -> FloatArray:
    """A scalar-or-per-series parameter as one float per series (``default`` where it is None)."""
    value = np.asarray(default if param is None else param, dtype=np.float64)
    if value.ndim > 1 or (value.ndim == 1 and value.shape[0] != n_series):
        msg = f"a per-series parameter needs one value or {n_series} values, got shape {value.shape}"
        raise ModelError(msg)
    return np.broadcast_to(value, (n_series,)).copy()
