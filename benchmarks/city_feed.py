"""Simulated readings of the full city for the scale-out and Kafka benchmarks, with each reading's series shard.

``city_readings(hours)`` runs the project's simulator (default faults: impossible values, duplicates, late
readings) over every series of the shipped catalog and returns columnar arrays in arrival order, plus the
series shard of every reading as the flow computes it (``vitals.state.shard_of`` of the catalog's series id),
so a benchmark can write per-shard files or produce each shard's series to its own Kafka partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.catalog import Catalog, load_catalog
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.state import shard_of

START = datetime(2025, 6, 2, tzinfo=UTC)


@dataclass(frozen=True)
class CityReadings:
    ts_ns: npt.NDArray[np.int64]
    indicator: npt.NDArray[np.object_]  # indicator ids
    area: npt.NDArray[np.object_]       # street ids
    value: npt.NDArray[np.float64]
    shard: npt.NDArray[np.int64]        # the series shard of each reading (of ``shards``)

    def __len__(self) -> int:
        return len(self.ts_ns)

    def rows(self, mask: npt.NDArray[np.bool_]) -> CityReadings:
        return CityReadings(self.ts_ns[mask], self.indicator[mask], self.area[mask], self.value[mask],
                            self.shard[mask])

    def table(self) -> pa.Table:
        return pa.table({
            "ts": pa.array(self.ts_ns, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "indicator": pa.array(self.indicator, type=pa.string()),
            "area": pa.array(self.area, type=pa.string()),
            "value": pa.array(self.value, type=pa.float64()),
        })


def city_readings(hours: float, *, shards: int = 4, seed: int = 5, catalog: Catalog | None = None,
                  start: datetime = START) -> CityReadings:
    """``hours`` of every series of the (full, by default) city, in arrival order."""
    cat = catalog or load_catalog()
    sim = CitySimulator(cat, SimulatorConfig(seed=seed, start=start, duration=timedelta(hours=hours), step_s=60))
    batch = sim.read_all()
    ind_ids = np.array([i.id for i in cat.indicators], dtype=object)
    street_ids = np.array([s.id for s in cat.streets], dtype=object)
    shard = shard_of(cat.series_id(batch.indicator, batch.street), shards)
    return CityReadings(batch.ts_ns.astype(np.int64), ind_ids[batch.indicator], street_ids[batch.street],
                        batch.value.astype(np.float64), shard)


def write_shard_files(readings: CityReadings, out: Path, shards: int = 4, row_group: int = 50_000) -> list[Path]:
    """One Parquet file per series shard (``shard-<k>.parquet``: the series of shard k, in arrival order)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(shards):
        path = out / f"shard-{k}.parquet"
        pq.write_table(readings.rows(readings.shard == k).table(), path, row_group_size=row_group)
        paths.append(path)
    return paths
