"""kNN-CAD: conformal kNN anomaly detection on lagged windows (Ishimtsev et al. 2017, arXiv:1608.04585), per series.

Published description (and NAB's ``nab/detectors/knncad`` setting ``dim=19, k=27``):

* each reading completes a vector of the last ``dim`` values (a row of the trajectory matrix, as in singular
  spectrum analysis);
* distance: ``(x - y)^T S (x - y)`` with ``S = (X^T X)^-1``, ``X`` the training vectors (a Mahalanobis-like
  metric without centring, no square root); ``S`` is recomputed when the reading count is a multiple of
  ``probation`` or ``probation // 2`` past it (a singular ``X^T X`` keeps the previous ``S``, first the
  identity);
* non-conformity of a vector: the sum of its distances to its ``k`` nearest training vectors;
* inductive conformal score: the share of the calibration non-conformities strictly below the new one;
* training set: the vectors completed before reading ``probation`` (those readings score 0); the calibration
  non-conformities start as the training vectors' own (leave-one-out) ones and slide: each new vector's
  non-conformity replaces the oldest; from reading ``2 * probation`` on, the oldest calibration vector also
  moves into the training set, replacing its oldest vector;
* after a score of at least ``alarm_level`` (0.9965), the next ``probation // 5`` readings score 0.5.

``probation`` is NAB's probationary period of the file, ``min(floor(0.15 n), 750)`` for ``n`` rows: it needs
the file's length, known to NAB before the first row (not causal in the strict sense). ``uses_probation``
tells the NAB harness to pass it per file; without it every series uses ``probation`` (750, NAB's value for
every file of 5,000+ rows). Uses no input range. Non-finite readings score 0 and are skipped.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import Detector, FloatArray, IntArray, per_series
from vitals.errors import ModelError


def nonconformity(training: FloatArray, sigma: FloatArray, item: FloatArray, k: int) -> float:
    """Sum of the ``k`` smallest distances ``(t - item)^T sigma (t - item)`` over the training rows ``t``."""
    diff = training - item
    dist = np.sum((diff @ sigma) * diff, axis=1)
    return float(np.sum(np.partition(dist, k)[:k]))


@dataclass
class _SeriesState:
    """One series: last values, training vectors (a ring), calibration vectors and non-conformities."""

    probation: int
    recent: deque[float]
    count: int = 0
    training: list[FloatArray] = field(default_factory=list)
    ring: FloatArray | None = None              # training vectors once probation is over
    ring_head: int = 0
    sigma: FloatArray | None = None
    scores: FloatArray | None = None            # calibration non-conformities (a ring with ring_head)
    score_head: int = 0
    calibration: deque[FloatArray] = field(default_factory=deque)
    hold: int = -1


class KnnCadDetector(Detector):
    """Inductive conformal anomaly detection with a kNN non-conformity over lagged windows."""

    uses_input_range = False
    uses_probation = True
    # the NAB-fit threshold (standard profile, 41 development files, every CV fold): a non-conformity above
    # every calibration value; at score_series' fallback of 0.40 two readings in three would be detections
    decision_threshold = 1.0

    def __init__(self, *, dim: int = 19, k: int = 27, probation: npt.ArrayLike | None = None,
                 alarm_level: float = 0.9965, hold_score: float = 0.5) -> None:
        self.dim = dim
        self.k = k
        self.probation = probation
        self.alarm_level = alarm_level
        self.hold_score = hold_score

    def _allocate(self, n: int) -> None:
        probation = per_series(self.probation, n, 750).astype(np.int64)
        if probation.size and int(probation.min()) <= self.dim + self.k + 1:
            msg = (f"probation must exceed dim + k + 1 = {self.dim + self.k + 1} readings (a training set of more "
                   f"than k + 1 vectors), got {int(probation.min())}")
            raise ModelError(msg)
        self.states_ = [_SeriesState(int(p), deque(maxlen=self.dim)) for p in probation]

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        out = np.zeros(s.shape[0])
        for j in range(s.shape[0]):
            if np.isfinite(v[j]):
                out[j] = self._update(self.states_[int(s[j])], float(v[j]))
        return out

    def _update(self, st: _SeriesState, x: float) -> float:
        st.recent.append(x)
        st.count += 1
        if len(st.recent) < self.dim:
            return 0.0
        item = np.array(st.recent)
        p = st.probation
        if st.count < p:
            st.training.append(item)
            return 0.0
        if st.ring is None:
            st.ring = np.array(st.training)
            st.training = []
        if st.count % p in (0, p // 2):
            with contextlib.suppress(np.linalg.LinAlgError):   # singular: keep the previous metric
                st.sigma = np.asarray(np.linalg.inv(st.ring.T @ st.ring), dtype=np.float64)
        sigma = st.sigma if st.sigma is not None else np.eye(self.dim)
        if st.scores is None:
            st.scores = np.array([nonconformity(st.ring, sigma, row, self.k + 1) for row in st.ring])
        new = nonconformity(st.ring, sigma, item, self.k)
        result = float(np.count_nonzero(st.scores < new)) / st.scores.shape[0]
        if st.count >= 2 * p:
            st.ring[st.ring_head] = st.calibration.popleft()
            st.ring_head = (st.ring_head + 1) % st.ring.shape[0]
        st.scores[st.score_head] = new
        st.score_head = (st.score_head + 1) % st.scores.shape[0]
        st.calibration.append(item)
        if st.hold > 0:
            st.hold -= 1
            return self.hold_score
        if result >= self.alarm_level:
            st.hold = p // 5
        return result
