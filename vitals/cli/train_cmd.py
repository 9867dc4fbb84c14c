"""`vitals train`: train the model families on history or a simulated city and register new versions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from
from vitals.errors import ConfigError

if TYPE_CHECKING:
    from vitals.catalog import Catalog

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
                     help="Parquet history directory (columns ts, indicator, area, value); read in batches, so a month "
                          "of the full city trains in ~6 GB")
    src.add_argument("--simulate-days", type=float, metavar="N", help="simulate the city for N days and train on it")
    p.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    add_catalog_options(p, models=True)
    p.add_argument("--horizons", metavar="MIN,...",
                   help="forecast horizons in minutes, multiples of the step (default: 3, 6 and 12 steps)")
    p.add_argument("--step", type=int, metavar="S",
                   help="grid step in seconds (default: the catalog's fastest cadence, at least 300)")
    p.add_argument("--max-rows", type=int, default=1_000_000, help="training rows sampled (default 1,000,000)")
    p.add_argument("--promote", action="store_true", help="promote the new versions")
    p.add_argument("--planned-works", metavar="FILE",
                   help="with --history: leave the readings of these planned works out, as the flow leaves them out "
                        "of the detector (docs/alerting.md, \"Planned works\")")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_train)


def check_step(step: int | None, catalog: Catalog) -> int:
    """The grid step (``--step``, else the catalog's), at least one second."""
    from vitals.forecasting.cadence import catalog_step_s

    if step is None:
        return catalog_step_s(catalog)
    if step < 1:
        msg = f"--step {step}: the grid step is a whole number of seconds >= 1 (default: the catalog's fastest cadence)"
        raise ConfigError(msg)
    return int(step)


def parse_horizons(text: str | None, step_s: int) -> tuple[int, ...] | None:
    """``--horizons`` (minutes, comma separated) as seconds: increasing positive multiples of the grid step."""
    if not text:
        return None
    example = ",".join(f"{k * step_s / 60:g}" for k in (3, 6, 12))
    try:
        minutes = [float(h) for h in text.split(",")]
    except ValueError:
        msg = f"--horizons must be minutes separated by commas, e.g. {example}; got {text!r}"
        raise ConfigError(msg) from None
    seconds = [m * 60 for m in minutes]
    if any(s <= 0 or s != int(s) or int(s) % step_s for s in seconds) or sorted(set(seconds)) != seconds:
        msg = (f"--horizons {text}: each horizon must be a positive multiple of the grid step ({step_s} s = "
               f"{step_s / 60:g} min), in increasing order, e.g. {example}")
        raise ConfigError(msg)
    return tuple(int(s) for s in seconds)


# peak memory of `vitals train --simulate-days`, measured on the full city: 1.2 GB for 0.25 d, 1.8 GB for 1 d
TRAINING_BYTES_PER_READING = 64
TRAINING_FIXED_BYTES = 1.2e9
# peak RSS of `vitals train --history` on the full city's history (2026-12-04), read in batches: the grid while it
# is filled (12 bytes a series and step: its values and their event times) above what the training needs at most
# (its backtests hold out at most 3 days, the window model samples its windows)
HISTORY_GRID_BYTES_PER_CELL = 12
HISTORY_TRAINING_FIXED_BYTES = 4.0e9


def check_simulation(catalog: Catalog, days: float, step_s: int) -> None:
    """Refuse, in one line and before simulating, ``--simulate-days`` that cannot run: not positive, ending after
    2262 (nanosecond times), or holding more readings in memory than the machine has available (the simulated
    readings are all kept in memory for the training: ~64 bytes a reading; ``--simulate-days 365`` of the full
    city would need ~280 GB)."""
    from vitals.cli.simulate_cmd import LAST_NS_TIME, ends_too_late, readings_per_hour
    from vitals.simulator.config import SimulatorConfig

    if not days > 0:
        msg = f"--simulate-days {days:g}: simulate a positive number of days"
        raise ConfigError(msg)
    config = SimulatorConfig(step_s=step_s)
    if ends_too_late(config.start, days * 24):
        msg = (f"--simulate-days {days:g}: the simulation would end after {LAST_NS_TIME:%Y-%m-%d} (readings carry "
               "nanosecond times); simulate fewer days")
        raise ConfigError(msg)
    per_day = readings_per_hour(catalog, config) * 24
    check_training_memory(per_day * days, f"--simulate-days {days:g}: ~",
                          lambda fit: f"simulate fewer days (~{fit / max(per_day, 1):,.1f} fit) or train on a "
                                      "history (--history DIR)")


def check_training_memory(readings: float, what: str, advice: Callable[[float], str], *,
                          per_reading: float = TRAINING_BYTES_PER_READING,
                          fixed: float = TRAINING_FIXED_BYTES, items: str = "readings",
                          purpose: str = "the training") -> None:
    """Refuse a run (``purpose``) whose ``readings`` (all held in memory, ``per_reading`` bytes each above
    ``fixed``; or other ``items``: a grid's cells) would not fit in the memory available; ``advice`` says what to
    do, given how many would fit."""
    need = readings * per_reading + fixed
    free = available_memory()
    if free is not None and need > free:
        fit = max((free - fixed) / per_reading, 0)
        msg = (f"{what}{readings:,.0f} {items}, held in memory for {purpose}, need ~{need / 1e9:,.1f} GB, more "
               f"than the {free / 1e9:,.1f} GB available; {advice(fit)}")
        raise ConfigError(msg)


def history_grid_check(history: str, step_s: int) -> Callable[[int, int], None]:
    """The memory check of ``--history``, run when its first pass has found the grid's size (``from_history``'s
    ``check_grid``): the grid's cells, not the readings, are what the training holds."""
    def check(series: int, steps: int) -> None:
        check_training_memory(
            series * steps, f"--history {history}: a grid of {series:,} series x {steps:,} steps of {step_s} s, ",
            lambda fit: f"train on a part of it (~{fit / max(series, 1) * step_s / 86_400:,.1f} days fit), e.g. a "
                        "directory of links to some of its date=... partitions",
            per_reading=HISTORY_GRID_BYTES_PER_CELL, fixed=HISTORY_TRAINING_FIXED_BYTES, items="cells")
    return check


def available_memory() -> float | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _train(args: argparse.Namespace) -> int:
    import time

    from vitals.preflight import check_output_dir
    from vitals.registry import ModelRegistry
    from vitals.registry.locate import models_dir
    from vitals.training import default_trainers, from_history, from_simulation, train

    began = time.perf_counter()
    settings = catalog_settings(args)
    catalog = load_catalog_from(settings)
    # every argument is checked before the data is simulated or read, which can take minutes
    if args.max_rows < 1:
        msg = f"--max-rows {args.max_rows}: the training samples at least one row (default 1,000,000)"
        raise ConfigError(msg)
    step_s = check_step(args.step, catalog)
    horizons = parse_horizons(args.horizons, step_s)
    if args.simulate_days is not None:
        check_simulation(catalog, args.simulate_days, step_s)
    planned = None
    if args.planned_works:
        if not args.history:
            msg = "--planned-works leaves readings of a stored history out; give --history DIR"
            raise ConfigError(msg)
        from vitals.planned_works import load_planned_works

        planned = load_planned_works(args.planned_works, catalog)
    progress = not args.no_progress
    where = models_dir(settings.models_dir, settings.catalog)
    check_output_dir(where.path, "writing the trained models", "--models-dir")  # before the training, not after it
    if args.history:
        data = from_history(catalog, args.history, step_s=step_s, progress=progress,
                            check_grid=history_grid_check(args.history, step_s), planned=planned,
                            planned_source=args.planned_works or "")
    else:
        data = from_simulation(catalog, days=args.simulate_days, seed=args.seed, step_s=step_s, progress=progress)
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
