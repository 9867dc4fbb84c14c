"""Sensor faults: stuck and silent episodes (a schedule drawn from the seed) and per-reading faults
(spike, impossible value, duplicate, late arrival) decided by a hash of the reading, so that a reading's fault
does not depend on partitioning or batching.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.simulator.config import FaultRates, SimulatorConfig
from vitals.simulator.grid import matching_rows
from vitals.simulator.randomness import F64, SALT_FAULT, SALT_FAULT_DETAIL, U64, uniform
from vitals.units import DAY_S, NS_PER_S

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

# Fault codes of emitted readings (silent readings are not emitted, so they have no code).
NONE, STUCK, SPIKE, IMPOSSIBLE, DUPLICATE, LATE = 0, 1, 2, 3, 4, 5
FAULT_NAMES: tuple[str, ...] = ("none", "stuck", "spike", "impossible", "duplicate", "late")
EPISODE_STUCK, EPISODE_SILENT = 1, 2


@dataclass(frozen=True, eq=False)
class Episodes:
    """Stuck and silent episodes, sorted by local series index; no two episodes of a series overlap."""

    local: I64
    kind: I8  # EPISODE_STUCK or EPISODE_SILENT
    start_ns: I64
    end_ns: I64
    value: F64  # the stuck value (NaN for silent episodes)

    def __len__(self) -> int:
        return int(self.local.size)

    def subset(self, mask: npt.NDArray[np.bool_]) -> Episodes:
        return Episodes(self.local[mask], self.kind[mask], self.start_ns[mask], self.end_ns[mask], self.value[mask])

    def active(self, lo_ns: int, hi_ns: int) -> Episodes:
        return self.subset((self.start_ns < hi_ns) & (self.end_ns > lo_ns))

    def match(self, local: I64, ts_ns: I64) -> I64:
        """Index of the episode covering each reading, or -1."""
        out = np.full(local.size, -1, dtype=np.int64)
        if not len(self) or not local.size:
            return out
        for hit, idx in matching_rows(self.local, local):
            inside = (ts_ns[hit] >= self.start_ns[idx]) & (ts_ns[hit] < self.end_ns[idx])
            out[hit[inside]] = idx[inside]
        return out


def draw_episodes(cfg: SimulatorConfig, n_series: int) -> Episodes:
    """The episode schedule of all simulated series (stuck values are filled in by the simulator)."""
    rng = np.random.default_rng([cfg.seed, 0xFA17])
    days = (cfg.end_ns - cfg.start_ns) / (DAY_S * NS_PER_S)
    parts = []
    for kind, rate, (lo_h, hi_h) in ((EPISODE_STUCK, cfg.faults.stuck, cfg.faults.stuck_hours),
                                     (EPISODE_SILENT, cfg.faults.silent, cfg.faults.silent_hours)):
        counts = rng.poisson(rate * days, size=n_series)
        local = np.repeat(np.arange(n_series, dtype=np.int64), counts)
        offset = (rng.random(local.size) * (cfg.end_ns - cfg.start_ns)).astype(np.int64)
        start = cfg.start_ns + offset // NS_PER_S * NS_PER_S
        length = (rng.uniform(lo_h, hi_h, local.size) * 3600).astype(np.int64) * NS_PER_S
        parts.append((local, np.full(local.size, kind, dtype=np.int8), start, np.minimum(start + length, cfg.end_ns)))
    local, kinds, start, end = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    order = np.lexsort((start, local))
    local, kinds, start, end = local[order], kinds[order], start[order], end[order]
    keep = _without_overlaps(local, start, end)
    return Episodes(local[keep], kinds[keep], start[keep], end[keep], np.full(int(keep.sum()), np.nan))


def _without_overlaps(local: I64, start: I64, end: I64) -> npt.NDArray[np.bool_]:
    """Keep episodes that start after the end of every earlier kept episode of the same series."""
    keep = np.ones(local.size, dtype=bool)
    while True:
        idx = np.flatnonzero(keep)
        clash = (local[idx][1:] == local[idx][:-1]) & (start[idx][1:] < end[idx][:-1])
        if not clash.any():
            return keep
        first = np.flatnonzero(clash)
        # drop the first clashing episode of each run, then re-check (runs are short)
        drop = idx[1:][first[np.r_[True, first[1:] != first[:-1] + 1]]]
        keep[drop] = False


def reading_faults(keys: U64, in_episode: npt.NDArray[np.bool_], rates: FaultRates) -> I8:
    """Per-reading fault code (NONE, SPIKE, IMPOSSIBLE, DUPLICATE or LATE); readings in episodes get NONE."""
    out = np.zeros(keys.size, dtype=np.int8)
    if rates.per_reading_total <= 0 or not keys.size:
        return out
    u = uniform(keys, SALT_FAULT)
    edges = np.cumsum([rates.spike, rates.impossible, rates.duplicate, rates.late])
    code = np.searchsorted(edges, u, side="right") + SPIKE
    faulty = (u < edges[-1]) & ~in_episode
    out[faulty] = code[faulty]
    return out


def apply_value_faults(
    value: F64, fault: I8, keys: U64, *, sigma: F64, valid_min: F64, valid_max: F64,
) -> F64:
    """Spikes (8-16 sd, either side, clipped to the valid range) and impossible values (beyond the range)."""
    hit = np.flatnonzero((fault == SPIKE) | (fault == IMPOSSIBLE))
    if not hit.size:
        return value
    out = value.copy()
    d = uniform(keys[hit], SALT_FAULT_DETAIL)
    side = np.where(d < 0.5, -1.0, 1.0)
    frac = (d * 2.0) % 1.0
    lo, hi = valid_min[hit], valid_max[hit]
    spike = np.clip(value[hit] + side * (8.0 + 8.0 * frac) * sigma[hit], lo, hi)
    span = hi - lo
    beyond = np.where(side > 0, hi + (0.05 + frac) * span, lo - (0.05 + frac) * span).round(6)
    out[hit] = np.where(fault[hit] == SPIKE, spike, beyond)
    return out


def late_arrival_steps(keys: U64, step: I64, rates: FaultRates, step_s: int, last_step: int) -> I64:
    """The step a late reading (of step ``step``) arrives in: 1 step up to ``late_max_s`` later, at most the last."""
    max_steps = max(1, int(rates.late_max_s // step_s))
    d = uniform(keys, SALT_FAULT_DETAIL)
    return np.minimum(step + 1 + np.floor(d * max_steps).astype(np.int64), last_step)
