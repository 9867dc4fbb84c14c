"""Balanced routing keys: the hash equals Bytewax's real routing, and the keys spread evenly."""

from __future__ import annotations

import threading

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, cluster_main

from pipelines.routing import balanced_key, bytewax_route, partition_keys, search_balanced_key


class _WorkerOf(DynamicSink):
    """Records which worker each keyed item reached."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def build(self, step_id, worker_index, worker_count):
        sink = self

        class _Part(StatelessSinkPartition):
            def write_batch(self, items):
                with sink.lock:
                    sink.seen.update({k: worker_index for k, _ in items})

        return _Part()


def _real_routes(keys: list[str], workers: int) -> list[int]:
    sink = _WorkerOf()
    flow = Dataflow("routes")
    keyed = op.key_on("key", op.input("in", flow, TestingSource(keys, batch_size=len(keys))), lambda k: k)
    op.output("out", op.stateful_map("state", keyed, lambda s, v: (s, v)), sink)
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return [sink.seen[k] for k in keys]


@pytest.mark.parametrize("workers", [2, 3])
def test_hash_matches_bytewax_routing(workers):
    keys = [str(i) for i in range(12)] + ["file-0", "file-1", "mqtt-3", "é-ü", "x" * 23, balanced_key(5)]
    assert _real_routes(keys, workers) == [bytewax_route(k, workers) for k in keys]


def test_balanced_keys_go_round_robin_for_any_small_worker_count():
    keys = [balanced_key(r) for r in range(64)]
    assert keys[:16] == [search_balanced_key(r) for r in range(16)]
    for workers in range(1, 9):
        assert [bytewax_route(k, workers) for k in keys] == [r % workers for r in range(64)]
    assert _real_routes(keys[:6], 3) == [0, 1, 2, 0, 1, 2]


def test_partition_keys_follow_the_sorted_names():
    keys = partition_keys(["file-1", "file-0", "file-2"])
    assert keys == {"file-0": balanced_key(0), "file-1": balanced_key(1), "file-2": balanced_key(2)}
