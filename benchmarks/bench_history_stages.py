"""Where a ``vitals replay`` with the history spends its main thread's CPU, stage by stage (``time.thread_time``
around the library functions, no profiler: cProfile's per-call overhead inflates Python-level loops).

Runs ``vitals replay FILE --history-dir <temp> --metrics-port 0 --no-progress`` in this process (default
settings: scoring on, 4 shards; nothing scrapes /metrics, so views for the exporter are the periodic ones) with
the stages of ``benchmarks/stage_timer.py`` wrapped (the same stages and names as ``bench_replay.py --stages``),
then prints CPU seconds and calls per stage, the main thread's and the process's CPU, and one JSON line. Stages
nest (a vitals snapshot's view is inside "vitals snapshot boundaries"). Typical input, the full simulated city for
4 hours (2,007,354 readings)::

    vitals simulate --hours 4 --start 2025-06-02T00:00:00Z --out city-4h.parquet --no-progress
    PYTHONPATH=. .venv/bin/python benchmarks/bench_history_stages.py city-4h.parquet
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # stage_timer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="readings to replay (e.g. vitals simulate --hours 4 --out city-4h.parquet)")
    args = parser.parse_args()
    import stage_timer

    for module in stage_timer.STAGES:
        stage_timer._patch(importlib.import_module(module))
    from vitals.cli import main as vitals_main

    load = os.getloadavg()
    thread0, process0 = time.thread_time(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        code = vitals_main(["replay", args.file, "--history-dir", tmp, "--metrics-port", "0", "--no-progress",
                            "--dead-letters", os.path.join(tmp, "dead.jsonl")])
    thread_s, process_s = time.thread_time() - thread0, time.process_time() - process0
    cpu, calls = stage_timer._cpu, stage_timer._calls
    print(f"\nload average {load[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end (2 cores)")
    print(f"{'stage (CPU of the calling thread)':52s} {'CPU s':>8s} {'calls':>7s}")
    for name in stage_timer.ORDER:
        if name in cpu:
            print(f"{name:52s} {cpu[name]:8.2f} {calls[name]:7d}")
    print(f"{'main thread / process in all':52s} {thread_s:8.2f} / {process_s:.2f}")
    print(json.dumps({"benchmark": "history_stages", "file": args.file, "load_start": round(load[0], 2),
                      "main_thread_cpu_s": round(thread_s, 3), "process_cpu_s": round(process_s, 3),
                      "stages": {k: {"cpu_s": round(v, 3), "calls": calls[k]} for k, v in cpu.items()}}))
    return code


if __name__ == "__main__":
    sys.exit(main())
