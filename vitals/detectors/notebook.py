"""Detectors on pandas data, for analysts: :func:`score_series` and a scikit-learn-style wrapper.

Input: a ``pd.Series`` (one series) or a *wide* ``pd.DataFrame`` (one column per series), both indexed by a
``DatetimeIndex`` (tz-naive is read as UTC). A NaN cell is a missing reading: it is not scored (NaN score, no
anomaly). Rows are streamed in input order (never sorted; duplicated or backward timestamps are passed on as
they come), through the same causal :meth:`~vitals.detectors.base.Detector.update_score` the flow uses, so
row ``k`` depends only on rows up to ``k``. A long table (``timestamp, series, value``) becomes wide with
``df.pivot(index="timestamp", columns="series", values="value")``.

Scores: higher = more anomalous (the opposite sign of scikit-learn's ``IsolationForest.score_samples``).
The decision is ``score >= threshold``; the default threshold is the detector's ``decision_threshold``
attribute if it has one, else :data:`vitals.metric_names.ANOMALY_THRESHOLD` (0.40, the default detector's
NAB-optimal threshold).
"""

from __future__ import annotations

import copy
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, clone

from vitals.detectors.base import Detector, FloatArray, IntArray
from vitals.detectors.registry import DETECTORS
from vitals.errors import ModelError, NotFittedError
from vitals.metric_names import ANOMALY_THRESHOLD

FIELDS: tuple[str, ...] = ("value", "score", "expected", "lower", "upper", "is_anomaly")


def build_detector(detector: str | Detector, **params: Any) -> Detector:
    """A new unfitted detector: by registered name (with ``params``), or a clone of an instance."""
    if isinstance(detector, str):
        return DETECTORS.create(detector, **params)
    if params:
        msg = f"parameters {sorted(params)} go with a detector name; set them on the {type(detector).__name__} instead"
        raise ModelError(msg)
    return clone(detector)


def decision_threshold(detector: Detector) -> float:
    """The detector's documented decision threshold (``decision_threshold``), else ``ANOMALY_THRESHOLD``."""
    return float(getattr(detector, "decision_threshold", ANOMALY_THRESHOLD))


def score_series(data: pd.Series | pd.DataFrame, detector: str | Detector = "default", threshold: float | None = None,
                 **params: Any) -> pd.DataFrame:
    """Score every row causally; one output row per input row, in input order, same index.

    Columns ``value, score, expected, lower, upper, is_anomaly`` (the band is NaN for detectors without
    ``band(series)``). For a wide DataFrame the columns are a MultiIndex ``(series, field)``:
    ``out["cpu"]`` is the frame of column ``cpu``, ``out.xs("score", axis=1, level=1)`` all its scores.
    """
    index, ts_ns, values = _table(data)
    det = build_detector(detector, **params).fit([], [], [], n_series=values.shape[1])
    cut = decision_threshold(det) if threshold is None else threshold
    score, lower, expected, upper = _stream(det, ts_ns, values, with_band=True)
    frames = [pd.DataFrame({"value": values[:, j], "score": score[:, j], "expected": expected[:, j],
                            "lower": lower[:, j], "upper": upper[:, j], "is_anomaly": score[:, j] >= cut},
                           index=index) for j in range(values.shape[1])]
    if isinstance(data, pd.Series):
        return frames[0]
    return pd.concat(dict(zip(data.columns, frames, strict=True)), axis=1, names=["series", "field"])


