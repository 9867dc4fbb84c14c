"""Throughput of a Parquet file replay through the full streaming core (issue 3), at street level, next to
the numpy-only reference.

Writes ``--readings`` simulated-like readings of every series of the full city (28,868 series; the generator of
``bench_throughput.py``: catalog cadences, seasonality, ~1 % late arrivals, ~0.1 % duplicates, values clipped
into the valid ranges) to one Parquet file, then replays it with Bytewax (one worker, ``run_main``) through the
flow of ``pipelines/live.py`` wired as ``vitals replay`` wires it: Parquet decode -> ``ReadingParser`` ->
validation and watermark -> split by shard -> series state -> the exporter (``HubPublisher`` -> ``ExportHub``
-> ``MetricsServer``, views on demand with the 5 s fallback) and dead letters (a real ``DeadLetterWriter``).
With ``--scrape-every S`` (default 1 s) a scraper in its own process (as Prometheus is) GETs /metrics with gzip
every S seconds, so the figures include building the views, the health roll-up, rendering and compressing
15 MB per scrape; ``--scrape-every 0`` measures the flow with nobody scraping.

The reference (``pipeline_reference.py``; its docstring lists exactly what it does and what it leaves out)
replays the same file in the same record batches in plain numpy: decode, id -> code mapping, range and
lateness checks, the same window bucket updates (bit-identical rings on duplicate-free input) and last values.
Also timed: the array work alone (``bench_throughput.NumpyReference`` on in-memory batches: count/sum/min/max
and last, no decode, checks, tags or histogram), the figure this benchmark compared with before.

Each of the three runs ``--repeat`` times, interleaved; medians of wall time and process CPU time are reported
(the machine is shared: CPU time is what a worker with a core of its own would see; the load average is
printed). ``--recovery`` adds Bytewax recovery with ``--snapshot-interval`` epochs (``bench_recovery.py``
measures both in one run). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_pipeline.py [--readings 4000000] [--batch 50000] [--shards 4] [--repeat 3]
        [--scrape-every 1.0] [--views demand|interval]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import NumpyReference, simulated_readings
from pipeline_reference import time_reference
from scraper import ScraperProcess, time_scrape_parts

from pipelines.connectors import FileReplaySource
from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.run import FALLBACK_PUBLISH_INTERVAL_S
from pipelines.sinks import CallbackSink
from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, load_catalog
from vitals.exporter import ExportHub, MetricsServer
from vitals.readings import DeadLetterWriter, ReadingParser
from vitals.services import free_port
from vitals.stream.demand import ViewDemand
from vitals.stream.outputs import DeadLetters
from vitals.stream.publisher import HubPublisher


def valid_readings(catalog: Catalog, n: int) -> ReadingBatch:
    """``bench_throughput``'s readings with values clipped into each indicator's valid range (its noise puts ~4 %
    outside; each rejection costs a rendered dead letter, which is not what this measures)."""
    readings = simulated_readings(catalog, n)
    lo, hi = catalog.valid_min_array[readings.indicator], catalog.valid_max_array[readings.indicator]
    readings.value[:] = np.clip(readings.value, lo, hi)
    return readings


def write_parquet(catalog: Catalog, readings: ReadingBatch, path: Path) -> None:
    ind_ids = np.array([i.id for i in catalog.indicators], dtype=object)
    street_ids = np.array([s.id for s in catalog.streets], dtype=object)
    table = pa.table({
        "ts": pa.array(readings.ts_ns, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "indicator": pa.array(ind_ids[readings.indicator]).dictionary_encode(),
        "area": pa.array(street_ids[readings.street]).dictionary_encode(),
        "value": pa.array(readings.value),
    })
    pq.write_table(table, path, row_group_size=256 * 1024, compression="zstd")


@dataclass
class FlowRun:
    wall_s: float
    cpu_s: float
    inputs: int
    accepted: int
    rejected: dict[str, int]
    scrapes: int = 0
    views: int = 0  # view requests answered (views on demand)
    scrape_parts_s: dict[str, float] | None = None  # server-side wall seconds per scrape (medians)


def replay(catalog: Catalog, path: Path, *, batch: int, shards: int, workdir: Path,
           recovery: bool = False, snapshot_s: float = 1.0, scrape_every: float = 0.0,
           views: str = "demand") -> FlowRun:
    """One replay of ``path`` through the streaming core (one worker); wall and CPU seconds of this process.

    ``views``: "demand" (as ``vitals run`` with /metrics: scrapes ask for views, 5 s fallback timer) or
    "interval" (a view every 0.5 s per shard, the earlier design); ``scrape_every`` > 0 scrapes /metrics from
    another process that often."""
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.testing import run_main

    hub = ExportHub(catalog)
    demand = ViewDemand() if views == "demand" else None
    publisher = HubPublisher(hub, catalog, demand=demand)
    if demand is not None:  # as pipelines/run.py wires it
        hub.serve_fresh(publisher)
    dead = DeadLetterWriter(workdir / f"dead-{time.monotonic_ns()}.jsonl")
    sinks = FlowSinks(stats=CallbackSink(publisher), dead_letters=CallbackSink(DeadLetters(dead)))
    source = FileReplaySource([path], lambda: ReadingParser(catalog), 1, block_rows=batch)
    interval = FALLBACK_PUBLISH_INTERVAL_S if demand is not None else FlowOptions.publish_interval_s
    options = FlowOptions(shards=shards, recovery=recovery, publish_interval_s=interval)
    flow = build_flow(catalog, source, sinks, options, demand=demand)
    config: Any = None
    if recovery:
        rdir = Path(tempfile.mkdtemp(dir=workdir))
        init_db_dir(rdir, 1)
        config = RecoveryConfig(str(rdir))
    costs = time_scrape_parts(hub)
    with contextlib.ExitStack() as stack:
        scraper = None
        if scrape_every > 0:
            server = stack.enter_context(MetricsServer(hub, port=free_port()))
            scraper = stack.enter_context(ScraperProcess(server.url, scrape_every))
        started, cpu = time.perf_counter(), time.process_time()
        run_main(flow, epoch_interval=timedelta(seconds=snapshot_s), recovery_config=config)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        scrapes = len(scraper.stop().scrapes) if scraper is not None else 0
    dead.close()
    inputs, accepted, rejected = publisher.totals()
    parts = {k: statistics.median(v) for k, v in costs.items() if v}
    return FlowRun(wall, cpu, inputs, accepted, rejected, scrapes, demand.requests if demand else 0, parts)


def timed(fn: Any, *args: Any) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - started, time.process_time() - cpu


def arrays_only(catalog: Catalog, readings: ReadingBatch, batch: int) -> tuple[float, float]:
    ref = NumpyReference(catalog)
    parts = [readings.take(np.arange(a, min(a + batch, len(readings)))) for a in range(0, len(readings), batch)]

    def run() -> None:
        for b in parts:
            ref.update(b)

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=4_000_000)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per Parquet record batch (source batch)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scrape-every", type=float, default=1.0, help="seconds between scrapes (0: none)")
    parser.add_argument("--views", choices=["demand", "interval"], default="demand")
    parser.add_argument("--recovery", action="store_true", help="with Bytewax recovery on")
    parser.add_argument("--snapshot-interval", type=float, default=1.0)
    args = parser.parse_args()
    catalog = load_catalog()
    readings = valid_readings(catalog, args.readings)
    n = len(readings)
    core: list[FlowRun] = []
    ref_times: list[tuple[float, float]] = []
    arr_times: list[tuple[float, float]] = []
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "readings.parquet"
        write_parquet(catalog, readings, path)
        for _ in range(args.repeat):
            core.append(replay(catalog, path, batch=args.batch, shards=args.shards, workdir=work,
                               recovery=args.recovery, snapshot_s=args.snapshot_interval,
                               scrape_every=args.scrape_every, views=args.views))
            wall, cpu, ref = time_reference(catalog, path, args.batch)
            ref_times.append((wall, cpu))
            arr_times.append(arrays_only(catalog, readings, args.batch))
            load.append(os.getloadavg()[0])
    med = statistics.median
    run = core[-1]
    duplicates = run.rejected.get("duplicate", 0)
    if ref.accepted != run.accepted + duplicates:  # the reference keeps duplicates; nothing else differs
        msg = f"reference accepted {ref.accepted:,}, core {run.accepted:,} + {duplicates:,} duplicates"
        raise SystemExit(msg)
    core_wall, core_cpu = med(r.wall_s for r in core), med(r.cpu_s for r in core)
    ref_wall, ref_cpu = med(t[0] for t in ref_times), med(t[1] for t in ref_times)
    arr_wall, arr_cpu = med(t[0] for t in arr_times), med(t[1] for t in arr_times)
    figures = {
        "readings": n, "series": catalog.n_series, "batch": args.batch, "shards": args.shards,
        "repeat": args.repeat, "views": args.views, "scrape_every_s": args.scrape_every,
        "scrapes": run.scrapes, "view_requests": run.views, "recovery": args.recovery,
        "accepted": run.accepted, "rejected": run.rejected,
        "flow_readings_per_s": round(n / core_wall), "flow_readings_per_cpu_s": round(n / core_cpu),
        "reference_per_s": round(n / ref_wall), "reference_per_cpu_s": round(n / ref_cpu),
        "reference_ratio_cpu": round(core_cpu / ref_cpu, 2), "reference_ratio": round(core_wall / ref_wall, 2),
        "arrays_only_per_cpu_s": round(n / arr_cpu), "arrays_only_ratio_cpu": round(core_cpu / arr_cpu, 2),
        "flow_cpu_s_runs": [round(r.cpu_s, 3) for r in core], "flow_wall_s_runs": [round(r.wall_s, 3) for r in core],
        "load_average_1m": round(med(load), 2),
        **{f"scrape_{k}_p50_s": round(v, 4) for k, v in (run.scrape_parts_s or {}).items()},
    }
    if run.inputs != n:
        msg = f"the flow saw {run.inputs:,} readings of {n:,}"
        raise SystemExit(msg)
    print(f"{n:,} readings over {catalog.n_series:,} series, Parquet record batches of {args.batch:,}, "
          f"{args.shards} shards, one worker{' with recovery' if args.recovery else ''}, views on {args.views}, "
          f"{run.scrapes} scrapes (every {args.scrape_every:g} s); median of {args.repeat}; "
          f"load average {figures['load_average_1m']}")
    print(f"streaming core:       {figures['flow_readings_per_s']:>12,} readings/s wall, "
          f"{figures['flow_readings_per_cpu_s']:>12,} per CPU second")
    print(f"numpy reference:      {figures['reference_per_s']:>12,} readings/s wall, "
          f"{figures['reference_per_cpu_s']:>12,} per CPU second (decode, map, check, rings, last)")
    print(f"array work alone:     {round(n / arr_wall):>12,} readings/s wall, "
          f"{figures['arrays_only_per_cpu_s']:>12,} per CPU second (count/sum/min/max + last in memory)")
    print(f"core / reference: {figures['reference_ratio_cpu']}x CPU, {figures['reference_ratio']}x wall "
          f"(target >= 1M/s per worker and <= 3x); core / array work alone: {figures['arrays_only_ratio_cpu']}x CPU")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
