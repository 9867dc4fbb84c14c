"""Views on demand: a scrape asks the shards of its process for fresh views and waits a bounded time for them.

A shard's view costs ~1-3 us per series written since the previous view (a full recompute of a shard when a
fast replay has touched every row), so building views on a timer costs throughput whether anyone reads them or
not, and adds the timer's period to the latency. With a :class:`ViewDemand` the metrics server's scrape
:meth:`~ViewDemand.request` s a new *generation*; every shard of the process answers at its next activation (a
batch, or its poll timer) with a view tagged with that generation; the exporter's sink marks the generation
:meth:`~ViewDemand.served` once the view is in the hub; the scrape :meth:`~ViewDemand.wait` s until every known
shard served it (or ``max_wait_s`` passed: then it renders what the hub holds) and renders.

One object per process, shared by the flow's shards (all worker threads) and the exporter. Thread-safe.
"""

from __future__ import annotations

import threading
import time

DEFAULT_MAX_WAIT_S = 0.3
DEFAULT_POLL_S = 0.02


class ViewDemand:
    """Generations of view requests, the generation each shard last served, and waiting for them."""

    def __init__(self, *, max_wait_s: float = DEFAULT_MAX_WAIT_S, poll_s: float = DEFAULT_POLL_S) -> None:
        self.max_wait_s = max_wait_s
        self.poll_s = poll_s  # how often an idle shard looks for a request (its Bytewax notify interval)
        self._cond = threading.Condition()
        self._generation = 0
        self._served: dict[int, int] = {}
        self.requests = 0
        self.timeouts = 0
        self._busy_s = 0.0  # CPU seconds the shards spent applying batches (the scrape pacer's saturation signal)

    def register(self, shard: int) -> None:
        """A shard of this process exists: scrapes wait for it from now on."""
        with self._cond:
            self._served.setdefault(shard, 0)

    def retire(self, shard: int) -> None:
        """A shard published its final view (end of input): scrapes no longer wait for it."""
        with self._cond:
            self._served.pop(shard, None)
            self._cond.notify_all()

    def note_busy(self, seconds: float) -> None:
        """A shard spent ``seconds`` of CPU applying batches (see :class:`~vitals.exporter.pacing.ScrapePacer`)."""
        with self._cond:
            self._busy_s += seconds

    def busy_seconds(self) -> float:
        """CPU seconds the shards of this process spent applying batches so far."""
        return self._busy_s

    def request(self) -> int:
        """Ask every shard for a fresh view; returns the generation to wait for."""
        with self._cond:
            self._generation += 1
            self.requests += 1
            return self._generation

    def current(self) -> int:
        """The newest requested generation (0: none yet); a shard that answered an older one owes a view."""
        return self._generation  # an int read is atomic; a request missed now is seen at the next poll

    def served(self, shard: int, generation: int) -> None:
        """The shard's view for ``generation`` is in the hub."""
        with self._cond:
            if generation > self._served.get(shard, 0):
                self._served[shard] = generation
                self._cond.notify_all()

    def wait(self, generation: int, timeout_s: float | None = None) -> bool:
        """Block until every registered shard served ``generation`` (True) or the timeout passed (False)."""
        deadline = time.monotonic() + (self.max_wait_s if timeout_s is None else timeout_s)
        with self._cond:
            while any(g < generation for g in self._served.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    self.timeouts += 1
                    return False
                self._cond.wait(left)
        return True

    def refresh(self) -> bool:
        """Request fresh views and wait for them (the scrape's hook); False when some shard did not answer."""
        return self.wait(self.request())
