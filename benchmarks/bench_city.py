"""City backtest benchmark: 14 simulated days at street level with incidents and sensor faults, run causally
through the flow's per-shard code (ShardState + ShardScorer with the registry's promoted forecaster), scored
against the simulator's ground truth.

    .venv/bin/python benchmarks/bench_city.py                       # 14 days, 38 streets (one per district)
    .venv/bin/python benchmarks/bench_city.py --days 3 --streets 76 --seed 5

Prints recall per alarm kind, false alarms per indicator per district per day (and per series per day, and
extrapolated to the full city's 27 streets per district), the median early-warning lead time per slow-onset
event and per incident, wall seconds; the last line is one JSON object with every figure. The full city (1,031
streets, 28,868 series) does not fit a few minutes on 2 cores, so the default is a reduced street count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"recall_warning": 0.9, "false_alarms_warning_per_indicator_district_day": 1.0, "lead_time_median_s": 900}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--streets", type=int, default=38)
    p.add_argument("--seed", type=int, default=11, help="simulation seed (the shipped model trained on seed 7)")
    p.add_argument("--models-dir", default=str(REPO / "models"))
    p.add_argument("--forecaster-param", action="append", default=[], metavar="NAME=VALUE",
                   help="what-if: set a prediction-time parameter of the promoted forecaster, e.g. deviation_guard=1.5")
    args = p.parse_args()
    params = {k: float(v) for k, v in (item.split("=", 1) for item in args.forecaster_param)}

    from vitals.backtest.city import measure, run_city, simulate_city

    started = time.perf_counter()
    catalog, batches, events = simulate_city(streets=args.streets, days=args.days, seed=args.seed)
    timeline = run_city(catalog, batches, models_dir=args.models_dir, progress=sys.stderr.isatty(),
                        total=int(args.days * 1440), forecaster_params=params)
    run_s = time.perf_counter() - started
    figures = measure(timeline, events, catalog)
    figures.update(seed=args.seed, run_seconds=round(run_s, 1), forecaster_params=params)
    out = sys.stdout
    out.write(f"city backtest: {args.days:g} days, {catalog.n_streets} streets, {timeline.series.size} series, "
              f"{figures['events_orange']} orange events, {figures['incidents']} incidents; {run_s:.0f} s\n")
    for kind in ("warning", "level", "early", "anomaly"):
        out.write(f"  {kind:8s} recall {figures[f'recall_{kind}']}, false alarms per indicator per district per day "
                  f"{figures[f'false_alarms_{kind}_per_indicator_district_day']} (per series-day "
                  f"{figures[f'false_alarms_{kind}_per_series_day']}, full-scale equivalent "
                  f"{figures[f'false_alarms_{kind}_full_scale_per_indicator_district_day']})\n")
    out.write(f"  early-warning lead time: median {figures['lead_time_median_s']} s over "
              f"{figures['slow_onset_events']} slow-onset events ({figures['warned_15m_before_share']} warned >= 15 "
              f"min ahead); per incident median {figures['incident_lead_time_median_s']} s\n")
    figures["targets"] = {k: {"target": v, "value": figures.get(k)} for k, v in TARGETS.items()}
    out.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
