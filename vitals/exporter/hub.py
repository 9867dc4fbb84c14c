"""Where the flow's shards publish and the scrape reads: one :class:`ExportHub` per process.

Each shard (or worker) publishes a reference to its latest :class:`VitalsView` snapshot (a dict assignment under
a lock: microseconds on the flow's side); whoever computes the area health publishes a :class:`HealthLike`. A
scrape takes the current references, combines them and renders them with the vectorized renderer, outside the
publish lock, so the flow never waits for a scrape. A view must not be mutated after it is published (the
series state's ``view()`` returns fresh arrays). Renders are serialized and cached: while nothing new was
published, a scrape returns the previous bytes, and its gzip is cached too (:class:`ScrapeBody`). With a
``freshen`` hook (views on demand), the hub's :class:`~vitals.exporter.pacing.ScrapePacer` decides per scrape
whether to call it (fresh views) or to serve the current views, so that scrapes cost a saturated flow at most
its budget.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.exporter.health_view import HealthLike
from vitals.exporter.pacing import ScrapePacer
from vitals.exporter.pipeline_stats import PipelineCollector, PipelineStats
from vitals.exporter.policy import ExportPolicy
from vitals.exporter.render import Rendered, VitalsRenderer
from vitals.state.view import VitalsView, stale_as_of

log = logging.getLogger(__name__)

GZIP_LEVEL = 1  # Prometheus asks for gzip; level 1 is ~3x faster than the default 9 and ~9x smaller than plain


class ScrapeBody(bytes):
    """A /metrics body: the vitals text (its first ``head_len`` bytes) then the registry's text. ``gzip()``
    reuses the vitals text's cached compressed member (a gzip stream may hold several members, RFC 1952; Go's
    reader, hence Prometheus, and Python's read them all) and compresses only the small registry part."""

    head_len: int = 0
    head_gzip: Callable[[], bytes] | None = None

    def gzip(self) -> bytes:
        if self.head_gzip is None:
            return gzip.compress(self, compresslevel=GZIP_LEVEL)
        return self.head_gzip() + gzip.compress(self[self.head_len:], compresslevel=GZIP_LEVEL)


class Freshener(Protocol):
    """Views on demand for the hub (e.g. :class:`vitals.stream.publisher.HubPublisher`): ``freshen`` asks the
    flow for fresh views and waits for them (bounded); ``busy_seconds`` is the CPU the flow spent so far (the
    pacer's saturation signal, see :mod:`vitals.exporter.pacing`)."""

    def freshen(self) -> None: ...

    def busy_seconds(self) -> float: ...


