"""Stage-only benchmark of a replayed file on the hot path, without Bytewax: the file source reading and parsing
blocks (``FileReplay.read_next``), the partition check (validation, watermark: late readings) and the series
state (``split_by_shard`` + ``ShardState.update``: duplicates), as the flow runs them, in one process.

Input: ``--hours`` of the full simulated city (``vitals simulate --start 2025-06-02T00:00:00Z``; its faults
included, so late and duplicate readings are dead-lettered) as Parquet, and the same readings as CSV (ts as ISO
8601 with ``Z``). CPU seconds of this process (``time.process_time``) per pass, after one warm-up pass; min and
median of ``--repeats``. Compare two checkouts by running this file with ``PYTHONPATH`` set to each; it counts the
dead letters that name their file (a checkout without file places counts 0).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_file_stages.py [--hours 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from bench_kafka_stages import stage_rejections

from vitals.catalog import load_catalog
from vitals.readings import ReadingParser
from vitals.sources.files import FileReplay
from vitals.state import ShardState
from vitals.stream.partition_check import PartitionChecker

SHARDS = 4


def _inputs(hours: float, folder: Path) -> list[Path]:
    parquet = folder / "city.parquet"
    subprocess.run([sys.executable, "-m", "vitals", "simulate", "--hours", str(hours), "--start",
                    "2025-06-02T00:00:00Z", "--out", str(parquet), "--no-progress"], check=True,
                   stdout=subprocess.DEVNULL)
    table = pq.read_table(parquet)
    text = pc.strftime(table["ts"], format="%Y-%m-%dT%H:%M:%S")
    columns = {"ts": pc.binary_join_element_wise(text, pa.scalar("Z"), ""),
               **{name: table[name].cast(pa.string()) if name != "value" else table[name]
                  for name in ("indicator", "area", "sensor", "value")}}
    pcsv.write_csv(pa.table(columns), folder / "city.csv")
    return [parquet, folder / "city.csv"]


def _pass(catalog: Any, path: Path) -> dict[str, Any]:
    """One replay of ``path``: CPU seconds of reading + parsing and of the whole stage path, and the rejections."""
    parser = ReadingParser(catalog, max_future_s=10 ** 10)
    checker = PartitionChecker(catalog, allowed_lateness_s=300.0, max_future_s=10 ** 10)
    state = checker.initial_state()
    shards = [ShardState(catalog, k, SHARDS) for k in range(SHARDS)]
    replay = FileReplay([path], parser, "file-0")
    rejected: dict[str, int] = {}
    read_s, placed, n = 0.0, 0, 0
    start = time.process_time()
    while True:
        t0 = time.process_time()
        item = replay.read_next()
        read_s += time.process_time() - t0
        if item is None:
            break
        n += len(item.batch) + len(item.rejections)
        for r in stage_rejections(catalog, checker, state, shards, item):
            rejected[r.reason] = rejected.get(r.reason, 0) + 1
            placed += getattr(r, "file", None) is not None
    return {"read_s": read_s, "total_s": time.process_time() - start, "rejected": rejected, "placed": placed,
            "readings": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    opts = ap.parse_args()
    catalog = load_catalog()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in _inputs(opts.hours, Path(tmp)):
            _pass(catalog, path)  # warm-up: kernels compiled or loaded, caches filled
            runs = [_pass(catalog, path) for _ in range(opts.repeats)]
            read = [r["read_s"] for r in runs]
            total = [r["total_s"] for r in runs]
            first = runs[0]
            print(f"{path.suffix[1:]}: {first['readings']:,} readings; rejected {first['rejected']}, "
                  f"{first['placed']:,} naming their file")
            print(f"  read+parse  CPU s min {min(read):.3f} median {statistics.median(read):.3f}")
            print(f"  all stages  CPU s min {min(total):.3f} median {statistics.median(total):.3f}  "
                  f"({first['readings'] / min(total) / 1e6:.2f} M readings / CPU s at the min)")
            out[path.suffix[1:]] = {"readings": first["readings"], "read_min_s": round(min(read), 4),
                                    "read_median_s": round(statistics.median(read), 4),
                                    "total_min_s": round(min(total), 4),
                                    "total_median_s": round(statistics.median(total), 4),
                                    "rejected": first["rejected"], "placed": first["placed"]}
    print(json.dumps(out))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
