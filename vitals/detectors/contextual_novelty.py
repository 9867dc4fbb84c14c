"""A contextual-novelty detector in the manner of CAD OSE (Smirnov's Contextual Anomaly Detector, Open Source
Edition, github.com/smirmik/CAD; in NAB as ``context_ose``), per series.

Published description, as implemented here:

* encoding: the reading's position in the input range, cut into ``2**value_bits - 1`` equal steps
  (``b = int((x - min) / step)``), becomes one *sensor fact* per bit of ``b`` (bit position and value);
* memory: *contexts* pair a left fact set (the previous step's sensor facts plus the facts of the contexts
  that were active then, its *neurons*) with a right fact set (sensor facts). Every step stores the
  zero-level context (previous left facts -> current sensor facts); when that one is new, partial matches of
  zero-level contexts whose left part was matched by at most ``max_left_facts`` facts become new contexts
  (their matched left and right facts);
* each step, over the contexts whose left fact set was fully present in the previous step: the share that is
  now fully confirmed by the sensor facts (*active*); the ``max_active`` most often confirmed active contexts
  become the neurons of the next left fact set; the contexts fully matched by the new left set with the best
  confirmation rate predict the next sensor facts;
* raw score: 0 when every sensor fact was predicted, else ``(1 - active share + new-context share) / 2``;
* rest: the raw score is reported only when no raw score of the last ``rest`` readings reached
  ``base_threshold`` (0.75); otherwise 0. NAB sets ``rest = probation / 5`` (truncated), so the first
  ``rest`` readings of a series score 0.

Two quirks of the published code are kept because they shape the published scores: context 0 never counts
(the original marks "no new context" with ``False``, which equals id 0), and ties between active contexts are
broken by Python 2's tuple hash of their fact sets (:func:`py2_tuple_hash`). Python 2's dict order is not
reproduced (insertion order is used), so context ids can differ from the original's.

Input range: NAB passes every detector the minimum and maximum of the whole file (``inputMin``/``inputMax``),
known before the first row: NAB's convention, not causal in the strict sense. ``uses_input_range`` tells the
NAB harness to pass them per file (``input_min``/``input_max``). Without them a series uses its running range
(minimum and maximum of the readings so far, the current one included), so the same value can map to other
facts as the range widens. A value outside a given range is clipped to it. ``probation`` (NAB's probationary
period, ``min(floor(0.15 n), 750)`` for ``n`` rows, also known only from the file's length; ``uses_probation``)
defaults to 750. Non-finite readings score 0 and are skipped. The memory grows without bound (as the
original's): a reference for the NAB harness, not for the live flow.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import Detector, FloatArray, IntArray, per_series
from vitals.errors import ModelError

SENSOR_BASE = 1 << 16
NEURON_BASE = 1 << 31
_MASK64 = (1 << 64) - 1

Facts = tuple[int, ...]


def py2_tuple_hash(items: Facts) -> int:
    """Python 2.7's ``hash`` of a tuple of small non-negative ints on a 64-bit build."""
    x, mult, remaining = 0x345678, 1000003, len(items)
    for item in items:
        remaining -= 1
        x = ((x ^ item) * mult) & _MASK64
        mult += 82520 + 2 * remaining
    x = (x + 97531) & _MASK64
    signed = x - (1 << 64) if x >> 63 else x
    return -2 if signed == -1 else signed


def sensor_facts(level: int, bits: int) -> Facts:
    """One fact per bit of ``level`` (least significant first): ``SENSOR_BASE + 2 * position + bit``."""
    return tuple(SENSOR_BASE + 2 * pos + ((level >> pos) & 1) for pos in range(bits))


class _Column:
    """A growing int64 array (amortized appends)."""

    __slots__ = ("data", "n")

    def __init__(self) -> None:
        self.data = np.zeros(16, dtype=np.int64)
        self.n = 0

    def append(self, value: int) -> None:
        if self.n == self.data.shape[0]:
            self.data = np.concatenate([self.data, np.zeros_like(self.data)])
        self.data[self.n] = value
        self.n += 1

    def view(self) -> IntArray:
        return self.data[: self.n]