class NotebookDetector(BaseEstimator):
    """scikit-learn conventions on pandas input: ``fit(train)``, ``score_samples(test)``, ``decision_function``.

    ``fit`` streams the training data through a new detector; ``score_samples`` continues from that state on
    a copy (so repeated calls give the same scores; the test rows are taken to follow the training rows in
    time) and returns scores shaped like its input (a Series or a wide DataFrame). Higher = more anomalous,
    unlike ``IsolationForest.score_samples``. ``decision_function = score - threshold_``: ``>= 0`` is an
    anomaly (NaN for missing readings).
    """

    def __init__(self, detector: str | Detector = "default", *, threshold: float | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self.detector = detector
        self.threshold = threshold
        self.params = params

    def fit(self, X: pd.Series | pd.DataFrame, y: object = None) -> NotebookDetector:
        _, ts_ns, values = _table(X)
        self.detector_ = build_detector(self.detector, **(self.params or {}))
        rows, cols = np.nonzero(np.isfinite(values))
        self.detector_.fit(cols, ts_ns[rows], values[rows, cols], n_series=values.shape[1])
        self.columns_ = _columns(X)
        self.threshold_ = decision_threshold(self.detector_) if self.threshold is None else float(self.threshold)
        return self

    @overload
    def score_samples(self, X: pd.Series) -> pd.Series: ...
    @overload
    def score_samples(self, X: pd.DataFrame) -> pd.DataFrame: ...
    def score_samples(self, X: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        if not hasattr(self, "detector_"):
            msg = "NotebookDetector is not fitted yet: call fit(training_series) first"
            raise NotFittedError(msg)
        if _columns(X) != self.columns_:
            msg = f"score_samples needs the columns seen in fit {self.columns_}, got {_columns(X)}"
            raise ModelError(msg)
        _, ts_ns, values = _table(X)
        score = _stream(copy.deepcopy(self.detector_), ts_ns, values, with_band=False)[0]
        if isinstance(X, pd.Series):
            return pd.Series(score[:, 0], index=X.index, name=X.name)
        return pd.DataFrame(score, index=X.index, columns=X.columns)

    @overload
    def decision_function(self, X: pd.Series) -> pd.Series: ...
    @overload
    def decision_function(self, X: pd.DataFrame) -> pd.DataFrame: ...
    def decision_function(self, X: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        return self.score_samples(X) - self.threshold_


def make_detector(detector: str | Detector = "default", *, threshold: float | None = None,
                  **params: Any) -> NotebookDetector:
    """``make_detector("default").fit(train)``: a :class:`NotebookDetector` of a registered name or instance."""
    return NotebookDetector(detector, threshold=threshold, params=params or None)


def _columns(data: pd.Series | pd.DataFrame) -> list[Any]:
    return [data.name] if isinstance(data, pd.Series) else list(data.columns)


def _table(data: pd.Series | pd.DataFrame) -> tuple[pd.DatetimeIndex, IntArray, FloatArray]:
    """(index, timestamps in ns, values as rows x series) of a Series or wide DataFrame."""
    if not isinstance(data, pd.Series | pd.DataFrame):
        msg = f"expected a pandas Series or DataFrame, got {type(data).__name__}"
        raise ModelError(msg)
    index = data.index
    if not isinstance(index, pd.DatetimeIndex) or index.hasnans:
        msg = ("the data needs a DatetimeIndex without NaT, e.g. pd.read_csv(path, index_col='timestamp', "
               "parse_dates=True)")
        raise ModelError(msg)
    try:
        values = data.to_numpy(dtype=np.float64).reshape(len(index), -1)
    except (TypeError, ValueError) as exc:
        msg = f"the data must be numeric (one column per series): {exc}"
        raise ModelError(msg) from exc
    return index, index.as_unit("ns").asi8.astype(np.int64), values


def _stream(det: Detector, ts_ns: IntArray, values: FloatArray, *, with_band: bool) -> npt.NDArray[np.float64]:
    """(score, lower, expected, upper) as (4, rows, series) arrays; one ``update_score`` per row with a band.

    Without a band all rows go in one batch (the detector splits it into rounds: the same scores).
    """
    out = np.full((4, *values.shape), np.nan)
    live = np.isfinite(values)
    band = getattr(det, "band", None) if with_band else None
    if band is None:
        rows, cols = np.nonzero(live)
        out[0, rows, cols] = det.update_score(cols, ts_ns[rows], values[rows, cols])
        return out
    series = np.arange(values.shape[1])
    for row in np.flatnonzero(live.any(axis=1)):
        s = series[live[row]]
        out[0, row, s] = det.update_score(s, np.full(s.size, ts_ns[row]), values[row, s])
        out[1:, row, s] = band(s)
    return out
