"""The Numenta Anomaly Benchmark (NAB v1.1) scoring method, vectorized with numpy.

It follows ``nab/sweeper.py`` (``Sweeper.calcSweepScore`` / ``calcScoreByThreshold``), ``nab/optimizer.py``
(one threshold for the whole corpus) and ``nab/runner.py`` (``normalize``) of numenta/NAB, with the cost
matrices of its ``config/profiles.json``. See ``docs/detectors.md`` for the formulas.

Per row ``i`` of a file with ``n`` rows (probation: the first ``min(floor(0.15 n), 750)`` rows are ignored):

* inside a window ``[l, r]`` of width ``w = r - l + 1``: ``y = -(r - i + 1) / w`` and the row is worth
  ``A_TP * sigma(y) / sigma(-1)`` if it is the earliest detection of the window (only that one counts);
* outside every window, after window ``[l, r]``: ``y = |r - i| / (w - 1)``, worth ``A_FP * sigma(y)`` (<= 0);
  before any window it is worth ``-A_FP``;
* a window without any detection costs ``-A_FN``;

with the scaled sigmoid ``sigma(y) = 2 / (1 + exp(5 y)) - 1`` (and ``-1`` for ``y >= 3``). A detection is a
row whose score is ``>= threshold``. The raw corpus score is normalized as
``100 * (raw - null) / (perfect - null)`` where *null* is the best raw score of a detector that outputs a
constant and *perfect* = number of windows * ``A_TP``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.errors import ConfigError

PROBATION_PERCENT = 0.15
PROBATION_MAX_ROWS = 750  # NAB: probationPercent * 5000


@dataclass(frozen=True)
class CostMatrix:
    """The weights of one NAB application profile."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostMatrix] = {
    "standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostMatrix(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostMatrix(tp=1.0, fp=0.11, fn=2.0),
}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def scaled_sigmoid(position: FloatArray | float) -> FloatArray:
    """NAB's ``scaledSigmoid``: 2 * sigmoid(-5 y) - 1, and -1 for y >= 3."""
    y = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):
        s = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y >= 3.0, -1.0, s)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> int:
    """Rows at the start of a file that NAB does not score: ``min(floor(p * n), p * 5000)``."""
    return int(min(np.floor(percent * n_rows), percent * 5000))


def window_indices(timestamps: npt.NDArray[np.datetime64], windows: Sequence[tuple[object, object]]) -> list[
        tuple[int, int]]:
    """Row positions ``(left, right)`` of each window, matched by timestamp equality as NAB does.

    NAB enters a window at the first row (after the previous window) whose timestamp equals the window start,
    takes as right edge the first row of the whole file stamped with the window end.
    """
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    out: list[tuple[int, int]] = []
    search_from = 0
    for start, end in windows:
        t1, t2 = np.datetime64(str(start), "ns"), np.datetime64(str(end), "ns")
        hits = np.flatnonzero(ts[search_from:] == t1)
        right_hits = np.flatnonzero(ts == t2)
        if hits.size == 0 or right_hits.size == 0:
            msg = f"label window [{start}, {end}] does not match any row timestamps; check the labels file"
            raise ConfigError(msg)
        left = search_from + int(hits[0])
        right = int(right_hits[0])
        exit_hits = np.flatnonzero(ts[left:] == t2)
        search_from = left + int(exit_hits[0]) + 1 if exit_hits.size else ts.size
        out.append((left, right))
    return out


@dataclass(frozen=True)
class SweepRows:
    """Per-row weights of one file: what each row is worth if it is a detection."""

    scores: FloatArray        # the detector's anomaly scores
    weight: FloatArray        # NAB's weighted sweep score of the row
    window: IntArray          # window id (global across the corpus) or -1 outside windows
    scorable: npt.NDArray[np.bool_]  # False in the probation period


def sweep_rows(
    anomaly_scores: FloatArray, windows: Sequence[tuple[int, int]], cost: CostMatrix,
    probation_percent: float = PROBATION_PERCENT, window_offset: int = 0,
) -> SweepRows:
    """NAB's ``calcSweepScore`` for one file, with windows given as row positions."""
    n = int(anomaly_scores.shape[0])
    idx = np.arange(n, dtype=np.float64)
    window_of = np.full(n, -1, dtype=np.int64)
    weight = np.full(n, -cost.fp, dtype=np.float64)  # FP before any window
    max_tp = float(scaled_sigmoid(-1.0))
    for k, (left, right) in enumerate(windows):
        width = float(right - left + 1)
        inside = slice(left, right + 1)
        window_of[inside] = window_offset + k
        weight[inside] = scaled_sigmoid(-(right - idx[inside] + 1.0) / width) * cost.tp / max_tp
        next_left = windows[k + 1][0] if k + 1 < len(windows) else n
        after = slice(right + 1, next_left)
        if width > 1:
            weight[after] = scaled_sigmoid(np.abs(right - idx[after]) / (width - 1.0)) * cost.fp
        else:  # NAB divides by zero here; a one-row window is treated as at distance 3 (a full FP)
            weight[after] = -cost.fp
    scorable = idx >= probation_length(n, probation_percent)
    return SweepRows(np.asarray(anomaly_scores, dtype=np.float64), weight, window_of, scorable)