class _Side:
    """Semi-contexts (fact sets) of one side of the contexts; ``hits``: facts of each present at the last cross."""

    def __init__(self) -> None:
        self.index: dict[Facts, int] = {}
        self.facts: list[Facts] = []
        self.size = _Column()
        self.members: dict[int, _Column] = {}
        self.hits: IntArray = np.zeros(0, dtype=np.int64)

    def get(self, facts: Facts) -> int:
        semi = self.index.get(facts)
        if semi is None:
            semi = self.index[facts] = len(self.facts)
            self.facts.append(facts)
            self.size.append(len(facts))
            for fact in facts:
                self.members.setdefault(fact, _Column()).append(semi)
        return semi

    def cross(self, facts: Facts) -> IntArray:
        """Count the facts of every semi-context present in ``facts`` (semi-contexts made later count 0)."""
        parts = [self.members[f].view() for f in facts if f in self.members]
        n = len(self.facts)
        self.hits = np.bincount(np.concatenate(parts), minlength=n) if parts else np.zeros(n, dtype=np.int64)
        return self.hits

    def hits_of(self, semis: IntArray) -> IntArray:
        hits = np.zeros(semis.shape[0], dtype=np.int64)
        known = semis < self.hits.shape[0]
        hits[known] = self.hits[semis[known]]
        return hits


class _Memory:
    """The context memory of one series and its step (see the module docstring), one array row per context.

    ``tests/detectors/contextual_novelty_oracle.py`` holds the same step written object by object, as the
    published code is; the two give identical scores.
    """

    def __init__(self, max_left_facts: int, max_active: int) -> None:
        self.max_left_facts = max_left_facts
        self.max_active = max_active
        self.left = _Side()
        self.right = _Side()
        self.pairs: dict[tuple[int, int], int] = {}
        self.columns = {name: _Column() for name in ("left", "right", "seen", "confirmed", "activations",
                                                     "zero_level", "key_left", "key_right")}
        self.new_context = 0            # id of this step's new zero-level context; 0 also means none
        self.left_group: Facts = ()
        self.predicted: frozenset[int] = frozenset()

    def store(self, pairs: list[tuple[Facts, Facts]], zero_level: bool) -> int:
        """Add the contexts not yet stored; returns how many were new."""
        added = 0
        cols = self.columns
        for left_facts, right_facts in pairs:
            left, right = self.left.get(left_facts), self.right.get(right_facts)
            cid = self.pairs.setdefault((left, right), len(self.pairs))
            if cid == cols["left"].n:
                added += 1
                for name, value in (("left", left), ("right", right), ("seen", 0), ("confirmed", 0),
                                    ("activations", 0), ("zero_level", int(zero_level)),
                                    ("key_left", py2_tuple_hash(left_facts)),
                                    ("key_right", py2_tuple_hash(right_facts))):
                    cols[name].append(value)
                if zero_level:
                    self.new_context = cid
            elif zero_level:
                cols["zero_level"].data[cid] = 1
        return added

    def step(self, sensors: Facts) -> tuple[float, float]:
        """Learn from this step's sensor facts; returns (active share, new-context share)."""
        new_zero = bool(self.left_group) and bool(sensors)
        is_new = new_zero and self.store([(self.left_group, sensors)], zero_level=True) == 1
        self.right.cross(sensors)
        active, selected, candidates = self._confirm(is_new, sensors)
        unique = set(candidates) | ({(self.left_group, sensors)} if new_zero else set())
        neurons = {NEURON_BASE + int(c) for c in active[-self.max_active:]} if self.max_active else set()
        self.left_group = tuple(sorted(set(sensors) | neurons))
        added = (self.store(candidates, zero_level=False) if candidates else 0) + int(is_new)
        self.predicted = self._predict()
        active_share = active.shape[0] / selected if selected else 0.0
        new_share = added / len(unique) if is_new and unique else 0.0
        return active_share, new_share

    def _confirm(self, is_new: bool, sensors: Facts) -> tuple[IntArray, int, list[tuple[Facts, Facts]]]:
        """Update the contexts whose left part was present last step against the right facts present now.

        Returns the active contexts in activation order, the number of contexts checked and the candidate
        new contexts (in the published code's order: by left semi-context, then by context id).
        """
        cols = self.columns
        left, right = cols["left"].view(), cols["right"].view()
        left_hits = self.left.hits_of(left)
        considered = left_hits > 0
        if considered.size:
            considered[self.new_context] = False
        self.new_context = 0
        full = considered & (left_hits == self.left.size.view()[left])
        right_size, right_hits = self.right.size.view()[right], self.right.hits_of(right)
        cols["seen"].view()[full] += right_size[full]
        confirmed = full & (right_hits > 0)
        cols["confirmed"].view()[confirmed] += right_hits[confirmed]
        act = full & (right_hits == right_size)
        activations = cols["activations"].view()
        activations[act] += 1
        ids = np.flatnonzero(act)
        order = np.lexsort((cols["key_right"].view()[ids], cols["key_left"].view()[ids], activations[ids]))
        candidates: list[tuple[Facts, Facts]] = []
        if is_new and ids.size < considered.size:
            split = (considered & ~act & (cols["zero_level"].view() == 1) & (right_hits > 0)
                     & (left_hits <= self.max_left_facts))
            cids = np.flatnonzero(split)
            cids = cids[np.lexsort((cids, left[cids]))]
            group, present = set(self.left_group), set(sensors)
            lefts = {i: tuple(sorted(group.intersection(self.left.facts[i]))) for i in set(left[cids].tolist())}
            rights = {i: tuple(sorted(present.intersection(self.right.facts[i]))) for i in set(right[cids].tolist())}
            candidates = [(lefts[i], rights[j]) for i, j in zip(left[cids].tolist(), right[cids].tolist(), strict=True)]
        return ids[order], int(np.count_nonzero(full)), candidates

    def _predict(self) -> frozenset[int]:
        """Right facts of the contexts fully matched by the new left facts with the best confirmation rate."""
        hits = self.left.cross(self.left_group)
        cols = self.columns
        left = cols["left"].view()
        matched = np.flatnonzero((hits == self.left.size.view())[left] & (hits[left] > 0))
        if matched.size == 0:
            return frozenset()
        seen, confirmed = cols["seen"].view()[matched], cols["confirmed"].view()[matched]
        rate = np.divide(confirmed, seen, out=np.zeros(matched.shape[0]), where=seen > 0)
        best = np.unique(cols["right"].view()[matched[rate == rate.max()]])
        return frozenset(f for semi in best for f in self.right.facts[semi])


