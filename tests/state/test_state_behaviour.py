"""Duplicates, hysteresis, pickling, sharding, the p95 sketch, data quality and memory of the series state."""

from __future__ import annotations

import itertools
import json
import pickle

import numpy as np
import pytest
from state_oracle import T0, apply_in_batches, random_stream, union_view

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import StateError
from vitals.state import ShardState, Window, split_by_shard

NS = 1_000_000_000


def _batch(catalog: Catalog, indicator: str, street: int, ts_s: list[float], values: list[float]) -> ReadingBatch:
    n = len(ts_s)
    return ReadingBatch(
        ts_ns=T0 + (np.asarray(ts_s) * NS).astype(np.int64),
        indicator=np.full(n, catalog.indicator_index[indicator], np.int16),
        street=np.full(n, street, np.int32), value=np.asarray(values, dtype=np.float64),
    )


# ---- duplicates ----------------------------------------------------------------------------------------------
def test_duplicates_keep_the_first_arrival_and_are_rejected_with_the_raw_reading(small_catalog: Catalog):
    state = ShardState(small_catalog)
    first = state.update(_batch(small_catalog, "water_pressure", 3, [0, 60, 120], [0.30, 0.31, 0.32]))
    assert first.accepted == 3 and not first.duplicates
    again = state.update(_batch(small_catalog, "water_pressure", 3, [60, 180, 180, 120], [9.0, 0.33, 9.0, 9.0]))
    assert again.accepted == 1
    assert [r.reason for r in again.duplicates] == ["duplicate"] * 3
    raw = [json.loads(r.raw) for r in again.duplicates]
    assert raw[0] == {"ts": "2026-01-01T00:01:00.000000000Z", "indicator": "water_pressure",
                      "area": small_catalog.streets[3].id, "value": 9.0}
    assert len(again.accepted_batch) == 1 and again.accepted_batch.value[0] == 0.33
    view = state.view()
    assert view.column("last")[0] == 0.33 and view.column("readings")[0] == 4
    assert view.column("max_1h")[0] == pytest.approx(0.33)
    assert state.duplicates_total == 3


def test_duplicates_within_the_lateness_guarantee_are_always_caught(small_catalog: Catalog):
    """Ring depth 8 at a 60 s cadence: any duplicate of one of the last 8 readings is caught."""
    state = ShardState(small_catalog)
    times = np.arange(0, 3600, 60.0)
    state.update(_batch(small_catalog, "gas_concentration", 0, list(times[:8]), [1.0] * 8))
    caught = 0
    for k in range(8, len(times)):
        state.update(_batch(small_catalog, "gas_concentration", 0, [times[k]], [1.0]))
        late = times[k - 7: k + 1]
        caught += len(state.update(_batch(small_catalog, "gas_concentration", 0, list(late), [2.0] * 8)).duplicates)
    assert caught == 8 * (len(times) - 8)


# ---- hysteresis ----------------------------------------------------------------------------------------------
def _levels_after(catalog: Catalog, values: list[float], cuts: list[int]) -> list[int]:
    """The hysteresis level after each reading, feeding batches cut at ``cuts``."""
    state = ShardState(catalog)
    batch = _batch(catalog, "traffic_index", 0, [60.0 * i for i in range(len(values))], values)
    out = []
    bounds = [0, *cuts, len(values)]
    for a, b in itertools.pairwise(bounds):
        state.update(batch.take(np.arange(a, b)))
        out.extend([int(state.view().column("level")[0])] * (b - a))
    return out


def test_level_does_not_flap_on_a_value_oscillating_around_a_threshold(small_catalog: Catalog):
    # traffic_index: blue 4, yellow 6 (gap 2, margin 0.05 -> leave yellow only below 5.9)
    values = [6.05, 5.95] * 10
    levels = _levels_after(small_catalog, values, list(range(1, len(values))))
    assert levels == [2] * len(values)


def test_level_goes_down_after_n_quiet_updates_and_up_at_once(small_catalog: Catalog):
    values = [7.5, 5.0, 5.0, 5.0, 5.0, 8.2, 0.0, 0.0, 0.0]
    levels = _levels_after(small_catalog, values, list(range(1, len(values))))
    assert small_catalog.hysteresis.intervals == 3
    assert levels == [3, 3, 3, 1, 1, 4, 4, 4, 0]


def test_levels_do_not_depend_on_batch_boundaries(small_catalog: Catalog):
    rng = np.random.default_rng(7)
    values = list(rng.uniform(2.0, 9.0, 200))
    one_by_one = _levels_after(small_catalog, values, list(range(1, 200)))
    for cut in ([], [50, 51, 120]):
        bounds = [0, *cut, 200]
        state = ShardState(small_catalog)
        batch = _batch(small_catalog, "traffic_index", 0, [60.0 * i for i in range(200)], values)
        for a, b in itertools.pairwise(bounds):
            state.update(batch.take(np.arange(a, b)))
        assert int(state.view().column("level")[0]) == one_by_one[-1]
    assert len(set(one_by_one)) > 2


def test_out_of_order_readings_do_not_change_levels_or_last(small_catalog: Catalog):
    state = ShardState(small_catalog)
    state.update(_batch(small_catalog, "traffic_index", 0, [600], [3.0]))
    state.update(_batch(small_catalog, "traffic_index", 0, [300, 400], [9.0, 9.0]))
    view = state.view()
    assert view.column("level")[0] == 0 and view.column("last")[0] == 3.0 and view.column("max_1h")[0] == 9.0


