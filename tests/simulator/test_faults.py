"""Sensor faults appear where the ledger says, and only there."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.simulator import faults as flt


@pytest.fixture(scope="module")
def run(faulty_sim: CitySimulator) -> tuple[ReadingBatch, np.ndarray, np.ndarray]:
    """All batches of the faulty run: the rows, their fault codes, and the step each arrived in."""
    pairs = list(faulty_sim.batches_with_faults())
    batch = ReadingBatch.concat([b for b, _ in pairs])
    codes = np.concatenate([f for _, f in pairs])
    arrived = np.concatenate([np.full(len(b), b.seq) for b, _ in pairs])
    return batch, codes, arrived


def _ns(text: object) -> int:
    moment = datetime.fromisoformat(str(text))
    return int(moment.timestamp()) * 1_000_000_000


def _series(sim: CitySimulator, batch: ReadingBatch, indicator: str, street: str) -> np.ndarray:
    cat = sim.catalog
    return (batch.indicator == cat.indicator_index[indicator]) & (batch.street == cat.street_index[street])


def test_stuck_sensors_repeat_one_value(faulty_sim: CitySimulator, run: tuple) -> None:
    batch, codes, _ = run
    stuck = [e for e in faulty_sim.fault_episodes() if e["kind"] == "stuck" and e["value"] is not None]
    assert len(stuck) > 50
    for ep in stuck[:200]:
        inside = _series(faulty_sim, batch, str(ep["indicator"]), str(ep["street"])) & (
            batch.ts_ns >= _ns(ep["start"])) & (batch.ts_ns < _ns(ep["end"]))
        assert inside.any()
        assert np.all(batch.value[inside] == ep["value"])
        assert np.all(codes[inside] == flt.STUCK)
    assert np.sum(codes == flt.STUCK) > 0


def test_silent_sensors_send_nothing(faulty_sim: CitySimulator, run: tuple) -> None:
    batch, _, _ = run
    silent = [e for e in faulty_sim.fault_episodes() if e["kind"] == "silent"]
    assert len(silent) > 50
    missing = 0
    for ep in silent[:200]:
        series = _series(faulty_sim, batch, str(ep["indicator"]), str(ep["street"]))
        lo, hi = _ns(ep["start"]), _ns(ep["end"])
        assert not np.any(series & (batch.ts_ns >= lo) & (batch.ts_ns < hi))
        cadence = faulty_sim.catalog.indicator(str(ep["indicator"])).cadence_s * 1_000_000_000
        missing += max(0, (min(hi, faulty_sim.config.end_ns) - lo) // cadence - 1)
    assert missing > 100  # the episodes did swallow readings


def test_impossible_values_are_outside_the_valid_range(faulty_sim: CitySimulator, run: tuple) -> None:
    batch, codes, _ = run
    cat = faulty_sim.catalog
    lo, hi = cat.valid_min_array[batch.indicator], cat.valid_max_array[batch.indicator]
    outside = (batch.value < lo) | (batch.value > hi)
    assert np.sum(codes == flt.IMPOSSIBLE) > 100
    np.testing.assert_array_equal(outside, codes == flt.IMPOSSIBLE)


def test_spikes_stand_out_from_their_clean_value(faulty_sim: CitySimulator, run: tuple) -> None:
    batch, codes, _ = run
    spikes = np.flatnonzero(codes == flt.SPIKE)
    assert spikes.size > 100
    sel = faulty_sim.selection
    local = np.searchsorted(sel.series_id, faulty_sim.catalog.series_id(batch.indicator[spikes], batch.street[spikes]))
    n = (batch.ts_ns[spikes] - faulty_sim.config.start_ns - sel.phase_ns[local]) // sel.cadence_ns[local]
    clean = faulty_sim.clean_values(local, batch.ts_ns[spikes], n)
    jump = np.abs(batch.value[spikes] - clean) / faulty_sim.signal.sigma[local]
    cat = faulty_sim.catalog
    at_limit = (batch.value[spikes] == cat.valid_min_array[batch.indicator[spikes]]) | (
        batch.value[spikes] == cat.valid_max_array[batch.indicator[spikes]])
    assert np.all((jump >= 7.9) | at_limit)
    assert np.mean(jump >= 7.9) > 0.5


def test_duplicates_repeat_the_reading_in_the_same_batch(faulty_sim: CitySimulator) -> None:
    seen = 0
    for batch, codes in faulty_sim.batches_with_faults():
        # a duplicate is sent twice, one right after the other: the same series, time and value
        first, second = np.flatnonzero(codes == flt.DUPLICATE).reshape(-1, 2).T
        assert np.all(second == first + 1)
        for name in ("ts_ns", "indicator", "street", "value"):
            np.testing.assert_array_equal(getattr(batch, name)[first], getattr(batch, name)[second])
        seen += first.size
    assert seen > 100


def test_late_readings_keep_their_time_and_arrive_later(faulty_sim: CitySimulator, run: tuple) -> None:
    batch, codes, arrived = run
    cfg = faulty_sim.config
    own_step = (batch.ts_ns - cfg.start_ns) // cfg.step_ns
    late = codes == flt.LATE
    assert late.sum() > 100
    assert np.all(arrived[late] > own_step[late])
    assert np.all(arrived[late] - own_step[late] <= cfg.faults.late_max_s // cfg.step_s)
    assert np.all(arrived[~late] == own_step[~late])


def test_fault_rates_are_met(faulty_sim: CitySimulator, run: tuple) -> None:
    _, codes, _ = run
    rates = faulty_sim.config.faults
    n = codes.size
    for code, rate in ((flt.SPIKE, rates.spike), (flt.IMPOSSIBLE, rates.impossible), (flt.LATE, rates.late)):
        expected = rate * n
        assert abs(np.sum(codes == code) - expected) < 5 * np.sqrt(expected) + 0.1 * expected


def test_no_faults_means_clean_data(small_catalog: Catalog) -> None:
    cfg = SimulatorConfig(seed=2, duration=timedelta(hours=3), faults=FaultRates.none())
    sim = CitySimulator(small_catalog, cfg)
    assert sim.fault_episodes() == []
    codes = np.concatenate([f for _, f in sim.batches_with_faults()])
    assert np.all(codes == flt.NONE)
    batch = sim.read_all()
    cat = small_catalog
    assert np.all((batch.value >= cat.valid_min_array[batch.indicator]) & (
        batch.value <= cat.valid_max_array[batch.indicator]))
