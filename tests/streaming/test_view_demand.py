"""Views on demand (vitals.stream.demand): a scrape asks the shards for fresh views and waits for them."""

from __future__ import annotations

import math
import queue
import re
import threading
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.exporter import ExportHub
from vitals.state import ShardState
from vitals.stream.demand import ViewDemand
from vitals.stream.publisher import HubPublisher
from vitals.stream.shard_step import ShardProcessor, ShardPublish, ShardRunner

T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
LAST_EVENT = re.compile(r'^vitals_last_event_timestamp_seconds\{worker="0"\} (\S+)$', re.M)


def _batch(catalog: Catalog, seq: int, n: int = 200) -> ReadingBatch:
    rng = np.random.default_rng(seq)
    ind = rng.integers(0, catalog.n_indicators, n).astype(np.int16)
    street = rng.integers(0, catalog.n_streets, n).astype(np.int32)
    lo, hi = catalog.valid_min_array[ind], catalog.valid_max_array[ind]
    value = lo + (hi - lo) * rng.random(n) * 0.5
    ts = T0 + seq * 60_000_000_000 + np.arange(n, dtype=np.int64) * 1_000_000
    return ReadingBatch(ts, ind, street, value, partition="p0", seq=seq)


def test_wait_returns_when_every_registered_shard_served() -> None:
    # Can fail (issue 13, checked again): a wait that returns once any shard served fails the negative half.
    demand = ViewDemand(max_wait_s=5.0)
    demand.register(0)
    demand.register(1)
    generation = demand.request()
    assert demand.current() == generation == 1
    # Negative half: with shard 1 owing its view, a wait bounded by ``bound_s`` must run out the whole bound and
    # say False, even though shard 0 serves (and notifies the waiters) while it waits. The bound is the
    # interval under test, so the assertion is exact: no sleep decides it.
    bound_s = 0.2
    partial = threading.Timer(bound_s / 10, demand.served, args=(0, generation))
    started = time.monotonic()
    partial.start()
    assert demand.wait(generation, timeout_s=bound_s) is False
    assert time.monotonic() - started >= bound_s and demand.timeouts == 1
    partial.join(timeout=5)
    assert demand.wait(generation, timeout_s=0) is False and demand.timeouts == 2  # still owed, no waiting
    # Positive half: a waiter blocked on the generation wakes when the last shard serves it.
    done: list[bool] = []
    waiter = threading.Thread(target=lambda: done.append(demand.wait(generation)))
    waiter.start()
    demand.served(1, generation)
    waiter.join(timeout=5)
    assert done == [True] and demand.timeouts == 2


def test_wait_times_out_and_retired_shards_are_not_awaited() -> None:
    demand = ViewDemand(max_wait_s=0.05)
    demand.register(0)
    demand.register(1)
    demand.served(0, demand.request())
    started = time.monotonic()
    assert not demand.refresh()  # shard 1 never answers: the scrape renders what the hub holds
    assert time.monotonic() - started < 1.0 and demand.timeouts == 1
    demand.retire(1)
    generation = demand.request()
    demand.served(0, generation)
    assert demand.wait(generation)
    assert demand.wait(demand.request(), timeout_s=0) is False  # nobody served generation 4 yet


def test_runner_publishes_when_asked_and_reuses_an_unchanged_view(small_catalog: Catalog) -> None:
    demand = ViewDemand()
    processor = ShardProcessor(small_catalog, 1, publish_interval_s=3600, keep_history=False, demand=demand)
    runner = ShardRunner(processor, None)
    first, second = _batch(small_catalog, 0), _batch(small_catalog, 1)
    assert runner.on_batches([first]) == []  # nobody asked; the timer (an hour) is only a fallback
    assert runner.on_batches([second]) == []
    assert runner.on_tick() == []
    generation = demand.request()
    answer = runner.on_tick()
    assert len(answer) == 1 and isinstance(answer[0], ShardPublish) and answer[0].generation == generation
    oracle = ShardState(small_catalog)
    oracle.update(first)
    oracle.update(second)
    expected = oracle.view()
    view = answer[0].view
    np.testing.assert_array_equal(view.series, expected.series)
    for name, column in expected.columns.items():
        np.testing.assert_array_equal(view.columns[name], column, err_msg=name)
    assert runner.on_tick() == []  # answered
    again = runner.on_tick() if demand.request() else []
    assert len(again) == 1 and isinstance(again[0], ShardPublish)
    assert again[0].view is view and again[0].generation == generation + 1 and again[0].batch_seconds == []
    assert runner.wake_in_s() == pytest.approx(demand.poll_s)


