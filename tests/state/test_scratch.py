"""The state update's reused work arrays (vitals.state.scratch): reusing them across shards and batch sizes in one
thread changes nothing, bit for bit, against work arrays made afresh for every batch; they are never part of a
state's snapshot."""

from __future__ import annotations

import pickle
import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from state_oracle import random_stream

from vitals.catalog import Catalog
from vitals.state import ShardState, split_by_shard
from vitals.state.scratch import KEPT_BYTES, Scratch, scratch


def _in_fresh_thread(state: ShardState, part) -> None:
    """Update in a new thread: a new, empty Scratch (what the update did before the work arrays were kept)."""
    errors: list[BaseException] = []

    def go() -> None:
        try:
            state.update(part)
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.floats(0, 1), max_size=8))
def test_reused_work_arrays_equal_fresh_ones(small_catalog: Catalog, seed: int, cuts: list[float]):
    stream = random_stream(small_catalog, np.random.default_rng(seed), n_series=12, max_span_s=20_000)
    reused = [ShardState(small_catalog, k, 3) for k in range(3)]
    fresh = [ShardState(small_catalog, k, 3) for k in range(3)]
    ends = sorted({int(c * len(stream.batch)) for c in cuts} | {len(stream.batch)})
    start = 0
    for end in ends:  # batches of every size, shards in turn: the arrays grow, shrink in use and are shared
        for k, part in split_by_shard(stream.batch.take(np.arange(start, end)), small_catalog, 3):
            reused[k].update(part)
            _in_fresh_thread(fresh[k], part)
        start = end
    for a, b in zip(reused, fresh, strict=True):
        for name in ("tag", "cells", "hist"):
            np.testing.assert_array_equal(getattr(a.rings, name), getattr(b.rings, name), err_msg=name)
        view_a, view_b = a.view(), b.view()
        for name, column in view_a.columns.items():
            np.testing.assert_array_equal(column, view_b.columns[name], err_msg=name)


def test_work_arrays_are_per_thread_and_not_pickled(small_catalog: Catalog):
    stream = random_stream(small_catalog, np.random.default_rng(3), n_series=6)
    state = ShardState(small_catalog)
    before = len(pickle.dumps(state))
    state.update(stream.batch)
    assert scratch().nbytes() > 0
    assert len(pickle.dumps(state)) - before < 4096  # the state's own counters, not MB of work arrays
    other: list[Scratch] = []
    thread = threading.Thread(target=lambda: other.append(scratch()))
    thread.start()
    thread.join()
    assert other[0] is not scratch() and other[0].nbytes() == 0


def test_take_reuses_grows_and_keeps_names_apart():
    work = Scratch()
    a = work.take("a", 10, np.int64)
    assert work.take("a", 8, np.int64).base is a.base  # shorter: the same memory
    b = work.take("b", 10, np.int64)
    assert not np.shares_memory(a, b)
    grown = work.take("a", 11, np.int64)
    assert len(grown) == 11 and grown.base is not a.base and len(grown.base) == 12  # 1.25x room
    assert work.take("a", 11, np.float32).dtype == np.float32
    np.testing.assert_array_equal(work.arange(5), np.arange(5))
    kept = work.nbytes()
    huge = work.take("c", KEPT_BYTES // 8 + 1, np.int64)  # one huge batch: made for the call, not kept
    assert len(huge) == KEPT_BYTES // 8 + 1 and work.nbytes() == kept
    work.take("d", KEPT_BYTES // 8 - 100, np.int64)
    assert len(work.take("d", KEPT_BYTES // 8 - 99, np.int64).base) == KEPT_BYTES // 8  # room up to the cap only
    assert not work.arange(3).flags.writeable
