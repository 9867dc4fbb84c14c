"""Bytes of series state per series at street level (issue 3): 28k and 280k series; target <= 2 KiB.

For each scale: the catalog with ``streets_total`` streets (1,031 -> 28,868 series; 10,310 -> 288,680), one
``ShardState`` holding every series, then (a) ``state_bytes()`` (the arrays' sizes), (b) the bytes that
``tracemalloc`` saw allocated while building it, (c) the size of a pickled snapshot, each divided by the
number of series. Ends with one JSON line.

    .venv/bin/python benchmarks/bench_memory.py [--scales 1031 10310]
"""

from __future__ import annotations

import argparse
import json
import pickle
import tracemalloc

from vitals.catalog import load_catalog
from vitals.state import ShardState


def measure(streets: int) -> dict[str, float]:
    catalog = load_catalog(streets_total=streets)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    state = ShardState(catalog)
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    n = catalog.n_series
    snapshot = len(pickle.dumps(state, protocol=5))
    return {
        "series": n,
        "state_bytes_per_series": round(state.state_bytes() / n, 1),
        "allocated_bytes_per_series": round(allocated / n, 1),
        "snapshot_bytes_per_series": round(snapshot / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1031, 10310], help="streets_total values")
    args = parser.parse_args()
    results = {}
    for streets in args.scales:
        m = measure(streets)
        results[str(m["series"])] = m
        print(f"{m['series']:>9,} series: state {m['state_bytes_per_series']:>7} B/series, "
              f"allocated {m['allocated_bytes_per_series']:>7} B/series, "
              f"snapshot {m['snapshot_bytes_per_series']:>7} B/series (target <= 2048)")
    worst = max(max(m["state_bytes_per_series"], m["allocated_bytes_per_series"]) for m in results.values())
    print(json.dumps({"scales": results, "max_bytes_per_series": worst, "target_bytes_per_series": 2048}))


if __name__ == "__main__":
    main()
