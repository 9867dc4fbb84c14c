"""Detectors on synthetic series no one tuned on: false detections on anomaly-free families, injected anomalies.

Usage: .venv/bin/python benchmarks/bench_synthetic.py [--detectors a,b | --all] [--length N] [--warmup N]
       [--clean N] [--injected N] [--window N] [--seed N] [--families a,b] [--anomalies a,b]

For every registered streaming detector (``vitals.detectors.registry.DETECTORS``; one that cannot start
without training data is skipped, saying so) the series of ``vitals.backtest.synthetic`` (14 families, 8 kinds
of injected anomaly, fixed seeds) are scored with ``score_series`` and decided at the detector's own decision
threshold (``score_series``'s: ``decision_threshold``, else 0.40). Printed:

1. false detections on the clean series: detections per 1,000 readings after the warm-up, and the series
   with any detection;
2. injected anomalies (one per series, onset after the warm-up): recall (a detection within ``--window``
   readings of the onset), median delay in readings, false detections per 1,000 readings elsewhere (after the
   warm-up, outside the window or the anomaly if it ends later; ``synthetic.event_figures``); per kind, per
   family, and the default's family x kind matrix;
3. the reference detectors again at their NAB-fit thresholds where their own decision threshold differs;

then one line of JSON and the runtime. ``contextual_novelty`` (~0.3-0.6 ms per reading in Python: ~12 min on
the default suite) runs only with ``--all`` or when named. Default run: ~2 min of CPU on one core.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's vitals, whatever the venv has installed

from vitals.backtest.synthetic import (  # noqa: E402
    ANOMALIES,
    FAMILIES,
    CleanFigures,
    EventFigures,
    Scored,
    SuiteConfig,
    SyntheticSeries,
    clean_figures,
    event_figures,
    make_suite,
    score_suite,
)
from vitals.detectors.registry import DETECTORS  # noqa: E402
from vitals.errors import VitalsError  # noqa: E402

SLOW = {"contextual_novelty": "per-reading Python, ~0.3-0.6 ms per reading: ~12 min on the default suite"}
# the standard profile's fit threshold on the 41 NAB development files (benchmarks/bench_nab.py's
# threshold_standard, exact values from nab_run.score_files): the reference detectors' scores are not on the
# 0.40 scale of the fallback decision threshold
NAB_FIT_THRESHOLDS = {"windowed_gaussian": 0.999999999999955, "knn_cad": 1.0, "contextual_novelty": 0.7071929238985313}
CELL = 14


def main() -> None:
    args = parse_args()
    config = SuiteConfig(length=args.length, warmup=args.warmup, clean=args.clean, injected=args.injected,
                         window=args.window, seed=args.seed, families=tuple(_split(args.families)),
                         anomalies=tuple(_split(args.anomalies)))
    wall, cpu = time.perf_counter(), time.process_time()
    suite = make_suite(config)
    print(f"synthetic suite: {len(suite)} series x {config.length:,} readings ({len(suite) * config.length:,}), "
          f"{config.clean} clean per family, {config.injected} injected per family and kind, warm-up "
          f"{config.warmup:,}, window {config.window}, seed {config.seed}", flush=True)
    names, skipped = chosen_detectors(args)
    for name, why in skipped.items():
        print(f"{name}: skipped ({why})")
    doc: dict[str, Any] = {"config": config.__dict__ | {"series": len(suite)}, "skipped": skipped, "detectors": {}}
    runs: dict[str, Scored] = {}
    for name in names:
        started = time.process_time()
        runs[name] = score_suite(suite, name)
        seconds = time.process_time() - started
        print(f"{name}: {seconds:.1f} CPU s, decision threshold {runs[name].threshold:.15g}", flush=True)
        doc["detectors"][name] = figures_doc(suite, runs[name], config) | {"cpu_s": round(seconds, 2)}
    print_tables(suite, runs, config, {name: runs[name].threshold for name in runs}, "own decision threshold")
    reference = {n: t for n, t in NAB_FIT_THRESHOLDS.items() if n in runs}
    for name, cut in reference.items():
        doc["detectors"][name]["nab_fit"] = figures_doc(suite, runs[name], config, cut)
    other = {n: t for n, t in reference.items() if t != runs[n].threshold}   # printed where not their own
    if other:
        print_tables(suite, {n: runs[n] for n in other}, config, other, "NAB-fit threshold", matrix=False)
    doc["wall_s"] = round(time.perf_counter() - wall, 1)
    doc["cpu_s"] = round(time.process_time() - cpu, 1)
    print(json.dumps(doc, allow_nan=False))
    print(f"total: {doc['wall_s']} s wall, {doc['cpu_s']} CPU s")


def parse_args() -> argparse.Namespace:
    d = SuiteConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detectors", help=f"comma-separated subset of: {', '.join(DETECTORS.names())}")
    p.add_argument("--all", action="store_true", help=f"also the slow ones ({', '.join(SLOW)})")
    p.add_argument("--length", type=int, default=d.length, help="readings per series")
    p.add_argument("--warmup", type=int, default=d.warmup, help="readings before any counting")
    p.add_argument("--clean", type=int, default=d.clean, help="clean series per family")
    p.add_argument("--injected", type=int, default=d.injected, help="injected series per family and kind")
    p.add_argument("--window", type=int, default=d.window, help="readings after an onset that count as found")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--families", help=f"subset of: {', '.join(f.name for f in FAMILIES)}")
    p.add_argument("--anomalies", help=f"subset of: {', '.join(ANOMALIES)}")
    return p.parse_args()


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


def chosen_detectors(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The detectors to run and the skipped ones with the reason."""
    names = _split(args.detectors) or sorted(DETECTORS.names(), key=lambda n: n != "default")
    skipped: dict[str, str] = {}
    if not args.detectors and not args.all:
        skipped.update({n: f"{why}; --all or --detectors {n} runs it" for n, why in SLOW.items() if n in names})
    for name in names:
        try:
            DETECTORS.create(name).fit([], [], [], n_series=1)
        except VitalsError as exc:
            skipped[name] = f"cannot start without training data: {exc}"
    return [n for n in names if n not in skipped], skipped


