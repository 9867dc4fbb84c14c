"""Scrape cost of the full-scale city (1,031 streets x 28 indicators = 28,868 series) under the default policy.

Prints, then ends with ONE line of JSON:
- render time (wall and CPU of the rendering thread), p50/p99 over repeated renders, for
  * the first render (builds every label prefix once),
  * worst case: every value of every series changed since the previous scrape,
  * steady state: 2% of the series got a reading since the previous scrape, every staleness value moved;
- samples and bytes per scrape (plain and gzip level 1), and prometheus_client's generic rendering of the
  street-level samples for comparison (us per sample);
- the throughput cost of scraping /metrics over HTTP every second (gzip, as Prometheus asks) while a numpy
  workload (bincount / ufunc.at / argsort over 10k-reading batches, like the series-state update) runs in
  another thread and publishes a new view every 0.25 s: workload batches/s without and with scraping,
  alternated to even out the machine's load.

Run: .venv/bin/python benchmarks/bench_scrape.py [--seconds 4] [--rounds 2] [--renders 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import threading
import time
import urllib.request

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from vitals import metric_names as mn
from vitals.catalog import Catalog, load_catalog
from vitals.exporter import ExportHub, MetricsServer, VitalsRenderer, estimate_samples
from vitals.exporter.hub import ScrapeBody
from vitals.exporter.policy import ExportPolicy
from vitals.exporter.testing import synthetic_health, synthetic_view
from vitals.state.view import VitalsView

SHARDS = 4


def steady_views(view: VitalsView, count: int, changed_share: float, seed: int) -> list[VitalsView]:
    """Successive views: each moves the clock by 1 s and gives ``changed_share`` of the series a new reading."""
    rng = np.random.default_rng(seed)
    views, cols = [], {k: v.copy() for k, v in view.columns.items()}
    for step in range(count):
        cols = {k: v.copy() for k, v in cols.items()}
        hit = rng.random(len(view)) < changed_share
        cols["last"][hit] += rng.normal(0, 0.5, int(hit.sum()))
        cols["seconds_since_last"] = np.where(hit, 0.0, cols["seconds_since_last"] + 1.0)
        for name in ("mean_5m", "max_5m", "ewma", "mean_1h"):
            cols[name][hit] = cols[name][hit] * 0.9 + cols["last"][hit] * 0.1
        views.append(dataclasses.replace(view, columns=cols, now_s=view.now_s + step + 1))
    return views


def split_shards(view: VitalsView) -> list[VitalsView]:
    out = []
    for shard in range(SHARDS):
        keep = view.series % SHARDS == shard
        out.append(VitalsView(view.series[keep], view.indicator[keep], view.street[keep],
                              {k: v[keep] for k, v in view.columns.items()}, view.now_s))
    return out


def timed_renders(renderer: VitalsRenderer, views: list[VitalsView], health: object) -> dict[str, float]:
    wall, cpu = [], []
    for view in views:
        w0, c0 = time.perf_counter(), time.thread_time()
        renderer.render(view, health)  # type: ignore[arg-type]
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"wall_p50_ms": 1e3 * float(np.percentile(wall, 50)), "wall_p99_ms": 1e3 * float(np.percentile(wall, 99)),
            "cpu_p50_ms": 1e3 * float(np.percentile(cpu, 50)), "cpu_p99_ms": 1e3 * float(np.percentile(cpu, 99))}


def generic_us_per_sample(catalog: Catalog, view: VitalsView) -> float:
    """prometheus_client's own rendering of the street-level families (last, level, staleness)."""
    ids = ([i.id for i in catalog.indicators], [s.id for s in catalog.streets],
           [catalog.districts[d].id for d in catalog.street_district_array])

    class Generic:
        def collect(self) -> list[GaugeMetricFamily]:
            fams = []
            for name, col in ((mn.WARNING_LEVEL, "level"), (mn.SECONDS_SINCE_LAST_READING, "seconds_since_last"),
                              ("vitals_last", "last")):
                fam = GaugeMetricFamily(name, "generic", labels=["district", "indicator", "street"])
                for i, s, v in zip(view.indicator.tolist(), view.street.tolist(), view.columns[col].tolist(),
                                   strict=True):
                    fam.add_metric([ids[2][s], ids[0][i], ids[1][s]], v)
                fams.append(fam)
            return fams

    registry = CollectorRegistry()
    registry.register(Generic())
    start = time.perf_counter()
    generate_latest(registry)
    return (time.perf_counter() - start) / (3 * len(view)) * 1e6


def workload(stop: threading.Event, done: list[int], hub: ExportHub, views: list[list[VitalsView]]) -> None:
    rng = np.random.default_rng(1)
    n = 28_868
    sums, maxima = np.zeros(n), np.full(n, -np.inf)
    last_publish, k = time.monotonic(), 0
    while not stop.is_set():
        ids = rng.integers(0, n, 10_000)
        values = rng.random(10_000)
        sums += np.bincount(ids, weights=values, minlength=n)
        np.maximum.at(maxima, ids, values)
        order = np.argsort(ids, kind="stable")
        np.add.reduceat(values[order], np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0]))
        done[0] += 1
        if time.monotonic() - last_publish >= 0.25:
            k += 1
            for shard, view in enumerate(views[k % len(views)]):
                hub.publish(shard, view)
            last_publish = time.monotonic()


