"""Throughput of the series state update (issue 2): readings/s per worker over the full street-level city.

Generates simulated-like readings with numpy (every series at its catalog cadence with a random phase, values
from the catalog seasonality plus noise, ~1 % arriving up to 2 minutes late, ~0.1 % exact duplicates), cuts
them into batches in arrival order and times, in the same run:

- ``ShardState.update`` on one shard holding every series: duplicates, all window rings (5m/1h/24h with
  count/sum/min/max and the p95 histogram), last, EWMA, stuck reference, warning levels from ``vitals.levels``
  with hysteresis (no validation: the batches are valid by construction);
- the numpy reference: count/sum/min/max of the same readings into the same ring slots with ``np.add.at`` /
  ``np.minimum.at`` / ``np.maximum.at`` plus the last value, and nothing else.

Each pass runs ``--repeat`` times (fresh state), interleaved; the median is reported, in wall time and in
process CPU time (on a shared machine the wall figure includes time spent waiting for a core; the CPU figure
is what one worker with a core of its own would see). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_throughput.py [--readings 1000000] [--batch 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import time

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, SeasonalModel, load_catalog
from vitals.state import DEFAULT_WINDOWS, ShardState
from vitals.state.windows import ORIGIN_NS

NS = 1_000_000_000
T0 = 1_767_225_600 * NS  # 2026-01-01T00:00:00Z


def simulated_readings(catalog: Catalog, n_readings: int, seed: int = 42) -> ReadingBatch:
    """About ``n_readings`` readings of every series in arrival order (see the module docstring)."""
    rng = np.random.default_rng(seed)
    cadence = np.repeat(catalog.cadence_array, catalog.n_streets)
    per_second = float((1.0 / cadence).sum())
    span = n_readings / per_second
    counts = np.floor(span / cadence).astype(np.int64) + 1
    series = np.repeat(np.arange(catalog.n_series), counts)
    step = np.arange(len(series)) - np.repeat(np.cumsum(counts) - counts, counts)
    phase = rng.uniform(0, cadence)[series]
    ts = T0 + ((phase + step * cadence[series]) * NS).astype(np.int64)
    ind, street = catalog.split_series_id(series)
    value = SeasonalModel(catalog).expected(ind, ts)
    value += rng.normal(0, 1, len(ts)) * np.array([i.seasonality.noise for i in catalog.indicators])[ind]
    arrival = ts + np.where(rng.random(len(ts)) < 0.01, rng.integers(0, 120 * NS, len(ts)), 0)
    dup = rng.random(len(ts)) < 0.001
    order = np.argsort(np.concatenate([arrival, arrival[dup] + NS]), kind="stable")
    cat = lambda a: np.concatenate([a, a[dup]])[order]  # noqa: E731
    return ReadingBatch(cat(ts), cat(ind).astype(np.int16), cat(street).astype(np.int32), cat(value))


def batches_of(readings: ReadingBatch, size: int) -> list[ReadingBatch]:
    return [readings.take(np.arange(a, min(a + size, len(readings)))) for a in range(0, len(readings), size)]


def run_state(catalog: Catalog, batches: list[ReadingBatch]) -> tuple[float, float, ShardState]:
    state = ShardState(catalog)
    start, cpu = time.perf_counter(), time.process_time()
    for b in batches:
        state.update(b)
    return time.perf_counter() - start, time.process_time() - cpu, state


class NumpyReference:
    """count/sum/min/max into the same ring slots, plus the last value: the array work alone."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.slots = sum(w.buckets for w in DEFAULT_WINDOWS)
        size = catalog.n_series * self.slots
        self.count = np.zeros(size, np.int32)
        self.total = np.zeros(size, np.float32)
        self.low = np.full(size, np.inf, np.float32)
        self.high = np.full(size, -np.inf, np.float32)
        self.last_ts = np.zeros(catalog.n_series, np.int64)
        self.last = np.zeros(catalog.n_series, np.float64)

    def update(self, b: ReadingBatch) -> None:
        series = self.catalog.series_id(b.indicator, b.street)
        seconds = (b.ts_ns - ORIGIN_NS) // NS
        base, off = series * self.slots, 0
        flats = []
        for w in DEFAULT_WINDOWS:
            flats.append(base + (seconds // w.bucket_s % w.buckets + off))
            off += w.buckets
        flat: npt.NDArray[np.int64] = np.concatenate(flats)
        v = np.tile(b.value.astype(np.float32), len(DEFAULT_WINDOWS))
        np.add.at(self.count, flat, np.ones(len(flat), np.int32))
        np.add.at(self.total, flat, v)
        np.minimum.at(self.low, flat, v)
        np.maximum.at(self.high, flat, v)
        np.maximum.at(self.last_ts, series, b.ts_ns)
        newest = b.ts_ns == self.last_ts[series]
        self.last[series[newest]] = b.value[newest]


def run_reference(catalog: Catalog, batches: list[ReadingBatch]) -> tuple[float, float]:
    ref = NumpyReference(catalog)
    start, cpu = time.perf_counter(), time.process_time()
    for b in batches:
        ref.update(b)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog()
    readings = simulated_readings(catalog, args.readings)
    batches = batches_of(readings, args.batch)
    n = len(readings)
    state_s, ref_s, state_cpu, ref_cpu = [], [], [], []
    state = ShardState(catalog)
    for _ in range(args.repeat):
        elapsed, cpu, state = run_state(catalog, batches)
        state_s.append(elapsed)
        state_cpu.append(cpu)
        elapsed, cpu = run_reference(catalog, batches)
        ref_s.append(elapsed)
        ref_cpu.append(cpu)
    start = time.perf_counter()
    view = state.view()
    view_s = time.perf_counter() - start
    start = time.perf_counter()
    snapshot = pickle.dumps(state, protocol=5)
    pickle_s = time.perf_counter() - start
    med = statistics.median
    figures = {
        "readings": n, "series": catalog.n_series, "batch_size": args.batch,
        "readings_per_s": round(n / med(state_s)),
        "numpy_reference_per_s": round(n / med(ref_s)),
        "reference_ratio": round(med(state_s) / med(ref_s), 2),
        "readings_per_cpu_s": round(n / med(state_cpu)),
        "numpy_reference_per_cpu_s": round(n / med(ref_cpu)),
        "reference_ratio_cpu": round(med(state_cpu) / med(ref_cpu), 2),
        "duplicates": state.duplicates_total, "view_series": len(view), "view_s": round(view_s, 3),
        "snapshot_mb": round(len(snapshot) / 1e6, 1), "snapshot_s": round(pickle_s, 3),
        "state_bytes_per_series": round(state.state_bytes() / catalog.n_series, 1),
    }
    print(f"{n:,} readings over {catalog.n_series:,} series in batches of {args.batch:,}, {args.repeat} repeats")
    print(f"series state update: {figures['readings_per_s']:>12,} readings/s wall, "
          f"{figures['readings_per_cpu_s']:>12,} per CPU second")
    print(f"numpy reference:     {figures['numpy_reference_per_s']:>12,} readings/s wall, "
          f"{figures['numpy_reference_per_cpu_s']:>12,} per CPU second")
    print(f"state / reference time: {figures['reference_ratio']}x wall, {figures['reference_ratio_cpu']}x CPU "
          f"(target <= 3x); "
          f"view of {len(view):,} series: {view_s:.3f} s; snapshot {figures['snapshot_mb']} MB in {pickle_s:.3f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
