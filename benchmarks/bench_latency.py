"""Latency from a reading's arrival to its effect on /metrics at a steady 100,000 readings/s (issue 3).

A paced source emits a batch of ``--rate / 10`` readings every 0.1 s (random series of the full street-level
city, event time = emission time, valid values) into the flow of ``pipelines/live.py`` with the real exporter
(``HubPublisher`` -> ``ExportHub`` -> ``MetricsServer``). A scraper GETs /metrics over HTTP every ``--scrape``
seconds and reads each shard's ``vitals_last_event_timestamp_seconds``. The latency of batch k on shard j is the
time of the first scrape that shows shard j's event time >= the batch's emission time, minus that emission time
(so it includes the shard's publication interval, 0.5 s, and the scrape's own render). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_latency.py [--rate 100000] [--seconds 20] [--scrape 0.05]
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.sinks import CallbackSink
from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, SeasonalModel, load_catalog
from vitals.exporter import ExportHub, MetricsServer
from vitals.readings import DeadLetterWriter
from vitals.services import free_port, http_get
from vitals.sources.base import SourceBatch
from vitals.stream.outputs import DeadLetters
from vitals.stream.publisher import HubPublisher

LAST_EVENT = re.compile(rb'^vitals_last_event_timestamp_seconds\{[^}]*="([^"]+)"\} (\S+)$', re.M)


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


def scrape_loop(url: str, every_s: float, stop: threading.Event, out: list[tuple[int, dict[str, float]]],
                render_s: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            body = http_get(url)
        except OSError:
            body = b""
        seen = time.time_ns()
        render_s.append(time.perf_counter() - started)
        out.append((seen, {k.decode(): float(v) for k, v in LAST_EVENT.findall(body)}))
        stop.wait(every_s)


def latencies(emitted: list[int], scrapes: list[tuple[int, dict[str, float]]]) -> np.ndarray:
    shards = sorted({k for _, seen in scrapes for k in seen})
    out = []
    for shard in shards:
        times = np.array([t for t, seen in scrapes], dtype=np.int64)
        events = np.array([seen.get(shard, 0.0) * 1e9 for _, seen in scrapes])
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
    parser.add_argument("--scrape", type=float, default=0.05, help="seconds between scrapes")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--publish-interval", type=float, default=0.5, help="seconds between shard views")
    args = parser.parse_args()
    from bytewax.testing import run_main

    catalog = load_catalog()
    hub = ExportHub(catalog)
    publisher = HubPublisher(hub, catalog)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, MetricsServer(hub, port=free_port()) as server:
        dead = DeadLetterWriter(f"{tmp}/dead.jsonl")
        source = PacedSource(catalog, args.rate, args.seconds)
        sinks = FlowSinks(stats=CallbackSink(publisher), dead_letters=CallbackSink(DeadLetters(dead)))
        flow = build_flow(catalog, source, sinks, FlowOptions(shards=args.shards, recovery=False,
                                                                  publish_interval_s=args.publish_interval))
        stop = threading.Event()
        scrapes: list[tuple[int, dict[str, float]]] = []
        render_s: list[float] = []
        scraper = threading.Thread(target=scrape_loop, args=(server.url, args.scrape, stop, scrapes, render_s),
                                   daemon=True)
        scraper.start()
        started, cpu = time.perf_counter(), time.process_time()
        run_main(flow, epoch_interval=timedelta(seconds=1))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        time.sleep(1.0)
        stop.set()
        scraper.join()
        dead.close()
    warm = [e for e in source.emitted if e >= source.emitted[0] + 2e9]  # skip the first 2 s (start-up)
    lat = latencies(warm, scrapes)
    inputs, accepted, _ = publisher.totals()
    figures = {
        "rate_target": args.rate, "readings": inputs, "accepted": accepted,
        "achieved_per_s": round(inputs / args.seconds), "cpu_share": round(cpu / wall, 2),
        "series": catalog.n_series, "shards": args.shards, "publish_interval_s": args.publish_interval,
        "samples": int(lat.size),
        "p50_s": round(float(np.percentile(lat, 50)), 3), "p99_s": round(float(np.percentile(lat, 99)), 3),
        "max_s": round(float(lat.max()), 3), "scrapes": len(scrapes),
        "scrape_p50_s": round(float(np.median(render_s)), 4),
        "scrape_p99_s": round(float(np.percentile(render_s, 99)), 4),
    }
    print(f"{inputs:,} readings at {args.rate:,}/s for {args.seconds:g} s over {catalog.n_series:,} series; "
          f"flow CPU {figures['cpu_share']:.0%} of a core")
    print(f"arrival -> /metrics latency: p50 {figures['p50_s']} s, p99 {figures['p99_s']} s, "
          f"max {figures['max_s']} s ({lat.size} samples; target p99 < 1 s); scrape p50 {figures['scrape_p50_s']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
