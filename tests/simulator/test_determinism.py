"""Same seed, same readings; partitions add up to the whole; a resumed run is the tail of a full run."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.simulator.output import write_readings

from .conftest import HEAVY_FAULTS


def _multiset(batches: list[ReadingBatch]) -> np.ndarray:
    """Rows (ts, indicator, street, value) of batches in a canonical order: equal arrays = equal multisets."""
    b = ReadingBatch.concat(batches)
    rows = np.stack([(b.ts_ns // 1000).astype(np.float64), b.indicator, b.street, b.value], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_same_seed_same_bytes(small_catalog: Catalog, tmp_path: Path, suffix: str) -> None:
    cfg = SimulatorConfig(seed=3, duration=timedelta(hours=2), faults=HEAVY_FAULTS)
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    write_readings(first, CitySimulator(small_catalog, cfg), garbage_rate=0.002)
    write_readings(second, CitySimulator(small_catalog, cfg), garbage_rate=0.002)
    assert first.stat().st_size > 100_000
    assert _digest(first) == _digest(second)


def test_different_seeds_differ(small_catalog: Catalog) -> None:
    one = CitySimulator(small_catalog, SimulatorConfig(seed=1, duration=timedelta(minutes=30))).read_all()
    two = CitySimulator(small_catalog, SimulatorConfig(seed=2, duration=timedelta(minutes=30))).read_all()
    assert len(one) > 1000
    assert not np.array_equal(one.value[: min(len(one), len(two))], two.value[: min(len(one), len(two))])
    # the seed moves the reporting phases too, so even the reading times differ
    assert not np.array_equal(np.sort(one.ts_ns)[:500], np.sort(two.ts_ns)[:500])


@pytest.mark.parametrize("n_partitions", [2, 3])
def test_partitions_together_equal_one_partition(faulty_sim: CitySimulator, n_partitions: int) -> None:
    whole = list(faulty_sim.batches())
    parts = [list(faulty_sim.batches(p, n_partitions)) for p in range(n_partitions)]
    assert all(len(p) == len(whole) == faulty_sim.n_steps for p in parts)
    for k in range(0, faulty_sim.n_steps, 97):  # step by step, as multisets
        np.testing.assert_array_equal(_multiset([p[k] for p in parts]), _multiset([whole[k]]))
    np.testing.assert_array_equal(_multiset([b for p in parts for b in p]), _multiset(whole))
    for p, batches in enumerate(parts):  # partition p owns the streets with code % n == p
        streets = np.concatenate([b.street for b in batches])
        assert np.all(streets % n_partitions == p)
        assert {b.partition for b in batches} == {str(p)}


@pytest.mark.parametrize("start_step", [1, 500, 2345])
def test_resume_at_step_k_is_the_tail_of_a_full_run(faulty_sim: CitySimulator, start_step: int) -> None:
    full = list(faulty_sim.batches(1, 2))
    tail = list(faulty_sim.batches(1, 2, start_step=start_step))
    assert len(tail) == len(full) - start_step
    for a, b in zip(full[start_step:], tail, strict=True):
        assert (a.seq, a.received_ns) == (b.seq, b.received_ns)
        for name in ("ts_ns", "indicator", "street", "value"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_batches_are_steps_with_event_time_arrival(faulty_sim: CitySimulator) -> None:
    cfg = faulty_sim.config
    for batch in list(faulty_sim.batches())[:: 50]:
        assert batch.received_ns == cfg.start_ns + (batch.seq + 1) * cfg.step_ns
        assert np.all(batch.ts_ns < batch.received_ns)
        assert batch.ts_ns.dtype == np.int64 and batch.indicator.dtype == np.int16
        assert batch.street.dtype == np.int32 and batch.value.dtype == np.float64


def test_every_reading_of_a_clean_run_is_on_its_series_grid(small_catalog: Catalog) -> None:
    """Each series reports exactly at start + phase + n * cadence (oracle: per-series arithmetic)."""
    from vitals.simulator import FaultRates

    cfg = SimulatorConfig(seed=9, duration=timedelta(hours=3), faults=FaultRates.none(), incidents=())
    sim = CitySimulator(small_catalog, cfg)
    batch = sim.read_all()
    assert len(batch) == sim.expected_readings()
    sid = small_catalog.series_id(batch.indicator, batch.street)
    local = np.searchsorted(sim.selection.series_id, sid)
    offset = batch.ts_ns - cfg.start_ns - sim.selection.phase_ns[local]
    assert np.all(offset % sim.selection.cadence_ns[local] == 0)
    assert len(np.unique(np.stack([sid, batch.ts_ns]), axis=1)[0]) == len(batch)  # no duplicates without faults


def test_sensor_ids_on_request(small_catalog: Catalog) -> None:
    cfg = SimulatorConfig(seed=1, duration=timedelta(minutes=20), sensors=True)
    batch = CitySimulator(small_catalog, cfg).read_all()
    assert batch.sensor is not None and len(batch) > 100
    ids = np.array([i.id for i in small_catalog.indicators], dtype=object)
    streets = np.array([s.id for s in small_catalog.streets], dtype=object)
    np.testing.assert_array_equal(batch.sensor, ids[batch.indicator] + "@" + streets[batch.street])