def scraper(stop: threading.Event, url: str, interval: float, stats: list[float]) -> None:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    next_at = time.monotonic()
    while not stop.is_set():
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        stats.append(time.perf_counter() - start)
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def throughput(hub: ExportHub, url: str, views: list[list[VitalsView]], seconds: float, scrape: bool
               ) -> tuple[float, list[float]]:
    stop, done, scrapes = threading.Event(), [0], list[float]()
    threads = [threading.Thread(target=workload, args=(stop, done, hub, views))]
    if scrape:
        threads.append(threading.Thread(target=scraper, args=(stop, url, 1.0, scrapes)))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return done[0] / seconds, scrapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one throughput segment")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of (no scrape, scrape) per scenario")
    parser.add_argument("--renders", type=int, default=10, help="renders per render-time figure")
    args = parser.parse_args()

    catalog = load_catalog()
    health = synthetic_health(catalog, seed=0)
    base = synthetic_view(catalog, seed=0)
    renderer = VitalsRenderer(catalog)
    start = time.perf_counter()
    first = renderer.render(base, health)
    first_ms = (time.perf_counter() - start) * 1e3
    all_changed = [synthetic_view(catalog, seed=s) for s in range(1, args.renders + 1)]
    worst = timed_renders(renderer, all_changed, health)
    steady_list = steady_views(all_changed[-1], args.renders * 3, 0.02, seed=7)
    steady = timed_renders(renderer, steady_list, health)
    generic_us = generic_us_per_sample(catalog, base)
    plain = len(first.text)
    zipped = len(gzip.compress(first.text, compresslevel=1))
    print(f"full scale: {catalog.n_series} series, {first.samples} samples, {plain / 1e6:.1f} MB "
          f"({zipped / 1e6:.2f} MB gzip -1); estimate {estimate_samples(catalog, ExportPolicy())['total']}")
    print(f"first render (builds label prefixes): {first_ms:.0f} ms")
    print("every value changed:  " + ", ".join(f"{k} {v:.1f}" for k, v in worst.items()))
    print("steady (2% changed):  " + ", ".join(f"{k} {v:.1f}" for k, v in steady.items()))
    print(f"generic prometheus_client: {generic_us:.1f} us/sample -> {generic_us * first.samples / 1e3:.0f} ms "
          f"for this scrape; fast worst case {1e3 * worst['wall_p50_ms'] / first.samples:.2f} us/sample")

    hub = ExportHub(catalog, registry=CollectorRegistry())
    hub.publish_health(health)
    scenarios = {"steady": [split_shards(v) for v in steady_list[:8]],
                 "worst": [split_shards(v) for v in all_changed[:4]]}
    loss: dict[str, float] = {}
    scrape_cpu: dict[str, list[float]] = {"steady": [], "worst": []}
    current = ["steady"]
    plain_scrape = hub.scrape

    def timed_scrape() -> ScrapeBody:  # CPU the serving thread spends per scrape (render + registry + gzip -1)
        c0 = time.thread_time()
        body = plain_scrape()
        gzip.compress(body, compresslevel=1)
        scrape_cpu[current[0]].append(time.thread_time() - c0)
        return body

    hub.scrape = timed_scrape  # type: ignore[method-assign]
    with MetricsServer(hub, port=0) as server:
        for name, views in scenarios.items():
            current[0] = name
            base_rates, scrape_rates, scrape_s = [], [], []
            for _ in range(args.rounds):
                base_rates.append(throughput(hub, server.url, views, args.seconds, scrape=False)[0])
                rate, scrapes = throughput(hub, server.url, views, args.seconds, scrape=True)
                scrape_rates.append(rate)
                scrape_s += scrapes
            loss[name] = 1.0 - float(np.mean(scrape_rates)) / float(np.mean(base_rates))
            print(f"throughput {name}: {np.mean(base_rates):.0f} batches/s without scraping, "
                  f"{np.mean(scrape_rates):.0f} with a scrape every 1 s ({len(scrape_s)} scrapes, "
                  f"p50 {1e3 * np.percentile(scrape_s, 50):.0f} ms each): loss {100 * loss[name]:.1f}%; "
                  f"serving CPU per scrape p50 {1e3 * np.percentile(scrape_cpu[name], 50):.0f} ms (incl. gzip)")
    print(json.dumps({
        "series": catalog.n_series, "samples": first.samples, "bytes": plain, "bytes_gzip": zipped,
        "first_render_ms": round(first_ms, 1),
        **{f"all_changed_{k}": round(v, 1) for k, v in worst.items()},
        **{f"steady_{k}": round(v, 1) for k, v in steady.items()},
        "generic_us_per_sample": round(generic_us, 2),
        "throughput_loss_steady": round(loss["steady"], 4), "throughput_loss_all_changed": round(loss["worst"], 4),
        "scrape_cpu_ms_p50_steady": round(1e3 * float(np.percentile(scrape_cpu["steady"], 50)), 1),
        "scrape_cpu_ms_p50_all_changed": round(1e3 * float(np.percentile(scrape_cpu["worst"], 50)), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
