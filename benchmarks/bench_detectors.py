"""Detector cost alone, at the two batch shapes of issue 8: the full city (28,868 series x a few timestamps per
batch) and a small hourly feed (4 series x 10,000 timestamps per batch), for every registered streaming
detector that is fast enough to matter in the flow (default: the default detector; ``--detectors`` for more).

    .venv/bin/python benchmarks/bench_detectors.py [--readings 2000000] [--detectors default,seasonal_baseline]

Prints readings per CPU second (process time, after one warm-up batch so compilation is not counted) per
shape, and ends with one JSON line. Stage-only figures: the flow around the detector is not included
(``bench_replay``/``vitals replay`` measure the product path).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from vitals.detectors.registry import DETECTORS

SHAPES = {"city 28,868 series x 1 timestamp per step": (28_868, 1),
          "feed 4 series x 10,000 timestamps per batch": (4, 10_000)}
T0 = 1_700_000_000 * 1_000_000_000
STEP = 300 * 1_000_000_000


def readings_per_cpu_s(name: str, n_series: int, per_batch: int, total: int, seed: int = 0) -> float:
    """Feed ``total`` readings in batches of ``n_series * per_batch`` (time-major) and time the scoring."""
    rng = np.random.default_rng(seed)
    det = DETECTORS.create(name).fit([], [], [], n_series=n_series)
    batch = n_series * per_batch
    series = np.tile(np.arange(n_series), per_batch)
    steps = np.repeat(np.arange(per_batch), n_series)
    level = rng.uniform(10, 100, n_series)
    n_batches = max(total // batch, 2)
    cpu = 0.0
    for b in range(n_batches):
        ts = T0 + (b * per_batch + steps) * STEP
        hours = (ts // 1_000_000_000 % 86_400) / 3600.0
        values = level[series] * (1 + 0.3 * np.sin(2 * np.pi * hours / 24)) + rng.normal(0, 1, batch)
        started = time.process_time()
        det.update_score(series, ts, values)
        if b:  # the first batch warms up (compiles or loads the compiled kernel)
            cpu += time.process_time() - started
    return (n_batches - 1) * batch / cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--readings", type=int, default=2_000_000, help="readings per shape (default 2,000,000)")
    p.add_argument("--detectors", default="default", help=f"comma-separated, of: {', '.join(DETECTORS.names())}")
    args = p.parse_args()
    doc: dict[str, dict[str, float]] = {}
    for name in args.detectors.split(","):
        doc[name] = {}
        for label, (n_series, per_batch) in SHAPES.items():
            rate = readings_per_cpu_s(name, n_series, per_batch, args.readings)
            doc[name][label] = round(rate)
            print(f"{name:<20} {label:<46} {rate / 1e6:6.2f} M readings per CPU s", flush=True)
    print("target: >= 1 M readings per CPU s at both shapes (issue 8), the same cost per reading whatever the shape")
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
