"""`vitals train`: train the model families on history or a simulated city and register new versions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  vitals train --simulate-days 7 --streets 76 --seed 7 --promote   # rebuilds the shipped default models
  vitals train --history var/history                              # from the Parquet history
  vitals train --catalog my_city.yaml --history var/history --promote   # models/ next to my_city.yaml
  vitals train --history var/history --models-dir /tmp/models --horizons 15,30,60
  vitals models list                                               # then inspect, promote, roll back

The last line of output is one JSON document with the figures (for scripts).
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train models on history or a simulated city and register them",
        description="Fit the early-warning forecaster (and every other trainable model family), backtest it "
                    "walk-forward on held-out time, write a new version with a model card to the registry. "
                    "Nothing is promoted unless --promote is given.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--history", metavar="DIR",
                     help="Parquet history directory (columns ts, indicator, area, value)")
    src.add_argument("--simulate-days", type=float, metavar="N", help="simulate the city for N days and train on it")
    p.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    add_catalog_options(p, models=True)
    p.add_argument("--horizons", metavar="MIN,...",
                   help="forecast horizons in minutes, multiples of the step (default: 3, 6 and 12 steps)")
    p.add_argument("--step", type=int, metavar="S",
                   help="grid step in seconds (default: the catalog's fastest cadence, at least 300)")
    p.add_argument("--max-rows", type=int, default=1_000_000, help="training rows sampled (default 1,000,000)")
    p.add_argument("--promote", action="store_true", help="promote the new versions")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    import time

    from vitals.errors import ConfigError
    from vitals.preflight import check_output_dir
    from vitals.registry import ModelRegistry
    from vitals.registry.locate import models_dir
    from vitals.training import default_trainers, from_history, from_simulation, train

    try:
        horizons = tuple(int(h) * 60 for h in args.horizons.split(",")) if args.horizons else None
    except ValueError as exc:
        msg = f"--horizons must be minutes separated by commas, e.g. 15,30,60; got {args.horizons!r}"
        raise ConfigError(msg) from exc
    began = time.perf_counter()
    settings = catalog_settings(args)
    catalog = load_catalog_from(settings)
    progress = not args.no_progress
    where = models_dir(settings.models_dir, settings.catalog)
    check_output_dir(where.path, "writing the trained models", "--models-dir")  # before the training, not after it
    if args.history:
        data = from_history(catalog, args.history, step_s=args.step)
    else:
        data = from_simulation(catalog, days=args.simulate_days, seed=args.seed, step_s=args.step, progress=progress)
    log.info("training for %s into %s", catalog.source, where.describe())
    registry = ModelRegistry(where.path)
    params: dict[str, Any] = {"max_rows": args.max_rows}
    if horizons:
        params["horizons_s"] = horizons
    results = train(data, catalog, registry, promote=args.promote, trainers=default_trainers(params),
                    progress=progress)
    out = sys.stdout
    start, end = data.iso_range()
    out.write(f"trained on {data.source}: {data.rows:,} readings, {data.grid.n_series:,} series, {start} .. {end}, "
              f"grid step {data.grid.step_s} s\n")
    for r in results:
        state = "promoted" if r.promoted else "not promoted (vitals models promote ...)"
        out.write(f"  {r.family} {r.version}: {r.artifact_bytes:,} bytes in {r.seconds:.1f}s, {state}\n")
        for key, value in r.metrics.items():
            out.write(f"    {key:<34} {value if not isinstance(value, float) else round(value, 4)}\n")
    summary = {
        "command": "train", "rows": data.rows, "series": data.grid.n_series,
        "seconds": round(time.perf_counter() - began, 2), "models_dir": str(registry.root),
        "models": [{"family": r.family, "version": r.version, "promoted": r.promoted, "bytes": r.artifact_bytes,
                    "seconds": round(r.seconds, 2), **r.metrics} for r in results],
    }
    out.write(json.dumps(summary) + "\n")
    return 0