@dataclass(frozen=True)
class ThresholdCurve:
    """Raw NAB score of a corpus for every distinct threshold, highest threshold first."""

    thresholds: FloatArray
    scores: FloatArray
    tp: IntArray
    fp: IntArray
    fn: IntArray
    tn: IntArray

    def best(self) -> tuple[float, float]:
        """(threshold, raw score) of the best threshold (ties: the highest threshold, as NAB)."""
        k = int(np.argmax(self.scores))
        return float(self.thresholds[k]), float(self.scores[k])

    def at(self, threshold: float) -> float:
        """Raw score when rows with score >= threshold are detections."""
        k = np.flatnonzero(self.thresholds >= threshold)
        return float(self.scores[k[-1]]) if k.size else float(self.scores[0])


def threshold_curve(rows: Sequence[SweepRows], cost: CostMatrix) -> ThresholdCurve:
    """NAB's ``calcScoreByThreshold`` over all rows of all files (one threshold for the corpus)."""
    score = np.concatenate([r.scores[r.scorable] for r in rows]) if rows else np.empty(0)
    weight = np.concatenate([r.weight[r.scorable] for r in rows]) if rows else np.empty(0)
    window = np.concatenate([r.window[r.scorable] for r in rows]) if rows else np.empty(0, np.int64)
    order = np.argsort(-score, kind="stable")
    score, weight, window = score[order], weight[order], window[order]
    in_window = window >= 0
    fp_part = np.cumsum(np.where(in_window, 0.0, weight))
    window_ids = np.unique(window[in_window])
    tp_part = np.full(score.shape[0], -cost.fn * window_ids.size, dtype=np.float64)
    for w in window_ids:
        mine = np.where(window == w, weight, -np.inf)
        tp_part += np.maximum(np.maximum.accumulate(mine), -cost.fn) + cost.fn
    total = fp_part + tp_part
    tp = np.cumsum(in_window)
    fp = np.cumsum(~in_window)
    # keep the state after the last row of each group of equal scores
    last_of_group = np.ones(score.shape[0], dtype=bool)
    last_of_group[:-1] = score[1:] != score[:-1]
    n_in, n_out = int(in_window.sum()), int((~in_window).sum())
    start = np.array([1.1])
    return ThresholdCurve(
        thresholds=np.concatenate([start, score[last_of_group]]),
        scores=np.concatenate([[-cost.fn * window_ids.size], total[last_of_group]]),
        tp=np.concatenate([[0], tp[last_of_group]]).astype(np.int64),
        fp=np.concatenate([[0], fp[last_of_group]]).astype(np.int64),
        fn=np.concatenate([[n_in], n_in - tp[last_of_group]]).astype(np.int64),
        tn=np.concatenate([[n_out], n_out - fp[last_of_group]]).astype(np.int64),
    )


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalized: float
    per_file: dict[str, float]


def score_corpus(
    files: Mapping[str, tuple[FloatArray, Sequence[tuple[int, int]]]], profile: str = "standard",
    threshold: float | None = None, probation_percent: float = PROBATION_PERCENT,
) -> ProfileResult:
    """Score a corpus: ``files`` maps a name to (anomaly scores, windows as row positions).

    With ``threshold=None`` the one threshold that maximizes the corpus score is chosen (NAB's optimizer).
    """
    if profile not in PROFILES:
        msg = f"unknown NAB profile {profile!r}; choose one of {', '.join(PROFILES)}"
        raise ConfigError(msg)
    cost = PROFILES[profile]
    rows: list[SweepRows] = []
    null_rows: list[SweepRows] = []
    offset = 0
    for scores, windows in files.values():
        rows.append(sweep_rows(scores, windows, cost, probation_percent, offset))
        null_rows.append(sweep_rows(np.full(scores.shape[0], 0.5), windows, cost, probation_percent, offset))
        offset += len(windows)
    curve = threshold_curve(rows, cost)
    chosen, raw = curve.best() if threshold is None else (threshold, curve.at(threshold))
    null = threshold_curve(null_rows, cost).best()[1]
    perfect = offset * cost.tp
    per_file = {name: threshold_curve([r], cost).at(chosen) for name, r in zip(files, rows, strict=True)}
    normalized = 100.0 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return ProfileResult(profile, chosen, raw, null, perfect, normalized, per_file)
