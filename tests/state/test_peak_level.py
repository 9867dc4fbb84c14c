"""``ShardState.peak_level``: the worst level each series reached since the last vitals snapshot
(``take_peak_levels``), against an oracle that folds the same readings one at a time and takes the running
maximum of the levels after every reading; the same through the one-reading fast path; kept in snapshots."""

from __future__ import annotations

import copy
import itertools
import pickle

import numpy as np
from state_oracle import random_stream

from vitals.catalog import Catalog
from vitals.state import ShardState


def _cuts(rng: np.random.Generator, n: int, parts: int) -> list[int]:
    return sorted({0, n, *rng.integers(1, max(n, 2), parts).tolist()})


def test_peak_is_the_worst_level_since_the_last_take(small_catalog: Catalog) -> None:
    hidden = 0  # takes at which some row's peak was above its level (a warning that rose and fell in between)
    for seed in (1, 2, 3, 4, 5, 6):
        rng = np.random.default_rng(seed)
        batch = random_stream(small_catalog, rng, n_series=6).batch
        state, oracle = ShardState(small_catalog), ShardState(small_catalog)
        worst = np.zeros(oracle.n_rows, dtype=np.int8)
        cuts = _cuts(rng, len(batch), 40)
        rows = np.arange(state.n_rows, dtype=np.int64)
        for k, (a, b) in enumerate(itertools.pairwise(cuts)):
            state.update(batch.slice(a, b))
            for i in range(a, b):  # the oracle: one reading at a time, the levels' running maximum
                oracle.update(batch.slice(i, i + 1))
                np.maximum(worst, oracle.level, out=worst)
            np.testing.assert_array_equal(state.level, oracle.level)
            if k % 2:
                hidden += int((worst > state.level).any())
                np.testing.assert_array_equal(state.take_peak_levels(rows), worst.astype(np.float64))
                assert (state.peak_level == state.level).all()  # a take starts every row's peak at its level
                worst = oracle.level.copy()
        np.testing.assert_array_equal(state.take_peak_levels(rows), worst.astype(np.float64))
    assert hidden >= 3


def test_one_reading_fast_path_keeps_the_same_peak(small_catalog: Catalog) -> None:
    batch = random_stream(small_catalog, np.random.default_rng(7), n_series=3).batch.slice(0, 400)
    fast, ref = ShardState(small_catalog), ShardState(small_catalog)
    prepared = fast.prepare(batch)
    for at in range(len(batch)):
        piece = batch.slice(at, at + 1)
        fast.update_one(piece, prepared, at)
        ref.update(piece)
        if at % 50 == 49:
            rows = np.arange(fast.n_rows, dtype=np.int64)
            np.testing.assert_array_equal(fast.take_peak_levels(rows), ref.take_peak_levels(rows))
    np.testing.assert_array_equal(fast.peak_level, ref.peak_level)


def test_peak_survives_a_snapshot_and_old_snapshots_start_at_the_level(small_catalog: Catalog) -> None:
    state = ShardState(small_catalog)
    state.update(random_stream(small_catalog, np.random.default_rng(3), n_series=6).batch)
    twin = pickle.loads(pickle.dumps(state))
    np.testing.assert_array_equal(twin.peak_level, state.peak_level)
    np.testing.assert_array_equal(copy.deepcopy(state).peak_level, state.peak_level)
    old = state.__getstate__()
    del old["peak_level"]  # a recovery snapshot written before peak levels
    restored = object.__new__(ShardState)
    restored.__setstate__(old)
    np.testing.assert_array_equal(restored.peak_level, state.level)
