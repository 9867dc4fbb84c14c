"""Latency from a reading's arrival to its effect on /metrics at a steady 100,000 readings/s (issue 3).

A paced source emits a batch of ``--rate / 10`` readings every 0.1 s (random series of the full street-level
city, event time = emission time, valid values) into the flow of ``pipelines/live.py`` with the real exporter
(``HubPublisher`` -> ``ExportHub`` -> ``MetricsServer``), as ``vitals run`` wires it: with ``--views demand``
(the default) every scrape asks the shards for fresh views and waits for them (``vitals.stream.demand``); with
``--views interval`` the shards publish a view every ``--publish-interval`` seconds (the earlier design).

A scraper in its own process (as Prometheus is; ``scraper.py``) GETs /metrics with gzip every ``--scrape``
seconds (start to start; back to back when a scrape takes longer) and reads each shard's
``vitals_last_event_timestamp_seconds``. The latency of batch k on shard j is the time the first scrape
response that shows shard j's event time >= the batch's emission time was complete, minus that emission time:
it includes waiting for the next scrape, the views, the render, gzip and the transfer. The first 2 s are
skipped (start-up). Reported next to it: the process's CPU share (on a shared machine, wall-clock latency
grows with the load average, also reported). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_latency.py [--rate 100000] [--seconds 20] [--scrape 0.1] [--views demand]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.run import FALLBACK_PUBLISH_INTERVAL_S
from pipelines.sinks import CallbackSink
from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, SeasonalModel, load_catalog
from vitals.exporter import ExportHub, MetricsServer
from vitals.readings import DeadLetterWriter
from vitals.services import free_port
from vitals.sources.base import SourceBatch
from vitals.stream.demand import ViewDemand
from vitals.stream.outputs import DeadLetters
from vitals.stream.publisher import HubPublisher

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scraper import Scrape, ScraperProcess, time_scrape_parts


class _Paced(StatefulSourcePartition[SourceBatch, None]):
    def __init__(self, catalog: Catalog, per_batch: int, seconds: float, emitted: list[int]) -> None:
        self.catalog, self.per_batch, self.emitted = catalog, per_batch, emitted
        self.rng = np.random.default_rng(7)
        self.seasonal = SeasonalModel(catalog)
        self.next_ns = time.time_ns()
        self.end_ns = self.next_ns + int(seconds * 1e9)
        self.seq = 0

    def next_batch(self) -> list[SourceBatch]:
        now = time.time_ns()
        if now >= self.end_ns:
            raise StopIteration
        if now < self.next_ns:
            return []
        series = self.rng.integers(0, self.catalog.n_series, self.per_batch)
        ind, street = self.catalog.split_series_id(series)
        ts = np.full(self.per_batch, now, dtype=np.int64) + np.arange(self.per_batch)  # distinct per series
        value = self.seasonal.expected(ind.astype(np.int16), ts)
        value = np.clip(value, self.catalog.valid_min_array[ind], self.catalog.valid_max_array[ind])
        batch = ReadingBatch(ts, ind.astype(np.int16), street.astype(np.int32), value, received_ns=now,
                             partition="paced-0", seq=self.seq)
        self.seq += 1
        self.emitted.append(now)
        self.next_ns += 100_000_000
        return [SourceBatch(batch)]

    def next_awake(self) -> datetime | None:
        return datetime.fromtimestamp(self.next_ns / 1e9, tz=UTC)

    def snapshot(self) -> None:
        return None


class PacedSource(FixedPartitionedSource[SourceBatch, None]):
    def __init__(self, catalog: Catalog, rate: int, seconds: float) -> None:
        self.catalog, self.rate, self.seconds = catalog, rate, seconds
        self.emitted: list[int] = []

    def list_parts(self) -> list[str]:
        return ["paced-0"]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Paced:
        return _Paced(self.catalog, self.rate // 10, self.seconds, self.emitted)


def latencies(emitted: list[int], scrapes: list[Scrape]) -> np.ndarray:
    shards = sorted({k for s in scrapes for k in s.last_event_s})
    times = np.array([s.at_ns for s in scrapes], dtype=np.int64)
    out = []
    for shard in shards:
        events = np.array([s.last_event_s.get(shard, 0.0) * 1e9 for s in scrapes])
        visible = np.maximum.accumulate(events)
        for e in emitted:
            idx = np.searchsorted(visible, e - 1e3)  # float seconds in the text: 1 us tolerance
            if idx < len(times):
                out.append((times[idx] - e) / 1e9)
    return np.asarray(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100_000, help="readings per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scrape", type=float, default=0.1, help="seconds between scrape starts")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--views", choices=["demand", "interval"], default="demand",
                        help="demand: each scrape asks the shards for fresh views (vitals run with /metrics); "
                             "interval: shards publish a view every --publish-interval seconds")
    parser.add_argument("--publish-interval", type=float, default=None,
                        help="seconds between periodic shard views (default 0.5; a fallback of 5 with --views demand)")
    args = parser.parse_args()
    from bytewax.testing import run_main

    catalog = load_catalog()
    hub = ExportHub(catalog)
    demand = ViewDemand() if args.views == "demand" else None
    if args.publish_interval is None:
        args.publish_interval = FALLBACK_PUBLISH_INTERVAL_S if demand is not None else 0.5
    publisher = HubPublisher(hub, catalog, demand=demand)
    if demand is not None:  # as pipelines/run.py wires it
        hub.serve_fresh(publisher)
    costs = time_scrape_parts(hub)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, MetricsServer(hub, port=port) as server, \
            ScraperProcess(server.url, args.scrape) as scraper:
        dead = DeadLetterWriter(f"{tmp}/dead.jsonl")
        source = PacedSource(catalog, args.rate, args.seconds)
        sinks = FlowSinks(stats=CallbackSink(publisher), dead_letters=CallbackSink(DeadLetters(dead)))
        options = FlowOptions(shards=args.shards, recovery=False, publish_interval_s=args.publish_interval)
        flow = build_flow(catalog, source, sinks, options, demand=demand)
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        run_main(flow, epoch_interval=timedelta(seconds=1))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        time.sleep(1.0)
        log = scraper.stop()
        dead.close()
    warm = [e for e in source.emitted if e >= source.emitted[0] + 2e9]  # skip the first 2 s (start-up)
    lat = latencies(warm, log.scrapes)
    scrape_s = [s.seconds for s in log.scrapes if s.last_event_s]
    inputs, accepted, _ = publisher.totals()
    figures = {
        "rate_target": args.rate, "readings": inputs, "accepted": accepted,
        "achieved_per_s": round(inputs / args.seconds), "cpu_share": round(cpu / wall, 2),
        "series": catalog.n_series, "shards": args.shards, "views": args.views,
        "publish_interval_s": args.publish_interval, "scrape_every_s": args.scrape,
        "samples": int(lat.size),
        "p50_s": round(float(np.percentile(lat, 50)), 3), "p99_s": round(float(np.percentile(lat, 99)), 3),
        "max_s": round(float(lat.max()), 3), "scrapes": len(log.scrapes), "scrape_failures": log.failures,
        "scrape_p50_s": round(float(np.median(scrape_s)), 4),
        "scrape_p99_s": round(float(np.percentile(scrape_s, 99)), 4),
        **{f"{part}_p50_s": round(float(np.median(v or [0.0])), 4) for part, v in costs.items()},
        "view_requests": demand.requests if demand else 0, "view_timeouts": demand.timeouts if demand else 0,
        "load_average_1m": round((load_before + os.getloadavg()[0]) / 2, 2),
    }
    print(f"{inputs:,} readings at {args.rate:,}/s for {args.seconds:g} s over {catalog.n_series:,} series; "
          f"flow CPU {figures['cpu_share']:.0%} of a core")
    print(f"arrival -> /metrics latency: p50 {figures['p50_s']} s, p99 {figures['p99_s']} s, "
          f"max {figures['max_s']} s ({lat.size} samples; target p99 < 1 s); scrape p50 {figures['scrape_p50_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
