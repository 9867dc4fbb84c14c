"""The contextual-novelty memory written plainly, object by object as in the published CAD OSE code: the
oracle of the array implementation in ``vitals.detectors.contextual_novelty`` (same scores, reading by
reading)."""

from __future__ import annotations

from collections import deque

import numpy as np

from vitals.detectors.contextual_novelty import NEURON_BASE, Facts, py2_tuple_hash, sensor_facts


class _Semi:
    """Half of a context: a fact set, the facts of it present now, and (left side) its contexts by right id."""

    __slots__ = ("contexts", "facts_now", "hits", "index", "size")

    def __init__(self, index: int, size: int) -> None:
        self.index = index
        self.size = size
        self.facts_now: list[int] = []
        self.hits = 0
        self.contexts: dict[int, int] = {}


class _Context:
    __slots__ = ("activations", "cid", "confirmed", "key_left", "key_right", "right_facts", "seen", "zero_level")

    def __init__(self, cid: int, right_facts: Facts, zero_level: bool, left: Facts) -> None:
        self.cid = cid
        self.seen = 0           # right facts expected while the left part was fully present
        self.confirmed = 0      # of those, present
        self.activations = 0
        self.right_facts = right_facts
        self.zero_level = zero_level
        self.key_left = py2_tuple_hash(left)
        self.key_right = py2_tuple_hash(right_facts)


class _Side:
    """Semi-contexts of one side, indexed by fact set and by fact; ``crossed``: those matched at the last cross."""

    __slots__ = ("by_fact", "by_facts", "crossed", "semis")

    def __init__(self) -> None:
        self.by_facts: dict[Facts, _Semi] = {}
        self.by_fact: dict[int, list[_Semi]] = {}
        self.semis: list[_Semi] = []
        self.crossed: list[_Semi] = []

    def get(self, facts: Facts) -> _Semi:
        semi = self.by_facts.get(facts)
        if semi is None:
            semi = self.by_facts[facts] = _Semi(len(self.semis), len(facts))
            self.semis.append(semi)
            for fact in facts:
                self.by_fact.setdefault(fact, []).append(semi)
        return semi

    def cross(self, facts: Facts) -> list[_Semi]:
        """Record which facts of every semi-context are present; returns the touched ones in creation order."""
        for semi in self.crossed:
            semi.facts_now = []
            semi.hits = 0
        touched: dict[int, _Semi] = {}
        for fact in facts:
            for semi in self.by_fact.get(fact, ()):
                semi.facts_now.append(fact)
                touched[semi.index] = semi
        self.crossed = [touched[i] for i in sorted(touched)]
        for semi in self.crossed:
            semi.hits = len(semi.facts_now)
        return self.crossed


class _Memory:
    """The context memory of one series and its step (see the module docstring)."""

    def __init__(self, max_left_facts: int, max_active: int) -> None:
        self.max_left_facts = max_left_facts
        self.max_active = max_active
        self.left = _Side()
        self.right = _Side()
        self.contexts: list[_Context] = []
        self.new_context = 0            # id of this step's new zero-level context; 0 also means none
        self.left_group: Facts = ()
        self.predicted: frozenset[int] = frozenset()

    def store(self, pairs: list[tuple[Facts, Facts]], zero_level: bool) -> int:
        """Add the contexts not yet stored; returns how many were new."""
        added = 0
        for left_facts, right_facts in pairs:
            left, right = self.left.get(left_facts), self.right.get(right_facts)
            cid = left.contexts.setdefault(right.index, len(self.contexts))
            if cid == len(self.contexts):
                added += 1
                self.contexts.append(_Context(cid, right_facts, zero_level, left_facts))
                if zero_level:
                    self.new_context = cid
            elif zero_level:
                self.contexts[cid].zero_level = True
        return added

    def step(self, sensors: Facts) -> tuple[float, float]:
        """Learn from this step's sensor facts; returns (active share, new-context share)."""
        new_zero = bool(self.left_group) and bool(sensors)
        is_new = new_zero and self.store([(self.left_group, sensors)], zero_level=True) == 1
        self.right.cross(sensors)
        active, selected, candidates = self._confirm(is_new)
        unique = set(candidates) | ({(self.left_group, sensors)} if new_zero else set())
        active.sort(key=lambda c: (c.activations, c.key_left, c.key_right))
        neurons = {NEURON_BASE + c.cid for c in active[-self.max_active:]} if self.max_active else set()
        self.left_group = tuple(sorted(set(sensors) | neurons))
        added = (self.store(candidates, zero_level=False) if candidates else 0) + int(is_new)
        self.predicted = self._predict()
        active_share = len(active) / selected if selected else 0.0
        new_share = added / len(unique) if is_new and unique else 0.0
        return active_share, new_share

    def _confirm(self, is_new: bool) -> tuple[list[_Context], int, list[tuple[Facts, Facts]]]:
        """Update the contexts whose left part was present last step against the right facts present now."""
        active: list[_Context] = []
        candidates: list[tuple[Facts, Facts]] = []
        selected = 0
        rights = self.right.semis
        for left in self.left.crossed:
            full = left.hits == left.size
            may_split = is_new and left.hits <= self.max_left_facts
            for right_index, cid in left.contexts.items():
                if cid == self.new_context:
                    continue
                ctx, right = self.contexts[cid], rights[right_index]
                if full:
                    selected += 1
                    ctx.seen += right.size
                    if right.hits == 0:
                        continue
                    ctx.confirmed += right.hits
                    if right.hits == right.size:
                        ctx.activations += 1
                        active.append(ctx)
                        continue
                if ctx.zero_level and may_split and right.hits > 0:
                    candidates.append((tuple(left.facts_now), tuple(right.facts_now)))
        self.new_context = 0
        return active, selected, candidates

    def _predict(self) -> frozenset[int]:
        """Right facts of the fully matched contexts with the best confirmation rate."""
        best, facts = 0.0, set()
        for left in self.left.cross(self.left_group):
            if left.hits != left.size:
                continue
            for cid in left.contexts.values():
                ctx = self.contexts[cid]
                rate = ctx.confirmed / ctx.seen if ctx.seen > 0 else 0.0
                if rate > best:
                    best, facts = rate, set(ctx.right_facts)
                elif rate == best:
                    facts.update(ctx.right_facts)
        return frozenset(facts)


def oracle_scores(values: np.ndarray, input_min: float, input_max: float, probation: int = 750, *,
                  base_threshold: float = 0.75, max_left_facts: int = 7, max_active: int = 15,
                  value_bits: int = 3) -> np.ndarray:
    """Scores of one series with a fixed input range, reading by reading."""
    memory = _Memory(max_left_facts, max_active)
    recent = deque([1.0], maxlen=max(int(probation / 5), 1))
    top = 2 ** value_bits - 1
    step = ((input_max - input_min) or top) / top
    out = np.zeros(values.shape[0])
    for i, x in enumerate(values):
        level = min(max(int((x - input_min) / step), 0), top)
        sensors = sensor_facts(level, value_bits)
        surprised = not memory.predicted.issuperset(sensors)
        active_share, new_share = memory.step(sensors)
        raw = (1.0 - active_share + new_share) / 2.0 if surprised else 0.0
        out[i] = raw if max(recent) < base_threshold else 0.0
        recent.append(raw)
    return out
