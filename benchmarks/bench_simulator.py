"""Simulator throughput at full scale (1,031 streets x 28 indicators = 28,868 series).

Measures (1) in-process generation of columnar batches for a simulated span (default one day, 10 s steps,
default faults and automatic incidents), as readings per second of wall and of CPU time, and the same with
4 partitions generated one after the other (the cost of partitioning); (2) writing a shorter span to JSON lines
and to Parquet (generation included). The machine is shared: CPU seconds are the steadier figure. Ends with one
JSON line.

    .venv/bin/python benchmarks/bench_simulator.py [--hours 24] [--write-hours 2] [--streets 1031]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from vitals.catalog import load_catalog
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.simulator.output import write_readings


def generate(sim: CitySimulator, n_partitions: int) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    readings = sum(len(b) for p in range(n_partitions) for b in sim.batches(p, n_partitions))
    return readings, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=24.0, help="simulated span for generation")
    parser.add_argument("--write-hours", type=float, default=2.0, help="simulated span written to files")
    parser.add_argument("--streets", type=int, default=1031)
    args = parser.parse_args()
    catalog = load_catalog(streets_total=args.streets)
    started = time.perf_counter()
    sim = CitySimulator(catalog, SimulatorConfig(duration=timedelta(hours=args.hours)))
    setup_s = time.perf_counter() - started
    readings, wall, cpu = generate(sim, 1)
    print(f"series {sim.n_series:,}, {args.hours:g} h, {sim.n_steps:,} steps, setup {setup_s:.2f} s")
    print(f"generate, 1 partition:  {readings:,} readings in {wall:.2f} s wall ({readings / wall:,.0f}/s), "
          f"{cpu:.2f} s CPU ({readings / cpu:,.0f}/s)")
    readings4, wall4, cpu4 = generate(sim, 4)
    print(f"generate, 4 partitions: {readings4:,} readings in {wall4:.2f} s wall ({readings4 / wall4:,.0f}/s), "
          f"{cpu4:.2f} s CPU ({readings4 / cpu4:,.0f}/s)")
    small = CitySimulator(catalog, SimulatorConfig(duration=timedelta(hours=args.write_hours)))
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("jsonl", "parquet"):
            path = Path(tmp) / f"city.{suffix}"
            cpu_started = time.process_time()
            summary = write_readings(path, small)
            write_cpu = time.process_time() - cpu_started
            rate = summary.readings / summary.seconds
            figures[f"write_{suffix}_per_s_wall"] = round(rate)
            figures[f"write_{suffix}_per_s_cpu"] = round(summary.readings / write_cpu)
            figures[f"{suffix}_bytes_per_reading"] = round(path.stat().st_size / summary.readings, 1)
            print(f"write {suffix:<8} {summary.readings:,} readings in {summary.seconds:.2f} s wall ({rate:,.0f}/s), "
                  f"{write_cpu:.2f} s CPU ({summary.readings / write_cpu:,.0f}/s), "
                  f"{path.stat().st_size / 1e6:.1f} MB")
    print(json.dumps({
        "series": sim.n_series, "hours": args.hours, "readings": readings, "setup_s": round(setup_s, 3),
        "generate_per_s_wall": round(readings / wall), "generate_per_s_cpu": round(readings / cpu),
        "generate_4_partitions_per_s_cpu": round(readings4 / cpu4), "day_seconds_cpu": round(cpu * 24 / args.hours, 2),
        **figures,
    }))


if __name__ == "__main__":
    main()
