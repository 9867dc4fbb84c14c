"""A small deterministic history for the file-format tests (tests/streaming/test_history_files.py).

:func:`history_chunks` folds 40 simulated minutes of 6 indicators on 76 streets (2 shards, scoring off) and
returns the history chunks and vitals chunks the flow would hand to the history sink. Run as a script it
writes them with the ``vitals.history`` on ``sys.path``: ``tests/streaming/data/history_main/`` was written by
main at 0830f33 (zstd, Arrow's default dictionary encoding of every column) with

    PYTHONPATH=/work/main python tests/streaming/history_fixture.py tests/streaming/data/history_main

so the tests can check that readers read old files and new ones alike, also mixed in one directory. When the
folding changed (a batch cut into snapshot pieces in arrival order: one EWMA moved by its last bit), the chunks
were computed by the new code, pickled, and written again by 0830f33's ``vitals.history`` (a worktree of it on
``PYTHONPATH``): 23 of the 24 files came out byte for byte as stored, the 24th with that one value.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vitals.catalog import Catalog, load_catalog
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.state.sharding import split_by_shard
from vitals.stream.shard_step import HistoryChunk, ShardProcessor, ShardRunner, VitalsChunk

START = datetime(2026, 3, 2, 23, 40, tzinfo=UTC)  # crosses midnight: two dates in the layout
INDICATORS = ("traffic_index", "water_pressure", "water_chlorine", "gas_concentration", "pm25", "metro_load")
SHARDS = 2


def fixture_catalog() -> Catalog:
    return load_catalog(streets_total=76)


def history_chunks(catalog: Catalog) -> tuple[list[HistoryChunk], list[VitalsChunk]]:
    sim = CitySimulator(catalog, SimulatorConfig(seed=11, start=START, duration=timedelta(minutes=40), step_s=60,
                                                 indicators=INDICATORS, sensors=True))
    processor = ShardProcessor(catalog, SHARDS, history_rows=100_000, publish_interval_s=1e9)
    runners = [ShardRunner(processor, processor.initial_memory(k)) for k in range(SHARDS)]
    out = []
    for batch in sim.batches():
        for shard, part in split_by_shard(batch, catalog, SHARDS):
            out.extend(runners[shard].on_batches([part]))
    for runner in runners:
        out.extend(runner.on_eof())
    return [o for o in out if isinstance(o, HistoryChunk)], [o for o in out if isinstance(o, VitalsChunk)]


def write_history(root: Path, catalog: Catalog) -> None:
    from vitals.history import write_readings, write_vitals

    readings, vitals = history_chunks(catalog)
    for chunk in readings:
        write_readings(root, catalog, chunk.batch, chunk.name)
    for vchunk in vitals:
        write_vitals(root, catalog, vchunk.snapshots, vchunk.name)


if __name__ == "__main__":
    write_history(Path(sys.argv[1]), fixture_catalog())