# ---- pickling and sharding -----------------------------------------------------------------------------------
def test_pickle_round_trip_gives_identical_views_and_updates(small_catalog: Catalog):
    stream = random_stream(small_catalog, np.random.default_rng(11))
    half = len(stream.batch) // 2
    a, b = ShardState(small_catalog), ShardState(small_catalog)
    for s in (a, b):
        s.update(stream.batch.take(np.arange(half)))
    b = pickle.loads(pickle.dumps(b, protocol=5))
    for s in (a, b):
        s.update(stream.batch.take(np.arange(half, len(stream.batch))))
    va, vb = a.view(), b.view()
    np.testing.assert_array_equal(va.series, vb.series)
    assert va.columns.keys() == vb.columns.keys()
    for name in va.columns:
        np.testing.assert_array_equal(va.column(name), vb.column(name), err_msg=name)


@pytest.mark.parametrize("n_shards", [2, 3, 5])
def test_the_union_of_shard_views_equals_a_single_shard_view(small_catalog: Catalog, n_shards: int):
    stream = random_stream(small_catalog, np.random.default_rng(n_shards), n_series=12)
    cuts = list(range(0, len(stream.batch), 97))
    single, shards = [ShardState(small_catalog)], [ShardState(small_catalog, k, n_shards) for k in range(n_shards)]
    assert apply_in_batches(single, stream.batch, cuts, small_catalog) == int(stream.duplicate.sum())
    assert apply_in_batches(shards, stream.batch, cuts, small_catalog) == int(stream.duplicate.sum())
    one, many = union_view(single), union_view(shards)
    np.testing.assert_array_equal(one.series, many.series)
    for name in one.columns:
        np.testing.assert_allclose(many.column(name), one.column(name), rtol=1e-12, equal_nan=True, err_msg=name)


def test_split_by_shard_keeps_arrival_order_and_rejects_foreign_series(small_catalog: Catalog):
    stream = random_stream(small_catalog, np.random.default_rng(5), n_series=10)
    parts = split_by_shard(stream.batch, small_catalog, 3)
    assert sum(len(p) for _, p in parts) == len(stream.batch)
    for shard, part in parts:
        series = small_catalog.series_id(part.indicator, part.street)
        assert np.all(series % 3 == shard)
        mine = small_catalog.series_id(stream.batch.indicator, stream.batch.street) % 3 == shard
        np.testing.assert_array_equal(part.ts_ns, stream.batch.ts_ns[mine])
    with pytest.raises(StateError, match="other shards"):
        ShardState(small_catalog, 0, 3).update(stream.batch)


# ---- p95 sketch ----------------------------------------------------------------------------------------------
def test_p95_stays_within_one_bin_of_the_exact_value_on_dense_windows(small_catalog: Catalog):
    rng = np.random.default_rng(3)
    state = ShardState(small_catalog)
    ts = np.arange(0, 3600, 2.0)  # 1,800 readings in the 1 h window, 150 per 5 min bucket
    values = rng.gamma(2.0, 10.0, len(ts))  # skewed
    state.update(_batch(small_catalog, "tunnel_co", 1, list(ts), list(values)))
    view = state.view()
    exact = np.sort(values)[(95 * len(values) + 99) // 100 - 1]
    width = state.grid.width[small_catalog.indicator_index["tunnel_co"]]
    assert abs(view.column("p95_1h")[0] - exact) <= width
    assert view.column("count_1h")[0] == 1800


def test_histogram_saturates_instead_of_wrapping(small_catalog: Catalog):
    state = ShardState(small_catalog, windows=(Window("1h", 3600, 1),))
    ts = np.arange(0, 3000, 10.0)  # 300 readings, all in one bin of one bucket
    state.update(_batch(small_catalog, "tunnel_co", 2, list(ts), [20.0] * 300))
    assert state.rings.hist.max() == 255
    assert state.view().column("p95_1h")[0] == pytest.approx(20.0)


# ---- data quality and memory ---------------------------------------------------------------------------------
def test_stuck_dropout_and_staleness(small_catalog: Catalog):
    state = ShardState(small_catalog)  # gas_concentration: cadence 60 s, dropout over the 5m window (>= 4 cadences)
    state.update(_batch(small_catalog, "gas_concentration", 0, [0, 60, 120, 180, 240, 300], [1.0, 2, 2, 2, 2, 2]))
    view = state.view()
    assert view.column("stuck")[0] == 0  # unchanged for 240 s < 6 x 60 s
    state.update(_batch(small_catalog, "gas_concentration", 0, [360, 420], [2.0, 2.0]))
    view = state.view(now_ns=T0 + 540 * NS)
    assert view.column("stuck")[0] == 1  # unchanged since 60 s: 360 s >= 360 s
    assert view.column("seconds_since_last")[0] == 120
    # 5m window as of 540 s: buckets 300..540 s; readings at 300, 360, 420; expected floor(240 / 60) = 4
    assert view.column("count_5m")[0] == 3
    assert view.column("dropout_ratio")[0] == pytest.approx(0.25)


def test_state_stays_under_2_kib_per_series(catalog: Catalog):
    state = ShardState(catalog, 0, 4)
    assert state.state_bytes() / state.n_rows <= 2048
