"""Readings files: JSON lines and Parquet hold exactly the simulated readings; garbage lines are extra."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.simulator.garbage import GARBAGE_KINDS, UNKNOWN_AREA, UNKNOWN_INDICATOR
from vitals.simulator.output import JsonlFormatter, output_format, truth_document, write_readings


@pytest.fixture(scope="module")
def sim(small_catalog: Catalog) -> CitySimulator:
    cfg = SimulatorConfig(seed=8, duration=timedelta(hours=1), faults=FaultRates(late=2e-3, duplicate=2e-3))
    return CitySimulator(small_catalog, cfg)


def _frame(batch: ReadingBatch, catalog: Catalog) -> pd.DataFrame:
    ids = np.array([i.id for i in catalog.indicators])
    streets = np.array([s.id for s in catalog.streets])
    return pd.DataFrame({"ts": batch.ts_ns, "indicator": ids[batch.indicator], "area": streets[batch.street],
                         "value": batch.value})


def test_jsonl_lines_are_the_readings(sim: CitySimulator, tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    summary = write_readings(path, sim)
    lines = path.read_text().splitlines()
    assert len(lines) == summary.readings == len(sim.read_all())
    records = [json.loads(line) for line in lines]
    assert set(records[0]) == {"ts", "indicator", "area", "sensor", "value"}
    assert all(r["ts"].endswith("Z") and r["sensor"] == f"{r['indicator']}@{r['area']}" for r in records)
    got = pd.DataFrame({
        "ts": [int(datetime.fromisoformat(r["ts"]).timestamp()) * 1_000_000_000 for r in records],
        "indicator": [r["indicator"] for r in records], "area": [r["area"] for r in records],
        "value": [float(r["value"]) for r in records],
    })
    pd.testing.assert_frame_equal(got, _frame(sim.read_all(), sim.catalog))


def test_parquet_rows_are_the_readings(sim: CitySimulator, tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    write_readings(path, sim)
    table = pq.read_table(path)
    assert str(table.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
    frame = table.to_pandas()
    got = pd.DataFrame({"ts": frame.ts.astype("int64").to_numpy(), "indicator": frame.indicator.astype(str),
                        "area": frame.area.astype(str), "value": frame.value})
    pd.testing.assert_frame_equal(got, _frame(sim.read_all(), sim.catalog))
    assert (frame.sensor == frame.indicator.astype(str) + "@" + frame.area.astype(str)).all()


def test_garbage_lines_are_extra_and_varied(sim: CitySimulator, tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    summary = write_readings(path, sim, garbage_rate=0.01)
    lines = path.read_text().splitlines()
    assert summary.garbage > 50 and len(lines) == summary.readings + summary.garbage
    good, bad = [], []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append("malformed")
            continue
        if record.get("indicator") == UNKNOWN_INDICATOR:
            bad.append("unknown_indicator")
        elif record.get("area") == UNKNOWN_AREA:
            bad.append("unknown_area")
        elif isinstance(record.get("value"), str):
            bad.append("text_value")
        elif not str(record["ts"]).endswith("Z"):
            bad.append("naive_timestamp")
        else:
            good.append(line)
    assert len(bad) == summary.garbage
    assert set(bad) == {"malformed", "unknown_indicator", "unknown_area", "text_value", "naive_timestamp"}
    assert len(GARBAGE_KINDS) == 6  # truncated and not-JSON lines both count as malformed above
    write_readings(tmp_path / "clean.jsonl", sim)
    assert good == (tmp_path / "clean.jsonl").read_text().splitlines()  # garbage is extra, readings intact


def test_parquet_garbage_rows_have_unknown_ids(sim: CitySimulator, tmp_path: Path) -> None:
    path = tmp_path / "g.parquet"
    summary = write_readings(path, sim, garbage_rate=0.01)
    frame = pq.read_table(path).to_pandas()
    unknown = (frame.indicator == UNKNOWN_INDICATOR) | (frame.area == UNKNOWN_AREA)
    assert unknown.sum() == summary.garbage > 50
    assert len(frame) - unknown.sum() == summary.readings


def test_stdout_output(sim: CitySimulator, capfdbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    write_readings("-", sim)
    write_readings(tmp_path / "same.jsonl", sim)
    assert capfdbinary.readouterr().out == (tmp_path / "same.jsonl").read_bytes()


def test_formats_by_extension() -> None:
    assert output_format("a.jsonl") == output_format("-") == output_format("x.ndjson") == "jsonl"
    assert output_format("a.parquet") == "parquet"
    with pytest.raises(ConfigError, match=r"\.jsonl or \.parquet"):
        output_format("a.csv")


def test_truth_document_is_json(sim: CitySimulator, tmp_path: Path) -> None:
    summary = write_readings(tmp_path / "r.jsonl", sim)
    doc = json.loads(json.dumps(truth_document(sim, summary)))
    assert doc["readings"] == summary.readings and doc["fault_counts"]["late"] > 0
    assert {"incidents", "fault_episodes", "fault_rates", "seed", "start"} <= set(doc)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=40))
def test_jsonl_values_round_trip(small_catalog: Catalog, values: list[float]) -> None:
    """Whatever the float, the JSON text parses back to the same float (the columnar formatting is exact)."""
    n = len(values)
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    batch = ReadingBatch(ts_ns=start + np.arange(n, dtype=np.int64) * 86_399_000_000_000,
                         indicator=np.zeros(n, np.int16), street=np.arange(n, dtype=np.int32) % 76,
                         value=np.array(values, dtype=np.float64))
    lines = JsonlFormatter(small_catalog).lines(batch).to_pylist()
    parsed = [json.loads(line) for line in lines]
    assert [float(p["value"]) for p in parsed] == values
    assert [int(datetime.fromisoformat(p["ts"]).timestamp()) * 1_000_000_000 for p in parsed] == batch.ts_ns.tolist()
