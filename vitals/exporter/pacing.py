"""Bounding what scrapes cost a busy flow: fresh views at most every ``cost x (1 - budget) / budget`` seconds.

A fresh scrape of the full city (views on demand, see :mod:`vitals.stream.demand`) costs the process ~0.2 s
when a fast replay has changed every series: ~0.1 s of views, ~0.07 s of rendering, ~0.04 s of gzip. When the
flow has idle time (a live source at 100,000 readings/s keeps it ~20 % busy) that time is free and every scrape
gets fresh views. When the flow is saturated (its shards spend at least ``saturated_busy`` CPU seconds per wall
second applying batches: ~0.5-0.6 in a full-speed replay on a quiet machine, ~0.3 when other processes leave it
half a core, ~0.05 at 100,000 readings/s; CPU, not wall, so that load from elsewhere does not look like a
saturated flow) every second of scrape work is
a second of lost throughput, so a scrape gets fresh views only if the last fresh one is at least
``max(min_interval_s, cost x (1 - budget) / budget)`` old (its cost measured: wall seconds of waiting for the
views, the health roll-up, rendering and gzip); otherwise it is served the hub's current views (the cached
text and its cached gzip: nearly free). Scrape work then stays within ``budget`` of the flow's time.

Thread-safe; one per :class:`~vitals.exporter.hub.ExportHub`. Without a ``busy`` signal every scrape is fresh.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

DEFAULT_BUDGET = 0.08          # of the flow's time for scrape work while it is saturated (target: < 10 %)
DEFAULT_MIN_INTERVAL_S = 0.3   # fresh views at most this often while the flow is saturated
DEFAULT_SATURATED_BUSY = 0.2  # shards use at least this much CPU per wall second: the flow is saturated


class ScrapePacer:
    """Decides per scrape whether it gets fresh views; learns the cost of a fresh scrape as it goes."""

    def __init__(self, *, budget: float = DEFAULT_BUDGET, min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
                 saturated_busy: float = DEFAULT_SATURATED_BUSY, busy: Callable[[], float] | None = None) -> None:
        self.budget = budget
        self.min_interval_s = min_interval_s
        self.saturated_busy = saturated_busy
        # cumulative CPU seconds the flow's shards spent applying batches (e.g. ViewDemand.busy_seconds)
        self.busy = busy
        self._lock = threading.Lock()
        self._fresh_at = -math.inf
        self._busy_at_fresh = 0.0
        self._charged_s = 0.0   # cost of the last fresh scrape (complete once its answer is sent)
        self.fresh = 0
        self.served_cached = 0

    def watch(self, busy: Callable[[], float] | None) -> None:
        """Pace by this busy clock from now on (None: every scrape is fresh)."""
        with self._lock:
            self.busy = busy

    def interval_s(self) -> float:
        """Seconds between fresh scrapes while the flow is saturated."""
        return max(self.min_interval_s, self._charged_s * (1.0 - self.budget) / self.budget)

    def busy_fraction(self, now: float) -> float:
        """CPU seconds per wall second the shards spent applying batches since the last fresh scrape."""
        if self.busy is None or not math.isfinite(self._fresh_at):
            return 0.0
        return (self.busy() - self._busy_at_fresh) / max(now - self._fresh_at, 1e-6)

    def due(self) -> bool:
        """True: this scrape gets fresh views (and is charged with their cost); False: serve the current ones."""
        now = time.monotonic()
        with self._lock:
            saturated = self.busy_fraction(now) >= self.saturated_busy
            if saturated and now - self._fresh_at < self.interval_s():
                self.served_cached += 1
                return False
            self._fresh_at, self._charged_s = now, 0.0
            self._busy_at_fresh = self.busy() if self.busy is not None else 0.0
            self.fresh += 1
            return True

    def charge(self, seconds: float) -> None:
        """Add work done for the current fresh generation (views, roll-up, render, gzip) to its cost."""
        with self._lock:
            self._charged_s += seconds
