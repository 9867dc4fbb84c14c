"""A /metrics scraper in its own process, as Prometheus is: GETs the URL every ``every_s`` seconds (asking for
gzip, as Prometheus does), and records per scrape the wall time of the response (``time.time_ns``, the same
clock in every process), the scrape's duration and each shard's ``vitals_last_event_timestamp_seconds``.

Parsing 15 MB of text in the measured process would steal its CPU (and the GIL); here only the scraper's
process pays for it. Used by ``bench_latency.py`` and ``bench_pipeline.py``.
"""

from __future__ import annotations

import gzip
import multiprocessing as mp
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from vitals.exporter import ExportHub
from vitals.exporter.hub import Freshener

FAMILY = b"# TYPE vitals_last_event_timestamp_seconds gauge\n"
LAST_EVENT = re.compile(rb'^vitals_last_event_timestamp_seconds\{[^}]*="([^"]+)"\} (\S+)$', re.M)


@dataclass
class Scrape:
    at_ns: int                      # wall time the response was complete
    seconds: float                  # request to complete response
    last_event_s: dict[str, float]  # shard -> its newest event time shown


@dataclass
class ScrapeLog:
    scrapes: list[Scrape] = field(default_factory=list)
    failures: int = 0


def last_event_times(body: bytes) -> dict[str, float]:
    """Each shard's ``vitals_last_event_timestamp_seconds`` from a /metrics body (only its family is parsed)."""
    start = body.find(FAMILY)
    if start < 0:
        return {}
    block = body[start:start + 64 * 1024]
    return {k.decode(): float(v) for k, v in LAST_EVENT.findall(block)}


def _loop(url: str, every_s: float, ready: Any, stop: Any, conn: Connection) -> None:
    log = ScrapeLog()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    ready.set()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                raw = resp.read()
                gzipped = resp.headers.get("Content-Encoding") == "gzip"
        except OSError:
            log.failures += 1
            stop.wait(every_s)
            continue
        at_ns, seconds = time.time_ns(), time.perf_counter() - started
        body = gzip.decompress(raw) if gzipped else raw
        log.scrapes.append(Scrape(at_ns, seconds, last_event_times(body)))
        stop.wait(max(0.0, every_s - (time.perf_counter() - started)))
    conn.send(log)
    conn.close()


class ScraperProcess:
    """``with ScraperProcess(url, every_s) as s: ...``; then ``s.log`` holds the scrapes (every ``every_s``
    seconds from the start of one scrape to the start of the next, or back to back when a scrape takes longer)."""

    def __init__(self, url: str, every_s: float) -> None:
        ctx = mp.get_context("spawn")
        self._stop, self._ready = ctx.Event(), ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_loop, args=(url, every_s, self._ready, self._stop, send), daemon=True)
        self.log = ScrapeLog()

    def __enter__(self) -> ScraperProcess:
        self._process.start()
        self._ready.wait(60)  # the child imports the benchmark's main module first (spawn)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> ScrapeLog:
        if self._process.is_alive() or self._process.exitcode is None:
            self._stop.set()
            if self._recv.poll(30):
                self.log = self._recv.recv()
            self._process.join(timeout=10)
        return self.log


class _TimedFreshener:
    """The run's freshener with its ``freshen`` timed."""

    def __init__(self, inner: Freshener, freshen: Callable[[], None]) -> None:
        self.freshen = freshen
        self.busy_seconds = inner.busy_seconds


def time_scrape_parts(hub: ExportHub) -> dict[str, list[float]]:
    """Wall seconds of each scrape's parts on the server: waiting for fresh views (and the health roll-up),
    rendering the vitals (0 when nothing changed: the cached text), and the whole body (+ registry)."""
    costs: dict[str, list[float]] = {"freshen": [], "render": [], "body": []}

    def timed(part: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            started = time.perf_counter()
            out = fn()
            costs[part].append(time.perf_counter() - started)
            return out
        return run

    flow = hub.freshener
    if flow is not None:
        hub.serve_fresh(_TimedFreshener(flow, timed("freshen", flow.freshen)))
    hub.render = timed("render", hub.render)  # type: ignore[method-assign]
    hub.scrape = timed("body", hub.scrape)  # type: ignore[method-assign]
    return costs
