"""The live flow run with Bytewax's testing runtime: the same vitals with 1 and 2 workers, every input
accounted for, bad readings dead-lettered with reasons."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from flow_helpers import assert_views_equal, run_flow

from pipelines.connectors import SimulatorSource
from pipelines.live import FlowOptions
from vitals.health.levels import warning_levels
from vitals.simulator import CitySimulator, SimulatorConfig


@pytest.fixture(scope="module")
def simulator(small_catalog):
    return CitySimulator(small_catalog, SimulatorConfig(seed=11, duration=timedelta(hours=2), step_s=60))


def _source(sim):
    return SimulatorSource(sim.batches, 3)


@pytest.fixture(scope="module")
def one_worker(small_catalog, simulator):
    return run_flow(small_catalog, _source(simulator), FlowOptions(shards=4))


def test_one_and_two_workers_give_the_same_vitals(small_catalog, simulator, one_worker):
    two = run_flow(small_catalog, _source(simulator), FlowOptions(shards=4), workers=2)
    assert len(one_worker.final_view()) > 1000
    assert_views_equal(one_worker.final_view(), two.final_view())
    assert one_worker.rejections_by_reason() == two.rejections_by_reason()


def test_every_input_is_accepted_or_rejected_with_a_reason(simulator, one_worker):
    produced = sum(len(b) for p in range(3) for b in simulator.batches(p, 3))
    reasons = one_worker.rejections_by_reason()
    assert one_worker.inputs() == produced
    assert one_worker.accepted() + sum(reasons.values()) == produced
    # the simulator's default faults produce these three kinds of bad readings
    assert reasons.get("duplicate", 0) > 0 and reasons.get("late", 0) > 0 and reasons.get("out_of_range", 0) > 0
    assert all(r.raw and r.detail for item in one_worker.dead for r in item.rejections)


def test_levels_follow_catalog_thresholds(small_catalog, one_worker):
    view = one_worker.final_view()
    raw = warning_levels(small_catalog, view.indicator, view.columns["last"],
                         (view.columns["last_ts_s"] * 1e9).astype(np.int64))
    np.testing.assert_array_equal(view.columns["raw_level"], raw)
    # hysteresis only delays going down: the held level is never below the level of the last value
    assert (view.columns["level"] >= raw).all()
