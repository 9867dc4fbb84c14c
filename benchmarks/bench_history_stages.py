"""Where a ``vitals replay`` with the history spends its main thread's CPU, stage by stage (``time.thread_time``
around the library functions, no profiler: cProfile's per-call overhead inflates Python-level loops).

Runs ``vitals replay FILE --history-dir <temp> --metrics-port 0 --no-progress`` in this process (default
settings: scoring on, 4 shards; nothing scrapes /metrics, so views for the exporter are the periodic ones) with
the stages wrapped, then prints CPU seconds and calls per stage, the main thread's and the process's CPU, and
one JSON line. Stages nest (a vitals snapshot's view is inside "snapshot at a boundary"). Typical input, the
full simulated city for 4 hours (2,007,354 readings)::

    vitals simulate --hours 4 --start 2025-06-02T00:00:00Z --out city-4h.parquet --no-progress
    PYTHONPATH=. .venv/bin/python benchmarks/bench_history_stages.py city-4h.parquet
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

STAGES: list[tuple[str, str, str]] = [  # (module, attribute path, label)
    ("vitals.stream.shard_step", "ShardProcessor.apply", "shard: apply a batch (all below but publish)"),
    ("vitals.state.shard", "ShardState.update", "  series state update"),
    ("vitals.stream.shard_step", "ShardProcessor._snapshot_boundary", "  snapshot at a boundary (view + scores)"),
    ("vitals.stream.shard_step", "ShardProcessor._settle", "  snapshots captured in a batch, rendered"),
    ("vitals.state.shard", "ShardState.view", "state views (snapshots and publications)"),
    ("vitals.state.view_cache", "ViewCache.window_columns", "  window statistics"),
    ("vitals.scoring", "ShardScorer.columns", "scoring columns of views (forecast predictions)"),
    ("vitals.stream.shard_step", "ShardProcessor.publish", "views for the exporter (publish)"),
    ("vitals.stream.outputs", "HistoryWriter.__call__", "history files (all)"),
    ("vitals.stream.outputs", "write_readings", "  readings files"),
    ("vitals.stream.outputs", "write_vitals", "  vitals files"),
    ("vitals.history", "_atomic_write", "    Parquet encoding and writing"),
]


def _wrap(owner: Any, name: str, label: str, acc: dict[str, list[float]], main: int) -> None:
    fn: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            entry = acc.setdefault(label if threading.get_ident() == main else f"{label} [other threads]", [0.0, 0])
            entry[0] += time.thread_time() - started
            entry[1] += 1

    setattr(owner, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="readings to replay (e.g. vitals simulate --hours 4 --out city-4h.parquet)")
    args = parser.parse_args()
    import importlib

    acc: dict[str, list[float]] = {}
    for module, path, label in STAGES:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        _wrap(owner, name, label, acc, threading.get_ident())
    from vitals.cli import main as vitals_main

    load = os.getloadavg()
    thread0, process0 = time.thread_time(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        code = vitals_main(["replay", args.file, "--history-dir", tmp, "--metrics-port", "0", "--no-progress",
                            "--dead-letters", os.path.join(tmp, "dead.jsonl")])
    thread_s, process_s = time.thread_time() - thread0, time.process_time() - process0
    print(f"\nload average {load[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end (2 cores)")
    print(f"{'stage (main thread CPU)':52s} {'CPU s':>8s} {'calls':>7s}")
    for _, _, label in STAGES:
        for key in (label, f"{label} [other threads]"):
            if key in acc:
                print(f"{key:52s} {acc[key][0]:8.2f} {int(acc[key][1]):7d}")
    print(f"{'main thread / process in all':52s} {thread_s:8.2f} / {process_s:.2f}")
    print(json.dumps({"benchmark": "history_stages", "file": args.file, "load_start": round(load[0], 2),
                      "main_thread_cpu_s": round(thread_s, 3), "process_cpu_s": round(process_s, 3),
                      "stages": {k: {"cpu_s": round(v[0], 3), "calls": int(v[1])} for k, v in acc.items()}}))
    return code


if __name__ == "__main__":
    sys.exit(main())
