"""Cost of recovery snapshots (issue 3): the Parquet replay of ``bench_pipeline.py`` (full city, one worker)
without recovery, then with Bytewax recovery at each ``--intervals`` snapshot interval, in one run.

With recovery on, every shard's state (arrays for 28,868 series / shards, plus not-yet-written history rows) is
deep-copied at the end of each epoch and pickled into SQLite; without it the shards skip the copy
(``FlowOptions.recovery=False``). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_recovery.py [--readings 1000000] [--intervals 1,5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import replay, valid_readings, write_parquet

from vitals.catalog import load_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--intervals", default="1,5", help="snapshot intervals in seconds, comma-separated")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    catalog = load_catalog()
    readings = valid_readings(catalog, args.readings)
    n = len(readings)
    intervals = [float(x) for x in args.intervals.split(",")]
    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "readings.parquet"
        write_parquet(catalog, readings, path)
        for _ in range(args.repeat):
            for label, recovery, interval in [("off", False, 1.0), *((f"{s:g}s", True, s) for s in intervals)]:
                run = replay(catalog, path, batch=args.batch, shards=args.shards, workdir=work, recovery=recovery,
                             snapshot_s=interval)
                cpu.setdefault(label, []).append(run.cpu_s)
                wall.setdefault(label, []).append(run.wall_s)
    med = statistics.median
    figures: dict[str, object] = {"readings": n, "series": catalog.n_series, "shards": args.shards,
                                  "repeat": args.repeat}
    base = med(cpu["off"])
    print(f"{n:,} readings over {catalog.n_series:,} series, one worker, median of {args.repeat}")
    for label, cpu_s in cpu.items():
        per_cpu, per_wall = n / med(cpu_s), n / med(wall[label])
        cost = 1 - base / med(cpu_s)
        figures[f"recovery_{label}_per_cpu_s"] = round(per_cpu)
        figures[f"recovery_{label}_per_s"] = round(per_wall)
        if label != "off":
            figures[f"recovery_{label}_cost"] = round(cost, 3)
        print(f"recovery {label:>4}: {per_wall:>12,.0f} readings/s wall, {per_cpu:>12,.0f} per CPU second"
              + ("" if label == "off" else f"  (throughput cost {cost:.0%})"))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
