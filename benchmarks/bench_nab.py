"""NAB development split: every registered detector, fit and leave-one-category-out CV, next to published figures.

Usage: .venv/bin/python benchmarks/bench_nab.py [NAB_DIR] [--detectors a,b]   (default ../shared/data/nab, all)

Per detector: the fit score per profile (one threshold optimized on all files, as NAB publishes), the
leave-one-category-out CV figures (pooled, mean and per category; threshold chosen on the other categories)
for the standard and low-FP profiles, and the detection time. The default detector also gets its per-file
scores, event metrics and pickled state size. Ends with one line of JSON holding every figure.
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path
from typing import Any

from vitals.backtest.nab_cv import loco_cv
from vitals.backtest.nab_run import (
    NabFile,
    build_detector,
    events_at,
    load_nab,
    run_detector,
    score_files,
    score_table,
    summary,
)
from vitals.detectors import DefaultDetector
from vitals.detectors.registry import DETECTORS

TARGET_STANDARD = 67.0
CV_PROFILES = ("standard", "reward_low_FP_rate")
# NAB's published results rescored on these 41 files (standard profile unless named; threshold optimized on them)
PUBLISHED: dict[str, dict[str, float]] = {
    "contextual_novelty": {"standard": 63.8, "reward_low_FP_rate": 59.8},   # CAD OSE
    "knn_cad": {"standard": 56.6},
    "windowed_gaussian": {"standard": 29.1},
}
CONTEXT = "published for context: ARTime 69.1, Numenta HTM 68.6, Random Cut Forest 52.6, relative entropy 47.3"


def measure(name: str, files: list[NabFile]) -> dict[str, Any]:
    """Run one registered detector over all files and return its fit and CV figures."""
    started = time.perf_counter()
    run_detector(files, build_detector(name, files))
    seconds = time.perf_counter() - started
    results = score_files(files)
    scores = {f.name: f.scores for f in files}
    windows = {f.name: f.windows for f in files}
    entry: dict[str, Any] = {"seconds": round(seconds, 1)}
    for profile, r in results.items():
        entry[f"fit_{profile}"] = round(r.normalized, 2)
        entry[f"threshold_{profile}"] = round(r.threshold, 6)
    for profile in CV_PROFILES:
        cv = loco_cv({name: scores}, windows, profile)
        entry[f"cv_pooled_{profile}"] = round(cv.pooled, 2)
        entry[f"cv_mean_{profile}"] = round(cv.mean, 2)
        entry[f"cv_folds_{profile}"] = {f.category: None if f.score is None else round(f.score, 2) for f in cv.folds}
    entry["published"] = PUBLISHED.get(name, {})
    return entry


def default_lines(files: list[NabFile], doc: dict[str, Any]) -> None:
    """The default detector's detail (scores of the last run must be the default's)."""
    rows = sum(len(f.values) for f in files)
    results = score_files(files)
    events = events_at(files, results["standard"].threshold)
    seconds = doc["detectors"]["default"]["seconds"]
    print(score_table(results))
    print(f"detection: {rows} rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s, all files in lockstep)")
    print(f"standard: {results['standard'].normalized:.2f} at threshold {results['standard'].threshold:.4f} "
          f"(target {TARGET_STANDARD})")
    for name, value in sorted(results["standard"].per_file.items()):
        print(f"  {name:<60} {value:+.3f}")
    doc.update(summary(results, events, len(files), rows))
    doc["detect_seconds"] = seconds
    doc["steps_per_s"] = round(max(len(f.values) for f in files) / seconds, 1)
    state = len(pickle.dumps(DefaultDetector().fit([], [], [], n_series=10_000))) / 10_000
    print(f"state: {state:,.0f} bytes per series (pickled), {state * 28_000 / 2**20:,.0f} MiB for 28k series")
    doc["state_bytes_per_series"] = round(state)
    doc["target_standard"] = TARGET_STANDARD


def table(figures: dict[str, dict[str, Any]]) -> str:
    def cell(value: float | None) -> str:
        return f"{value:>7.1f}" if value is not None else f"{'-':>7}"

    lines = [f"{'detector':<20} {'fit std':>7} {'fit lFP':>7} {'fit lFN':>7} {'CV std':>7} {'CVm std':>7} "
             f"{'CV lFP':>7} {'CVm lFP':>7} {'pub std':>7} {'pub lFP':>7} {'seconds':>8}"]
    for name, e in figures.items():
        pub = e["published"]
        lines.append(f"{name:<20} {cell(e['fit_standard'])} {cell(e['fit_reward_low_FP_rate'])} "
                     f"{cell(e['fit_reward_low_FN_rate'])} {cell(e['cv_pooled_standard'])} "
                     f"{cell(e['cv_mean_standard'])} {cell(e['cv_pooled_reward_low_FP_rate'])} "
                     f"{cell(e['cv_mean_reward_low_FP_rate'])} {cell(pub.get('standard'))} "
                     f"{cell(pub.get('reward_low_FP_rate'))} {e['seconds']:>8.1f}")
    lines.append("CV per category (held out; threshold chosen on the other four), standard / low-FP:")
    for name, e in figures.items():
        cats = " ".join(f"{c}={_pair(e, c)}" for c in e["cv_folds_standard"])
        lines.append(f"  {name:<18} {cats}")
    lines.append(CONTEXT)
    return "\n".join(lines)


def _pair(entry: dict[str, Any], category: str) -> str:
    std, lfp = entry["cv_folds_standard"][category], entry["cv_folds_reward_low_FP_rate"][category]
    return "-" if std is None else f"{std:.1f}/{lfp:.1f}"


def main() -> None:
    default_root = Path(__file__).resolve().parents[2] / "shared/data/nab"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", type=Path, default=default_root, help="NAB directory")
    parser.add_argument("--detectors", help=f"comma-separated subset of: {', '.join(DETECTORS.names())}")
    args = parser.parse_args()
    names = args.detectors.split(",") if args.detectors else DETECTORS.names()
    for name in names:
        DETECTORS.get(name)           # unknown names fail before any run
    files = load_nab(args.root)
    doc: dict[str, Any] = {"files": len(files), "rows": sum(len(f.values) for f in files), "detectors": {}}
    # the default last, so the files hold its scores for its detail lines
    for name in sorted(names, key=lambda n: n == "default"):
        doc["detectors"][name] = measure(name, files)
        print(f"{name}: fit standard {doc['detectors'][name]['fit_standard']:.2f} "
              f"in {doc['detectors'][name]['seconds']:.1f} s", flush=True)
    if "default" in names:
        default_lines(files, doc)
    print(table(doc["detectors"]))
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