class ExportHub:
    """Thread-safe meeting point of the flow (publishers) and the metrics server (scrapes).

    ``freshener``: views on demand from the start (or later, :meth:`serve_fresh`, called by whoever wires the
    run: ``pipelines/run.py``)."""

    def __init__(self, catalog: Catalog, *, registry: CollectorRegistry | None = None,
                 policy: ExportPolicy | None = None, stats: PipelineStats | None = None,
                 min_publish_interval_s: float = 0.5, pacer: ScrapePacer | None = None,
                 freshener: Freshener | None = None) -> None:
        self.catalog = catalog
        self.renderer = VitalsRenderer(catalog, policy)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.stats = stats if stats is not None else PipelineStats()
        self.min_publish_interval_s = min_publish_interval_s
        self.registry.register(PipelineCollector(self.stats))
        self.registry.register(_ExporterCollector(self))
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._views: dict[str, VitalsView] = {}
        self._published_at: dict[str, float] = {}
        self._health: HealthLike | None = None
        self._cached_inputs: tuple[object, ...] = ()
        self._cached: Rendered | None = None
        self._cached_second: int | None = None
        self._gzipped: tuple[Rendered, bytes] | None = None
        self.last_render: Rendered | None = None
        self.pacer = pacer if pacer is not None else ScrapePacer()
        # what staleness is measured against besides event time (Unix seconds): the wall clock of a live source,
        # the replay clock of a paced replay (vitals.sources.base.staleness_clock); None: event time only
        self._clock: Callable[[], float | None] | None = None
        # called by a scrape before it renders when the pacer says so (e.g. ask the shards for fresh views)
        self._freshener: Freshener | None = None
        self.serve_fresh(freshener)

    def serve_fresh(self, freshener: Freshener | None) -> None:
        """Scrapes ask ``freshener`` for fresh views (paced by its busy time); None: render what was published
        (e.g. once the flow has ended)."""
        self._freshener = freshener
        self.pacer.watch(freshener.busy_seconds if freshener is not None else None)

    @property
    def freshener(self) -> Freshener | None:
        return self._freshener

    @property
    def freshen(self) -> Callable[[], None] | None:
        """The views-on-demand hook a scrape calls (None: views are published on a timer only)."""
        return self._freshener.freshen if self._freshener is not None else None

    def use_clock(self, clock: Callable[[], float | None] | None) -> None:
        """Measure staleness against ``clock`` too (registered by whoever wires the run: ``pipelines/run.py``)."""
        self._clock = clock

    @property
    def clock(self) -> Callable[[], float | None] | None:
        return self._clock

    # ---- the flow's side ------------------------------------------------------------------------------------
    def publish(self, shard: int | str, view: VitalsView) -> None:
        """Make ``view`` the current vitals of ``shard`` (replaces its previous view)."""
        with self._lock:
            self._views[str(shard)] = view
            self._published_at[str(shard)] = time.monotonic()

    def wants_view(self, shard: int | str) -> bool:
        """True when the shard's last publication is older than ``min_publish_interval_s`` (build a view then)."""
        with self._lock:
            last = self._published_at.get(str(shard))
        return last is None or time.monotonic() - last >= self.min_publish_interval_s

    def publish_health(self, health: HealthLike | None) -> None:
        with self._lock:
            self._health = health

    def retire(self, shard: int | str) -> None:
        """Forget a shard (e.g. after a rescale); its series disappear from the next scrape."""
        with self._lock:
            self._views.pop(str(shard), None)
            self._published_at.pop(str(shard), None)

    # ---- the scrape's side -----------------------------------------------------------------------------------
    def render(self) -> Rendered:
        """The vitals text of the current publications (cached until something new is published)."""
        with self._lock:
            shards = sorted(self._views, key=_shard_order)
            views = [self._views[s] for s in shards]
            health = self._health
        now = self.clock() if self.clock is not None else None
        inputs = (*views, health)
        with self._render_lock:
            cached = self._cached
            # with a clock the staleness moves on by itself: render again once it moved a second
            if (cached is not None and _same_objects(inputs, self._cached_inputs)
                    and (now is None or int(now) == self._cached_second)):
                return cached
            view = views[0] if len(views) == 1 else VitalsView.concat(views)
            rendered = self.renderer.render(stale_as_of(view, now), health)
            self._cached, self._cached_inputs, self.last_render = rendered, inputs, rendered
            self._cached_second = None if now is None else int(now)
        log.debug("rendered %d samples (%d bytes) in %.1f ms, %d values formatted", rendered.samples,
                  len(rendered.text), rendered.seconds * 1e3, rendered.formatted)
        return rendered

    def scrape(self) -> ScrapeBody:
        """The whole /metrics body: the vectorized vitals text, then the registry's text (pipeline health);
        first calls ``freshen`` when set and the pacer grants fresh views."""
        freshen = self.freshen
        fresh = freshen is not None and self.pacer.due()
        started = time.perf_counter()
        if fresh and freshen is not None:
            freshen()
        rendered = self.render()
        if fresh:
            self.pacer.charge(time.perf_counter() - started)
        body = ScrapeBody(b"".join((rendered.text, generate_latest(self.registry))))
        body.head_len = len(rendered.text)
        body.head_gzip = lambda: self._gzip_of(rendered)
        return body

    def _gzip_of(self, rendered: Rendered) -> bytes:
        """The compressed vitals text of ``rendered`` (compressed once per render; its time charged to the pacer)."""
        with self._render_lock:
            cached = self._gzipped
            if cached is not None and cached[0] is rendered:
                return cached[1]
            started = time.perf_counter()
            data = gzip.compress(rendered.text, compresslevel=GZIP_LEVEL)
            self._gzipped = (rendered, data)
        self.pacer.charge(time.perf_counter() - started)
        return data

    def shards(self) -> list[str]:
        with self._lock:
            return sorted(self._views, key=_shard_order)


class _ExporterCollector(Collector):
    """The exporter's own cost: duration, samples and bytes of the last render."""

    def __init__(self, hub: ExportHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        last = self.hub.last_render
        if last is None:
            return
        yield GaugeMetricFamily(mn.EXPORT_RENDER_SECONDS, "Seconds the last vitals render took.", value=last.seconds)
        yield GaugeMetricFamily(mn.EXPORT_SAMPLES, "Samples in the last vitals render.", value=last.samples)
        yield GaugeMetricFamily(mn.EXPORT_BYTES, "Bytes of the last vitals render.", value=len(last.text))


def _shard_order(shard: str) -> tuple[int, int, str]:
    return (0, int(shard), "") if shard.isdigit() else (1, 0, shard)


def _same_objects(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
