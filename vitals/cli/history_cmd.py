"""`vitals history info|prune`: what a history directory holds, and dropping its old days."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from vitals.errors import ConfigError

EPILOG = """\
examples:
  vitals history info var/history                      # days, files, rows, bytes and runs per kind
  vitals history info var/history --json
  vitals history prune var/history --keep-days 90 --dry-run   # what would go: days before the newest 90
  vitals history prune var/history --keep-days 90
  vitals history prune var/history --before 2026-01-01        # every day before this UTC date

A day is a date=YYYY-MM-DD partition (UTC, by event time) of readings/ and vitals/; prune deletes whole days of
both. --keep-days counts back from the newest day in the history, not from today.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history", help="what a history directory holds; drop its old days",
        description="Look after a Parquet history written with --history-dir (docs/history.md).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    info = hsub.add_parser("info", help="days, files, rows, bytes and runs per kind (readings, vitals)")
    info.add_argument("dir", metavar="DIR", help="the history directory (--history-dir of a run)")
    info.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    info.set_defaults(handler=_info)
    prune = hsub.add_parser("prune", help="delete whole days before a cutoff (readings and vitals)")
    prune.add_argument("dir", metavar="DIR", help="the history directory (--history-dir of a run)")
    which = prune.add_mutually_exclusive_group(required=True)
    which.add_argument("--keep-days", type=int, metavar="N", help="keep the newest N days of the history")
    which.add_argument("--before", metavar="YYYY-MM-DD", help="delete every day before this UTC date")
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    prune.set_defaults(handler=_prune)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _info(args: argparse.Namespace) -> int:
    from vitals.history_admin import summarize

    kinds = summarize(args.dir)
    if args.json:
        sys.stdout.write(json.dumps({"dir": args.dir, "kinds": [k.as_dict() for k in kinds]}, indent=2) + "\n")
        return 0
    sys.stdout.write(f"{'kind':<9} {'days':>5} {'first':>10} {'last':>10} {'files':>8} {'rows':>13} "
                     f"{'size':>12} {'runs':>5}\n")
    for k in kinds:
        d = k.as_dict()
        sys.stdout.write(f"{k.kind:<9} {len(k.days):>5} {d['first_day'] or '-':>10} {d['last_day'] or '-':>10} "
                         f"{k.files:>8,} {k.rows:>13,} {_mb(k.bytes):>12} {len(k.runs):>5}\n")
        if k.snapshot_interval_s is not None:
            sys.stdout.write(f"vitals snapshots every {k.snapshot_interval_s / 60:g} min (on {k.days[-1]})\n")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from vitals.history_admin import prune

    before = None
    if args.before is not None:
        try:
            before = date.fromisoformat(args.before)
        except ValueError:
            msg = f"--before must be a date YYYY-MM-DD, got {args.before!r}"
            raise ConfigError(msg) from None
    result = prune(args.dir, before=before, keep_days=args.keep_days, dry_run=args.dry_run)
    days = sorted({d for per_kind in result.days.values() for d in per_kind})
    verb = "would delete" if result.dry_run else "deleted"
    span = f"{days[0]} .. {days[-1]}" if days else "none"
    sys.stdout.write(f"{verb} {len(days)} day(s) before {result.cutoff} ({span}): {result.files:,} files, "
                     f"{_mb(result.bytes)}\n")
    return 0
