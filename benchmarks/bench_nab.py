"""NAB development split: the default detector's scores per profile (one threshold for all files).

Usage: .venv/bin/python benchmarks/bench_nab.py [NAB_DIR]   (default ../shared/data/nab)
Prints the score table and timing, and ends with one line of JSON holding the figures.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path

from vitals.backtest.nab_run import events_at, load_nab, run_detector, score_files, score_table, summary
from vitals.detectors import DefaultDetector

TARGET_STANDARD = 67.0


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/data/nab"
    files = load_nab(root)
    rows = sum(len(f.values) for f in files)
    started = time.perf_counter()
    run_detector(files)
    detect_s = time.perf_counter() - started
    results = score_files(files)
    events = events_at(files, results["standard"].threshold)
    print(score_table(results))
    print(f"detection: {rows} rows in {detect_s:.1f} s ({rows / detect_s:,.0f} rows/s, all files in lockstep)")
    print(f"standard: {results['standard'].normalized:.2f} at threshold {results['standard'].threshold:.4f} "
          f"(target {TARGET_STANDARD})")
    for name, value in sorted(results["standard"].per_file.items()):
        print(f"  {name:<60} {value:+.3f}")
    doc = summary(results, events, len(files), rows)
    doc["detect_seconds"] = round(detect_s, 2)
    doc["steps_per_s"] = round(max(len(f.values) for f in files) / detect_s, 1)
    state = len(pickle.dumps(DefaultDetector().fit([], [], [], n_series=10_000))) / 10_000
    print(f"state: {state:,.0f} bytes per series (pickled), {state * 28_000 / 2**20:,.0f} MiB for 28k series")
    doc["state_bytes_per_series"] = round(state)
    doc["target_standard"] = TARGET_STANDARD
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
