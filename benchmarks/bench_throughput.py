"""Throughput of the series state update (issue 2): readings/s per worker over the full street-level city.

Generates simulated-like readings with numpy (every series at its catalog cadence with a random phase, values
from the catalog seasonality plus noise, ~1 % arriving up to 2 minutes late, ~0.1 % exact duplicates), cuts
them into batches in arrival order and times, in the same run:

- ``ShardState.update`` on one shard holding every series: duplicates, all window rings (5m/1h/24h with
  count/sum/min/max and the p95 histogram), last, EWMA, stuck reference, warning levels from ``vitals.health.levels``
  with hysteresis (no validation: the batches are valid by construction);
- the numpy reference: count/sum/min/max of the same readings into the same ring slots with ``np.add.at`` /
  ``np.minimum.at`` / ``np.maximum.at`` plus the last value, and nothing else.

Each pass runs ``--repeat`` times (fresh state), interleaved; the median is reported, in wall time and in
process CPU time (on a shared machine the wall figure includes time spent waiting for a core; the CPU figure
is what one worker with a core of its own would see).

Then, for the live flow's costs, the same readings go into ``--shards`` shards (the flow's default is 4, about
7,200 series each) and, per shard (medians over shards and repeats): a full view (empty view cache), the
incremental view the exporter takes every 0.5 s (after a real-time half second of readings: about 17 per
shard; and after a whole 10,000-reading batch), a recovery snapshot as the flow takes it (``copy.deepcopy``)
and as Bytewax stores it (``pickle.dumps``, default protocol), and the restore (``pickle.loads``).
Ends with one JSON line.

    .venv/bin/python benchmarks/bench_throughput.py [--readings 1000000] [--batch 10000] [--repeat 3] [--shards 4]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import pickle
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, SeasonalModel, load_catalog
from vitals.state import DEFAULT_WINDOWS, ShardState, split_by_shard
from vitals.state.view_cache import ViewCache
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


def timed(
    action: Callable[[], object], setup: Callable[[], object] | None = None, repeat: int = 5,
) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``action`` (``setup`` runs untimed before each call)."""
    wall, cpu = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        w, c = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return round(statistics.median(wall) * 1e3, 2), round(statistics.median(cpu) * 1e3, 2)


class HeldOut:
    """Feeds a shard readings it has not seen yet: a real-time half second at a time, then the rest at once."""

    REALTIME = 17  # readings per shard in half a second at the city's real-time rate (~140/s over 4 shards)

    def __init__(self, state: ShardState, part: ReadingBatch) -> None:
        self.state, self.part, self.used = state, part, 0

    def trickle(self) -> None:
        self.state.view()  # the previous publication
        self.state.update(self.part.take(np.arange(self.used, self.used + self.REALTIME)))
        self.used += self.REALTIME

    def rest(self) -> None:
        self.state.view()
        self.state.update(self.part.take(np.arange(self.used, len(self.part))))

    def forget(self) -> None:
        self.state._view_cache = ViewCache()  # force a full computation


def shard_figures(catalog: Catalog, batches: list[ReadingBatch], n_shards: int) -> dict[str, float]:
    """Per-shard view, snapshot and restore costs after the whole run (medians over the shards)."""
    shards = [ShardState(catalog, k, n_shards) for k in range(n_shards)]
    for b in batches[:-1]:
        for k, part in split_by_shard(b, catalog, n_shards):
            shards[k].update(part)
    last = dict(split_by_shard(batches[-1], catalog, n_shards))
    rows: dict[str, list[float]] = {}
    for k, state in enumerate(shards):
        held = HeldOut(state, last[k])
        figures = {
            "view_full": timed(state.view, setup=held.forget),
            "view_realtime": timed(state.view, setup=held.trickle),
            "view_after_batch": timed(state.view, setup=held.rest, repeat=1),
            "deepcopy": timed(functools.partial(copy.deepcopy, state)),
            "pickle": timed(functools.partial(pickle.dumps, state)),
        }
        blob = pickle.dumps(state)
        figures["unpickle"] = timed(functools.partial(pickle.loads, blob))
        for name, (wall, cpu) in figures.items():
            rows.setdefault(f"{name}_ms", []).append(wall)
            rows.setdefault(f"{name}_cpu_ms", []).append(cpu)
        rows.setdefault("snapshot_bytes_per_series", []).append(len(blob) / state.n_rows)
        rows.setdefault("view_series", []).append(len(state.view()))
    return {name: round(statistics.median(values), 2) for name, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shards", type=int, default=4)
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
    med = statistics.median
    figures = {
        "readings": n, "series": catalog.n_series, "batch_size": args.batch,
        "readings_per_s": round(n / med(state_s)),
        "numpy_reference_per_s": round(n / med(ref_s)),
        "reference_ratio": round(med(state_s) / med(ref_s), 2),
        "readings_per_cpu_s": round(n / med(state_cpu)),
        "numpy_reference_per_cpu_s": round(n / med(ref_cpu)),
        "reference_ratio_cpu": round(med(state_cpu) / med(ref_cpu), 2),
        "duplicates": state.duplicates_total,
        "state_bytes_per_series": round(state.state_bytes() / catalog.n_series, 1),
        "shards": args.shards,
    }
    per_shard = shard_figures(catalog, batches, args.shards)
    figures.update({f"shard_{name}": value for name, value in per_shard.items()})
    print(f"{n:,} readings over {catalog.n_series:,} series in batches of {args.batch:,}, {args.repeat} repeats")
    print(f"series state update: {figures['readings_per_s']:>12,} readings/s wall, "
          f"{figures['readings_per_cpu_s']:>12,} per CPU second")
    print(f"numpy reference:     {figures['numpy_reference_per_s']:>12,} readings/s wall, "
          f"{figures['numpy_reference_per_cpu_s']:>12,} per CPU second")
    print(f"state / reference time: {figures['reference_ratio']}x wall, {figures['reference_ratio_cpu']}x CPU "
          f"(target <= 3x); state {figures['state_bytes_per_series']} B/series")
    print(f"per shard ({args.shards} shards, {per_shard['view_series']:,.0f} series each), ms wall / ms CPU:")
    for name in ("view_full", "view_realtime", "view_after_batch", "deepcopy", "pickle", "unpickle"):
        print(f"  {name:<17} {per_shard[name + '_ms']:>8.2f} / {per_shard[name + '_cpu_ms']:>8.2f}")
    print(f"  snapshot {per_shard['snapshot_bytes_per_series']:.0f} B/series")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