def figures_doc(suite: list[SyntheticSeries], scored: Scored, config: SuiteConfig,
                threshold: float | None = None) -> dict[str, Any]:
    clean = clean_figures(suite, scored, config.warmup, threshold)
    kinds = event_figures(suite, scored, config.warmup, config.window, threshold=threshold)
    families = event_figures(suite, scored, config.warmup, config.window, threshold=threshold, by="family")
    return {"threshold": scored.threshold if threshold is None else threshold,
            "clean": {k: _clean_doc(v) for k, v in clean.items()},
            "clean_all": _clean_doc(_pool_clean(list(clean.values()))),
            "events": {k: _event_doc(v) for k, v in kinds.items()},
            "events_all": _event_doc(_pool_events(list(kinds.values()))),
            "events_by_family": {k: _event_doc(v) for k, v in families.items()}}


def _number(value: float) -> float | None:
    """JSON has no NaN: ``None`` for a figure without data (no readings, no event found)."""
    return None if math.isnan(value) else round(value, 3)


def _clean_doc(f: CleanFigures) -> dict[str, Any]:
    return {"per_1000": _number(f.per_1000), "detections": f.detections, "readings": f.readings,
            "series_with_any": f.series_with_any, "series": f.series}


def _event_doc(f: EventFigures) -> dict[str, Any]:
    return {"recall": _number(f.recall), "found": f.found, "events": f.events,
            "median_delay": _number(f.median_delay), "false_per_1000": _number(f.false_per_1000)}


def _pool_clean(rows: list[CleanFigures]) -> CleanFigures:
    return CleanFigures(*(sum(getattr(r, a) for r in rows) for a in ("readings", "detections", "series",
                                                                       "series_with_any")))


def _pool_events(rows: list[EventFigures]) -> EventFigures:
    return EventFigures(sum(r.events for r in rows), sum(r.found for r in rows),
                        tuple(d for r in rows for d in r.delays), sum(r.false_detections for r in rows),
                        sum(r.false_readings for r in rows))


def print_tables(suite: list[SyntheticSeries], runs: dict[str, Scored], config: SuiteConfig,
                 cuts: dict[str, float], label: str, *, matrix: bool = True) -> None:
    names = list(runs)
    head = f"{'':<18}" + "".join(f"{n[:CELL - 1]:>{CELL}}" for n in names)
    clean = {n: clean_figures(suite, runs[n], config.warmup, cuts[n]) for n in names}
    print(f"\n1. False detections on anomaly-free series ({label}): per 1,000 readings after the warm-up, "
          f"series with any / series")
    print(head)
    families = list(next(iter(clean.values()), {}))
    for family in families:
        print(f"{family:<18}" + "".join(_clean_cell(clean[n][family]) for n in names))
    print(f"{'all families':<18}" + "".join(_clean_cell(_pool_clean(list(clean[n].values()))) for n in names))
    for by in ("anomaly", "family"):
        events = {n: event_figures(suite, runs[n], config.warmup, config.window, threshold=cuts[n], by=by)
                  for n in names}
        print(f"\n2. Injected anomalies by {by} ({label}): recall within {config.window} readings / median delay "
              f"/ false detections per 1,000 elsewhere")
        print(head)
        for key in next(iter(events.values()), {}):
            print(f"{key:<18}" + "".join(_event_cell(events[n][key]) for n in names))
        if by == "anomaly":
            print(f"{'all kinds':<18}" + "".join(_event_cell(_pool_events(list(events[n].values())))
                                                for n in names))
    if matrix and "default" in runs:
        print_matrix(suite, runs["default"], config)


def _clean_cell(f: CleanFigures) -> str:
    return f"{f.per_1000:>7.2f} {f.series_with_any:>2}/{f.series:<2}"[:CELL].rjust(CELL)


def _event_cell(f: EventFigures) -> str:
    delay = "-" if not f.delays else f"{f.median_delay:.0f}"
    return f"{f.recall:>5.2f} {delay:>3} {f.false_per_1000:>4.1f}".rjust(CELL)


def print_matrix(suite: list[SyntheticSeries], scored: Scored, config: SuiteConfig) -> None:
    """The default's injected anomalies found, per family (rows) and kind (columns)."""
    kinds = [k for k in ANOMALIES if any(s.anomaly == k for s in suite)]
    print(f"\ndefault: injected anomalies found within {config.window} readings (found/events), family x kind")
    print(f"{'':<18}" + "".join(f"{k[:10]:>11}" for k in kinds))
    for family in dict.fromkeys(s.family for s in suite):
        part = [s for s in suite if s.family == family]
        idx = [i for i, s in enumerate(suite) if s.family == family]
        sub = Scored(scored.detector, [scored.scores[i] for i in idx], scored.threshold)
        found = event_figures(part, sub, config.warmup, config.window)
        print(f"{family:<18}" + "".join(f"{found[k].found:>9}/{found[k].events}" for k in kinds))


if __name__ == "__main__":
    main()
