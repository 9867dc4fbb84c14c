"""Contract with the readings parser: simulated files parse back to the simulated readings, and every
garbage line and impossible value is rejected with a reason (none is lost, none raises)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from vitals.catalog import Catalog
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.simulator.output import write_readings

parser_module = pytest.importorskip("vitals.readings.parser")


@pytest.fixture(scope="module")
def sim(small_catalog: Catalog) -> CitySimulator:
    cfg = SimulatorConfig(seed=8, duration=timedelta(hours=1), faults=FaultRates(impossible=2e-3, duplicate=1e-3))
    return CitySimulator(small_catalog, cfg)


def _sorted_rows(ts: np.ndarray, ind: np.ndarray, street: np.ndarray, value: np.ndarray) -> np.ndarray:
    rows = np.stack([ts // 1000, ind, street, value], axis=1).astype(np.float64)
    return rows[np.lexsort(rows.T[::-1])]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_simulated_files_parse_back(sim: CitySimulator, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"city{suffix}"
    summary = write_readings(path, sim, garbage_rate=0.01)
    parser = parser_module.ReadingParser(sim.catalog)
    if suffix == ".jsonl":
        result = parser.parse_jsonl(path.read_bytes(), received_ns=sim.config.end_ns)
    else:
        result = parser.parse_table(pq.read_table(path), received_ns=sim.config.end_ns)
    reasons = Counter(r.reason for r in result.rejections)
    impossible = summary.faults["impossible"]
    assert len(result.batch) + len(result.rejections) == summary.readings + summary.garbage
    assert reasons["out_of_range"] == impossible > 10
    assert sum(reasons.values()) - impossible == summary.garbage > 100
    assert reasons["unknown_indicator"] > 0 and reasons["unknown_area"] > 0
    if suffix == ".jsonl":
        assert reasons["malformed"] > 0 and reasons["bad_timestamp"] > 0
    truth = sim.read_all()
    valid = (truth.value >= sim.catalog.valid_min_array[truth.indicator]) & (
        truth.value <= sim.catalog.valid_max_array[truth.indicator])
    b = result.batch
    np.testing.assert_array_equal(
        _sorted_rows(b.ts_ns, b.indicator, b.street, b.value),
        _sorted_rows(truth.ts_ns[valid], truth.indicator[valid], truth.street[valid], truth.value[valid]))
