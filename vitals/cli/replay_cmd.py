"""`vitals replay`: replay a file or a directory of readings through the pipeline."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vitals.cli.options import add_dry_run, add_pipeline_options, dry_run, settings_from_args
from vitals.cli.summary import finish_run
from vitals.memory_policy import apply_malloc_policy

EPILOG = """\
examples:
  vitals replay var/day.parquet                      # as fast as possible (default here, unless --config sets a speed)
  vitals replay var/readings/ --speed 60             # a drill: one hour of event time per minute
  vitals replay var/day.parquet --speed 60 --pace-from 2025-06-02T08:00+08:00   # the night at once, the morning
                                                     # at 60x (detectors and windows warmed up on the night)
  vitals replay var/day.jsonl --history-dir var/history --recovery-dir var/recovery
  vitals replay var/day.csv --metrics-port 0         # no /metrics server, just history and dead letters
  vitals replay var/day.parquet --final-vitals var/final.parquet   # every series' vitals at the end
  vitals replay var/parts/ -w 2 --partitions 4       # two worker threads (files are dealt to 4 partitions)
  vitals replay stations/ --catalog my_city.yaml     # your city; one file per station is fine (each file keeps
                                                     # its own watermark); models from models/ next to the catalog

Readings files: .jsonl/.ndjson/.json (JSON lines), .csv (ts,indicator,area,sensor,value) or .parquet.
A file that cannot be read (corrupt, not readings, no CSV header) is skipped as one dead letter saying why, the
other files are replayed, and the exit status is 1 (0 when every file was read).
Rejected readings go to the dead letters (at most --dead-letters-max lines; counters stay exact); gaps (empty,
NA, NaN as text) are counted as missing.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "replay", help="replay readings files (drills, post-incident review)",
        description="Replay a file or a directory of readings through the pipeline, as fast as possible or "
                    "paced by event time.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", help="a readings file or a directory of them")
    p.add_argument("--speed", type=float, metavar="X",
                   help="event seconds per wall second (default: the speed setting of --config or VITALS_SPEED, "
                        "else 0 = as fast as possible)")
    p.add_argument("--pace-from", metavar="TIME",
                   help="with --speed: as fast as possible until this event time (ISO 8601 with a zone, e.g. "
                        "2025-06-02T08:00+08:00), paced from there (the state warms up on the hours before)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (shown when --speed is 0)")
    add_dry_run(p)
    add_pipeline_options(p, config=True)
    # speed 0 below --config and the environment: settings_from_args reads it from the parsed arguments, so any
    # caller of this parser gets it (not only _replay)
    p.set_defaults(handler=_replay, setting_defaults={"speed": 0.0})


def _replay(args: argparse.Namespace) -> int:
    apply_malloc_policy()
    runner = args.runner()
    settings = settings_from_args(args, source="file", path=args.path)
    if args.dry_run:
        sys.stdout.write(dry_run(runner, settings, final_vitals=args.final_vitals) + "\n")
        return 0
    summary = runner.run_pipeline(settings, progress=not args.no_progress, final_vitals=args.final_vitals)
    return finish_run("replay", summary, settings)
