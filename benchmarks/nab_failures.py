"""Failure analysis of the default detector on a NAB directory, at one threshold (default: the decision threshold).

Usage: .venv/bin/python benchmarks/nab_failures.py [NAB_DIR] [--threshold 0.40] [--params '{"rest": 0}']

Per file: the false detections after probation (row, driver, score) and per window its first detection (row,
share of the window elapsed, what NAB pays for it, driver) or the miss. Ends with the totals: what the found
windows earn, what they lose by coming after the window's start and after the labelled anomaly time (a
detection at the label is worth ~0.86, the most a detector that sees the anomaly itself can earn), the missed
windows, and the false detections by driver (``DRIVERS``). Each file is streamed reading by reading to read the
driver of each score, so it takes a minute; the scores equal the batch run's (the kernel is split-invariant).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from vitals.backtest.nab import probation_length, scaled_sigmoid
from vitals.backtest.nab_run import NabFile, load_nab
from vitals.detectors import DefaultDetector
from vitals.detectors.combined import DRIVERS


def stream(f: NabFile, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Scores and drivers of one file, one reading at a time."""
    det = DefaultDetector(**params).fit([], [], [], n_series=1)
    ts = f.ts.astype(np.int64)
    scores = np.zeros(len(f.values))
    drivers = np.zeros(len(f.values), dtype=np.int64)
    for i in range(len(f.values)):
        scores[i] = det.update_score([0], ts[i:i + 1], f.values[i:i + 1])[0]
        drivers[i] = det.driver_[0]
    return scores, drivers


def main() -> None:
    default_root = Path(__file__).resolve().parents[2] / "shared/data/nab"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", type=Path, default=default_root, help="NAB directory")
    parser.add_argument("--threshold", type=float, default=DefaultDetector.decision_threshold)
    parser.add_argument("--params", default="{}", help="DefaultDetector parameters as JSON")
    args = parser.parse_args()
    params = json.loads(args.params)
    earned = after_start = after_label = 0.0
    found = missed = 0
    false_by = Counter[str]()
    max_tp = float(scaled_sigmoid(-1.0))
    for f in load_nab(args.root):
        scores, drivers = stream(f, params)
        n = len(scores)
        rows = np.arange(n)
        hits = np.flatnonzero((scores >= args.threshold) & (rows >= probation_length(n)))
        inside = np.zeros(n, dtype=bool)
        lines = []
        for k, (left, right) in enumerate(f.windows):
            inside[left:right + 1] = True
            width = right - left + 1
            mine = hits[(hits >= left) & (hits <= right)]
            if not mine.size:
                missed += 1
                lines.append(f"  window {k} [{left}, {right}]: missed")
                continue
            i = int(mine[0])
            worth = float(scaled_sigmoid(-(right - i + 1) / width)) / max_tp
            label = int(np.searchsorted(f.ts, f.label_times[k])) if k < len(f.label_times) else left + width // 2
            at_label = float(scaled_sigmoid(-(right - max(label, left) + 1) / width)) / max_tp
            found += 1
            earned += worth
            after_start += 1.0 - worth
            after_label += max(at_label - worth, 0.0)
            lines.append(f"  window {k} [{left}, {right}]: first detection {i} ({(i - left) / width:.2f} of the "
                         f"window, label {label}) worth {worth:.3f}, {DRIVERS[drivers[i]]} {scores[i]:.3f}")
        false_rows = hits[~inside[hits]]
        false_by.update(DRIVERS[drivers[i]] for i in false_rows)
        listed = ", ".join(f"{i} {DRIVERS[drivers[i]]} {scores[i]:.2f}" for i in false_rows)
        print(f"{f.name}: {len(false_rows)} false detections{': ' + listed if listed else ''}")
        for line in lines:
            print(line)
    print(f"found {found} windows earning {earned:.3f} (lost {after_start:.3f} to detection after the window start, "
          f"{after_label:.3f} of it after the labelled time), missed {missed}, "
          f"false detections {sum(false_by.values())}: {dict(false_by)}")


if __name__ == "__main__":
    main()
