"""Hands the flow's published state to the exporter: shard views, area health and pipeline counts."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from vitals.catalog import Catalog
from vitals.exporter import ExportHub, PartitionCounts, ShardCounts
from vitals.health.rollup import HealthRollup
from vitals.state.view import VitalsView, stale_as_of
from vitals.stream.demand import ViewDemand
from vitals.stream.partition_check import CheckedBatch
from vitals.stream.shard_step import ShardPublish
from vitals.units import NS_PER_S


class HubPublisher:
    """Sink callback: CheckedBatch -> partition counts; ShardPublish -> view, shard counts, health roll-up.

    The health roll-up (with its hysteresis) runs over the latest views of every shard in this process, at most
    every ``health_interval_s`` after periodic publications. With a ``demand`` (views on demand, see
    :mod:`vitals.stream.demand`) the publisher can serve the hub's fresh views (it is a
    :class:`~vitals.exporter.hub.Freshener`; ``pipelines/run.py`` registers it with ``hub.serve_fresh``): a
    scrape first asks every shard for a fresh view, waits for them (bounded), then rolls the health up over them
    once. Thread-safe: several workers of one process call it.
    """

    def __init__(self, hub: ExportHub, catalog: Catalog, *, health_interval_s: float = 0.5,
                 demand: ViewDemand | None = None) -> None:
        self.hub = hub
        self.rollup = HealthRollup(catalog)
        self.health_interval_s = health_interval_s
        self.demand = demand
        self._views: dict[int, VitalsView] = {}
        self._lock = threading.Lock()
        self._last_health = 0.0
        self._new_views = False
        self.inputs: dict[str, int] = {}
        self.rejected: dict[str, dict[str, int]] = {}
        self.accepted: dict[int, int] = {}
        self.duplicates: dict[int, int] = {}

    def __call__(self, items: list[Any]) -> None:
        answered = False
        for item in items:
            if isinstance(item, CheckedBatch):
                self._partition(item)
            elif isinstance(item, ShardPublish):
                self._shard(item)
                answered = answered or item.generation > 0
        if not answered:  # views asked for by a scrape: that scrape rolls the health up once they are all in
            self._health(changed_only=self.demand is not None)

    def freshen(self) -> None:
        """Before a scrape: fresh views from every shard of the process (bounded wait), then the health."""
        if self.demand is not None:
            self.demand.refresh()
        self._health(force=True, changed_only=True)

    def busy_seconds(self) -> float:
        """CPU seconds the shards spent applying batches (a saturated flow gets fresh views within the scrape
        budget, see :mod:`vitals.exporter.pacing`); 0 without views on demand."""
        return self.demand.busy_seconds() if self.demand is not None else 0.0

    def _partition(self, item: CheckedBatch) -> None:
        wm = math.nan if item.watermark_ns is None else item.watermark_ns / NS_PER_S
        partition = item.batch.partition
        with self._lock:
            self.inputs[partition] = item.inputs
            self.rejected[partition] = item.rejected
        self.hub.stats.update_partition(partition, PartitionCounts(item.inputs, item.rejected, wm))

    def _shard(self, item: ShardPublish) -> None:
        self.hub.publish(item.shard, item.view)
        last = item.clock_ns / NS_PER_S if item.clock_ns else math.nan
        dup = item.duplicates
        self.hub.stats.update_shard(item.shard, ShardCounts(item.accepted, dup, item.state_series,
                                                            item.state_bytes, last, item.planned))
        if item.batch_seconds:
            self.hub.stats.observe_batch_seconds(np.asarray(item.batch_seconds))
        with self._lock:
            self._views[item.shard] = item.view
            self._new_views = True
            self.accepted[item.shard] = item.accepted
            self.duplicates[item.shard] = item.duplicates
        if self.demand is not None:
            if item.final:
                self.demand.retire(item.shard)
            elif item.generation:
                self.demand.served(item.shard, item.generation)

    def _health(self, force: bool = False, *, changed_only: bool = False) -> None:
        """Roll up over the latest views: when forced, else at most every ``health_interval_s``;
        ``changed_only``: only when a view arrived since the last roll-up."""
        now = time.monotonic()
        with self._lock:
            if not self._views or (changed_only and not self._new_views):
                return
            if not force and now - self._last_health < self.health_interval_s:
                return
            self._last_health, self._new_views = now, False
            views = [self._views[k] for k in sorted(self._views)]
            clock = self.hub.clock
            health = self.rollup.update(stale_as_of(VitalsView.concat(views), clock() if clock is not None else None))
        self.hub.publish_health(health)

    def finish(self) -> None:
        """Roll the health up once more from the final views (at the end of the input)."""
        self._health(force=True)

    def final_view(self) -> VitalsView:
        """The latest view of every shard published in this process, concatenated and ordered by series id."""
        with self._lock:
            views = [self._views[k] for k in sorted(self._views)]
        view = VitalsView.concat(views)
        order = np.argsort(view.series, kind="stable")
        return VitalsView(view.series[order], view.indicator[order], view.street[order],
                          {k: v[order] for k, v in view.columns.items()}, view.now_s)

    def totals(self) -> tuple[int, int, dict[str, int]]:
        """(inputs, accepted, rejected by reason incl. duplicates) over every partition and shard seen."""
        with self._lock:
            rejected: dict[str, int] = {}
            for counts in self.rejected.values():
                for reason, n in counts.items():
                    rejected[reason] = rejected.get(reason, 0) + n
            rejected["duplicate"] = rejected.get("duplicate", 0) + sum(self.duplicates.values())
            return sum(self.inputs.values()), sum(self.accepted.values()), rejected