class ContextualNoveltyDetector(Detector):
    """CAD OSE-like contextual novelty: share of unconfirmed and of new contexts, with a rest period."""

    uses_input_range = True
    uses_probation = True
    # the NAB-fit threshold (standard profile, 41 development files), for score_series and make_detector
    decision_threshold = 0.7071929238985313

    def __init__(self, *, input_min: npt.ArrayLike | None = None, input_max: npt.ArrayLike | None = None,
                 probation: npt.ArrayLike | None = None, base_threshold: float = 0.75, max_left_facts: int = 7,
                 max_active: int = 15, value_bits: int = 3) -> None:
        self.input_min = input_min
        self.input_max = input_max
        self.probation = probation
        self.base_threshold = base_threshold
        self.max_left_facts = max_left_facts
        self.max_active = max_active
        self.value_bits = value_bits

    def _allocate(self, n: int) -> None:
        if self.value_bits < 1:
            msg = f"value_bits must be at least 1, got {self.value_bits}"
            raise ModelError(msg)
        self.min_ = per_series(self.input_min, n, np.nan)
        self.max_ = per_series(self.input_max, n, np.nan)
        self.fixed_range_ = np.isfinite(self.min_) & np.isfinite(self.max_)
        rest = np.maximum((per_series(self.probation, n, 750) / 5).astype(np.int64), 1)
        self.memories_ = [_Memory(self.max_left_facts, self.max_active) for _ in range(n)]
        self.recent_ = [deque([1.0], maxlen=int(r)) for r in rest]

    def _step(self, s: IntArray, t: IntArray, v: FloatArray) -> FloatArray:
        out = np.zeros(s.shape[0])
        for j in np.flatnonzero(np.isfinite(v)):
            out[j] = self._update(int(s[j]), float(v[j]))
        return out

    def _update(self, i: int, x: float) -> float:
        if not self.fixed_range_[i]:
            self.min_[i] = min(self.min_[i], x) if np.isfinite(self.min_[i]) else x
            self.max_[i] = max(self.max_[i], x) if np.isfinite(self.max_[i]) else x
        top = 2 ** self.value_bits - 1
        span = float(self.max_[i] - self.min_[i]) or float(top)
        level = min(max(int((x - self.min_[i]) / (span / top)), 0), top)
        sensors = sensor_facts(level, self.value_bits)
        memory = self.memories_[i]
        surprised = not memory.predicted.issuperset(sensors)
        active_share, new_share = memory.step(sensors)
        raw = (1.0 - active_share + new_share) / 2.0 if surprised else 0.0
        recent = self.recent_[i]
        score = raw if max(recent) < self.base_threshold else 0.0
        recent.append(raw)
        return score