def test_runner_without_demand_keeps_the_interval(small_catalog: Catalog) -> None:
    processor = ShardProcessor(small_catalog, 1, publish_interval_s=3600, keep_history=False)
    runner = ShardRunner(processor, None)
    assert len(runner.on_batches([_batch(small_catalog, 0)])) == 1
    assert runner.on_batches([_batch(small_catalog, 1)]) == [] and runner.on_tick() == []
    assert runner.wake_in_s() == 3600
    final = runner.on_eof()
    assert len(final) == 1 and isinstance(final[0], ShardPublish) and final[0].final


def test_runner_with_no_periodic_views_publishes_only_at_the_end(small_catalog: Catalog) -> None:
    # math.inf: a run nobody reads (no /metrics, no in-process reader, pipelines/run.NO_PERIODIC_VIEWS)
    processor = ShardProcessor(small_catalog, 1, publish_interval_s=math.inf, keep_history=False)
    runner = ShardRunner(processor, None)
    batches = [_batch(small_catalog, seq) for seq in range(3)]
    assert runner.on_batches(batches[:1]) == []  # not even the first batch (the interval's first view)
    assert runner.on_batches(batches[1:]) == [] and runner.on_tick() == []
    assert runner.wake_in_s() is None  # no Bytewax notify: nothing to look at between batches
    final = runner.on_eof()
    assert len(final) == 1 and isinstance(final[0], ShardPublish) and final[0].final
    oracle = ShardState(small_catalog)
    for batch in batches:
        oracle.update(batch)
    expected = oracle.view()
    np.testing.assert_array_equal(final[0].view.series, expected.series)
    for name, column in expected.columns.items():
        np.testing.assert_array_equal(final[0].view.columns[name], column, err_msg=name)
    assert final[0].accepted == sum(len(b) for b in batches) and final[0].batch_seconds == []


def _worker(runner: ShardRunner, publisher: HubPublisher, inbox: queue.Queue[ReadingBatch | None]) -> None:
    """Plays the Bytewax worker: applies queued batches and polls the shard (on_notify) every few ms."""
    while True:
        try:
            batch = inbox.get(timeout=0.005)
        except queue.Empty:
            out = runner.on_tick()
        else:
            if batch is None:
                publisher(runner.on_eof())
                inbox.task_done()
                return
            out = runner.on_batches([batch])
            inbox.task_done()
        if out:
            publisher(out)


def test_a_scrape_shows_the_batches_processed_before_it(small_catalog: Catalog) -> None:
    demand = ViewDemand(max_wait_s=5.0)
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    publisher = HubPublisher(hub, small_catalog, demand=demand)
    assert hub.freshen is None  # nothing is wired behind the run's back (pipelines/run.py registers it)
    hub.serve_fresh(publisher)
    assert hub.freshen == publisher.freshen
    runner = ShardRunner(ShardProcessor(small_catalog, 1, publish_interval_s=3600, keep_history=False,
                                        demand=demand), None)
    inbox: queue.Queue[ReadingBatch | None] = queue.Queue()
    worker = threading.Thread(target=_worker, args=(runner, publisher, inbox), daemon=True)
    worker.start()
    try:
        for seq in range(4):
            batch = _batch(small_catalog, seq)
            inbox.put(batch)
            inbox.join()
            shown = LAST_EVENT.findall(hub.scrape().decode())
            assert [float(v) for v in shown] == [pytest.approx(int(batch.ts_ns.max()) / 1e9)]
        assert demand.timeouts == 0 and demand.requests == 4
        assert publisher.rollup.last is not None  # the scrape rolled the health up over the fresh views
    finally:
        inbox.put(None)
        worker.join(timeout=5)
    started = time.monotonic()
    hub.scrape()  # the shard retired with its final view: nothing to wait for
    assert time.monotonic() - started < 1.0 and demand.timeouts == 0
