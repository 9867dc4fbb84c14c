"""Throughput of a Parquet file replay through the full streaming core (issue 3), at street level.

Writes ``--readings`` simulated-like readings of every series of the full city (28,868 series; the generator of
``bench_throughput.py``: catalog cadences, seasonality, ~1 % late arrivals, ~0.1 % duplicates) to one Parquet
file, then replays it with Bytewax (one worker, ``run_main``) through the flow of ``pipelines/live.py``:
Parquet decode -> ``ReadingParser.parse_table`` -> validation and watermark -> split by shard -> series state ->
the exporter hub (a real ``HubPublisher``: views, pipeline counts, health roll-up) and dead letters (a real
``DeadLetterWriter``). Next to it, in the same run, the numpy-only reference of ``bench_throughput.py`` on the
same readings in the same batch size (the array work alone, nothing else).

Figures are wall time and process CPU time (the machine is shared: CPU time is what a worker with a core of
its own would see). ``--recovery`` adds Bytewax recovery with ``--snapshot-interval`` epochs (see
``bench_recovery.py`` for both in one run). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_pipeline.py [--readings 1000000] [--batch 50000] [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import NumpyReference, simulated_readings

from pipelines.connectors import FileReplaySource
from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.sinks import CallbackSink
from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, load_catalog
from vitals.exporter import ExportHub
from vitals.readings import DeadLetterWriter, ReadingParser
from vitals.stream.outputs import DeadLetters
from vitals.stream.publisher import HubPublisher


def valid_readings(catalog: Catalog, n: int) -> ReadingBatch:
    """``bench_throughput``'s readings with values clipped into each indicator's valid range (its noise puts ~4 %
    outside; each rejection costs a rendered dead letter, which is not what this measures)."""
    readings = simulated_readings(catalog, n)
    lo, hi = catalog.valid_min_array[readings.indicator], catalog.valid_max_array[readings.indicator]
    readings.value[:] = np.clip(readings.value, lo, hi)
    return readings


def write_parquet(catalog: Catalog, readings: ReadingBatch, path: Path) -> None:
    ind_ids = np.array([i.id for i in catalog.indicators], dtype=object)
    street_ids = np.array([s.id for s in catalog.streets], dtype=object)
    table = pa.table({
        "ts": pa.array(readings.ts_ns, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "indicator": pa.array(ind_ids[readings.indicator]).dictionary_encode(),
        "area": pa.array(street_ids[readings.street]).dictionary_encode(),
        "value": pa.array(readings.value),
    })
    pq.write_table(table, path, row_group_size=256 * 1024, compression="zstd")


@dataclass
class FlowRun:
    wall_s: float
    cpu_s: float
    inputs: int
    accepted: int
    rejected: dict[str, int]


def replay(catalog: Catalog, path: Path, *, batch: int, shards: int, workdir: Path,
           recovery: bool = False, snapshot_s: float = 1.0) -> FlowRun:
    """One replay of ``path`` through the streaming core (one worker); wall and CPU seconds."""
    from bytewax.recovery import RecoveryConfig, init_db_dir
    from bytewax.testing import run_main

    hub = ExportHub(catalog)
    publisher = HubPublisher(hub, catalog)
    dead = DeadLetterWriter(workdir / f"dead-{time.monotonic_ns()}.jsonl")
    sinks = FlowSinks(stats=CallbackSink(publisher), dead_letters=CallbackSink(DeadLetters(dead)))
    source = FileReplaySource([path], lambda: ReadingParser(catalog), 1, block_rows=batch)
    flow = build_flow(catalog, source, sinks, FlowOptions(shards=shards, recovery=recovery))
    config: Any = None
    if recovery:
        rdir = Path(tempfile.mkdtemp(dir=workdir))
        init_db_dir(rdir, 1)
        config = RecoveryConfig(str(rdir))
    started, cpu = time.perf_counter(), time.process_time()
    run_main(flow, epoch_interval=timedelta(seconds=snapshot_s), recovery_config=config)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    dead.close()
    inputs, accepted, rejected = publisher.totals()
    return FlowRun(wall, cpu, inputs, accepted, rejected)


def reference(catalog: Catalog, readings: ReadingBatch, batch: int) -> tuple[float, float]:
    ref = NumpyReference(catalog)
    parts = [readings.take(np.arange(a, min(a + batch, len(readings)))) for a in range(0, len(readings), batch)]
    started, cpu = time.perf_counter(), time.process_time()
    for b in parts:
        ref.update(b)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per Parquet record batch (source batch)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--recovery", action="store_true", help="with Bytewax recovery on")
    parser.add_argument("--snapshot-interval", type=float, default=1.0)
    args = parser.parse_args()
    catalog = load_catalog()
    readings = valid_readings(catalog, args.readings)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "readings.parquet"
        write_parquet(catalog, readings, path)
        run = replay(catalog, path, batch=args.batch, shards=args.shards, workdir=work, recovery=args.recovery,
                     snapshot_s=args.snapshot_interval)
    ref_wall, ref_cpu = reference(catalog, readings, args.batch)
    n = len(readings)
    figures = {
        "readings": n, "series": catalog.n_series, "batch": args.batch, "shards": args.shards,
        "recovery": args.recovery, "accepted": run.accepted, "rejected": run.rejected,
        "flow_readings_per_s": round(n / run.wall_s), "flow_readings_per_cpu_s": round(n / run.cpu_s),
        "numpy_reference_per_s": round(n / ref_wall), "numpy_reference_per_cpu_s": round(n / ref_cpu),
        "reference_ratio_cpu": round(run.cpu_s / ref_cpu, 2), "reference_ratio": round(run.wall_s / ref_wall, 2),
    }
    assert run.inputs == n, (run.inputs, n)
    print(f"{n:,} readings over {catalog.n_series:,} series, Parquet record batches of {args.batch:,}, "
          f"{args.shards} shards, one worker{' with recovery' if args.recovery else ''}")
    print(f"streaming core:  {figures['flow_readings_per_s']:>12,} readings/s wall, "
          f"{figures['flow_readings_per_cpu_s']:>12,} per CPU second")
    print(f"numpy reference: {figures['numpy_reference_per_s']:>12,} readings/s wall, "
          f"{figures['numpy_reference_per_cpu_s']:>12,} per CPU second")
    print(f"core / reference: {figures['reference_ratio_cpu']}x CPU, {figures['reference_ratio']}x wall "
          "(target >= 1M/s per worker and <= 3x)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
