"""`vitals history info|check|export|prune|compact`: what a history directory holds, what is wrong with it, a slice
of it as one CSV or Parquet file, dropping its old days, merging its small files."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from
from vitals.errors import ConfigError

EPILOG = """\
examples:
  vitals history info var/history                      # days, files, rows, bytes and runs per kind
  vitals history info var/history --json
  vitals history check var/history                     # every unreadable or misplaced file, all at once
  vitals history check var/history --deep --quarantine var/history-bad   # decode all data; move bad files out
  vitals history export var/history --out week.csv --from 2025-06-02 --to 2025-06-08 --indicator water_pressure \
      --district yubei --names zh --excel            # a local week of one indicator in one district, for Excel
  vitals history export var/history --kind vitals --columns level,mean_1h,p95_1h --from 2025-06-02 --out day.parquet
  vitals history prune var/history --keep-days 90 --dry-run   # what would go: days before the newest 90
  vitals history prune var/history --keep-days 90
  vitals history prune var/history --before 2026-01-01        # every day before this UTC date
  vitals history compact var/history                   # merge the small files of every day but the newest two
  vitals history compact var/history --dry-run         # what it would merge

A day is a date=YYYY-MM-DD partition (UTC, by event time) of readings/ and vitals/; prune deletes whole days of
both. --keep-days counts back from the newest day in the history, not from today. compact merges each partition's
files of one run into one file (the same rows, in time order); run it on days no run is still writing (a run
resumed from its recovery directory rewrites its last files): by default all but the newest two days.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "history", help="what a history directory holds; what is wrong with it; export a slice; drop its old days; "
                        "merge its small files",
        description="Look after a Parquet history written with --history-dir (docs/history.md).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    info = _action(hsub, "info", "days, files, rows, bytes and runs per kind (readings, vitals)")
    info.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    info.set_defaults(handler=_info)
    chk = _action(
        hsub, "check", "every file a reader would refuse or misread, all at once; move them out",
        "Look at every file of a history and say what is wrong with each, in one pass: unreadable or "
        "corrupt Parquet, a wrong schema, rows of another day than the partition, files outside a "
        "partition, compaction journals and records, leftover temporary files, files that are not "
        "history (docs/history.md, \"Checking a history\"). Exit status: 0 no errors (warnings "
        "allowed), 1 errors found. Run it on days no run is writing.")
    chk.add_argument("--deep", action="store_true",
                     help="decode every row group (reads all the data) instead of footers and statistics only")
    chk.add_argument("--quarantine", metavar="QDIR",
                     help="move the files with errors to QDIR (outside the history), under the same relative "
                          "path, so the readers read the rest")
    _json_and_progress(chk, "one JSON document instead of lines")
    chk.set_defaults(handler=_check)
    ex = _action(
        hsub, "export", "a period, indicators, districts or streets of the history as one CSV or Parquet file",
        "Write a slice of the history (readings or vitals) to one CSV or Parquet file, in (indicator, "
        "area, time) order (docs/history.md, \"Exporting a slice\"). A CSV has the time in UTC and on "
        "the city's wall clock (local_time).")
    ex.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.parquet")
    ex.add_argument("--kind", choices=("readings", "vitals"), default="readings",
                    help="readings (the default) or vitals snapshots")
    ex.add_argument("--from", dest="start", metavar="DAY|TIME",
                    help="first local day (2025-06-02) or a time with a zone (2025-06-02T08:00+08:00)")
    ex.add_argument("--to", dest="end", metavar="DAY|TIME",
                    help="last local day (included) or a time with a zone (excluded)")
    ex.add_argument("--indicator", metavar="IDS", help="comma-separated indicator ids (default: all)")
    ex.add_argument("--district", metavar="IDS", help="comma-separated district ids (default: all)")
    ex.add_argument("--street", metavar="IDS", help="comma-separated street ids (default: all)")
    ex.add_argument("--columns", metavar="COLS", help="vitals: the value columns to keep, comma-separated "
                                                      "(default: all)")
    ex.add_argument("--names", choices=("zh", "en"), help="CSV: add indicator, district and street names")
    ex.add_argument("--excel", action="store_true",
                    help="CSV: start with a UTF-8 byte order mark, so Excel reads Chinese names right")
    add_catalog_options(ex)
    _json_and_progress(ex, "say what was written as one JSON document")
    ex.set_defaults(handler=_export)
    prune = _action(hsub, "prune", "delete whole days before a cutoff (readings and vitals)")
    which = prune.add_mutually_exclusive_group(required=True)
    which.add_argument("--keep-days", type=int, metavar="N", help="keep the newest N days of the history")
    which.add_argument("--before", metavar="YYYY-MM-DD", help="delete every day before this UTC date")
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    prune.set_defaults(handler=_prune)
    compact = _action(
        hsub, "compact", "merge each partition's files of one run into one file (days no run is writing)",
        "Merge the small files the flow writes (~2,000 a day for the model city) into one file per "
        "partition and run: the same rows, in time order, fewer files to open (docs/history.md, "
        "\"Compaction\").")
    days = compact.add_mutually_exclusive_group()
    days.add_argument("--keep-days", type=int, metavar="N",
                      help="leave the newest N days as they are (default 2: a run may still be writing them)")
    days.add_argument("--before", metavar="YYYY-MM-DD", help="compact every day before this UTC date")
    compact.add_argument("--dry-run", action="store_true", help="say what would be merged, change nothing")
    _json_and_progress(compact, "one JSON document instead of a line")
    compact.set_defaults(handler=_compact)


def _action(hsub: Any, name: str, summary: str, description: str | None = None) -> argparse.ArgumentParser:
    """A ``vitals history`` action: its parser, with the history directory as its first argument."""
    parser: argparse.ArgumentParser = hsub.add_parser(name, help=summary, description=description)
    parser.add_argument("dir", metavar="DIR", help="the history directory (--history-dir of a run)")
    return parser


def _json_and_progress(parser: argparse.ArgumentParser, json_help: str) -> None:
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _info(args: argparse.Namespace) -> int:
    from vitals.history_admin import COMPACT_KEEP_DAYS, summarize

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
    newest = sorted({d for k in kinds for d in k.days})[-COMPACT_KEEP_DAYS:]
    mergeable = sum(n for k in kinds for day, n in k.mergeable.items() if day not in newest)
    if mergeable:
        sys.stdout.write(f"{mergeable:,} files of days before the newest {COMPACT_KEEP_DAYS} can be merged: "
                         f"vitals history compact {args.dir}\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vitals.history_check import check

    result = check(args.dir, deep=args.deep, quarantine=args.quarantine,
                   progress=not args.no_progress and sys.stderr.isatty())
    if args.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
        return 1 if result.errors else 0
    for p in result.problems:
        sys.stdout.write(f"{p.severity}: {p.path}: {p.problem}: {p.detail}\n")
    how = "decoded" if result.deep else "footers and statistics read"
    sys.stdout.write(f"{result.files:,} Parquet files ({result.rows:,} rows, {_mb(result.bytes)}) {how}: "
                     f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)\n")
    if result.moved:
        sys.stdout.write(f"moved {len(result.moved)} file(s) to {result.quarantine}; the readers read the rest\n")
    elif result.errors:
        sys.stdout.write(f"move them out with: vitals history check {args.dir} --quarantine DIR\n")
    return 1 if result.errors else 0


def _export(args: argparse.Namespace) -> int:
    from vitals.catalog.ids import check_ids, split_ids
    from vitals.history import final_vitals_format
    from vitals.history_export import export, period_of
    from vitals.preflight import check_output_file

    check_output_file(args.out, "the export", "--out")
    catalog = load_catalog_from(catalog_settings(args))
    csv = final_vitals_format(args.out, option="--out") == "csv"
    if args.names and not csv:
        msg = "--names adds columns to a CSV export; a Parquet export keeps the ids (name the file FILE.csv)"
        raise ConfigError(msg)
    if args.excel and not csv:
        msg = "--excel is for a CSV export (name the file FILE.csv)"
        raise ConfigError(msg)
    if args.columns and args.kind != "vitals":
        msg = "--columns chooses among the vitals columns; give --kind vitals (readings have ts, ids and value)"
        raise ConfigError(msg)
    result = export(args.dir, args.out, catalog, kind=args.kind, period=period_of(catalog, args.start, args.end),
                    indicators=check_ids(catalog, "indicator", split_ids(args.indicator)),
                    districts=check_ids(catalog, "district", split_ids(args.district)),
                    streets=check_ids(catalog, "street", split_ids(args.street)), columns=split_ids(args.columns),
                    names=args.names, excel=args.excel, progress=not args.no_progress and sys.stderr.isatty())
    if args.json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
        return 0
    held = f"the history holds {result.history_days[0]} .. {result.history_days[1]} (UTC days)" \
        if result.history_days else "the history holds none"
    span = f", {result.first} .. {result.last} (UTC)" if result.rows else f" (no row matched; {held})"
    sys.stdout.write(f"wrote {result.rows:,} {args.kind} rows of {result.series:,} series to {result.path}{span}; "
                     f"{result.files_read:,} files read\n")
    return 0


def _before(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"--before must be a date YYYY-MM-DD, got {text!r}"
        raise ConfigError(msg) from None


def _prune(args: argparse.Namespace) -> int:
    from vitals.history_admin import prune

    result = prune(args.dir, before=_before(args.before), keep_days=args.keep_days, dry_run=args.dry_run)
    days = sorted({d for per_kind in result.days.values() for d in per_kind})
    verb = "would delete" if result.dry_run else "deleted"
    span = f"{days[0]} .. {days[-1]}" if days else "none"
    sys.stdout.write(f"{verb} {len(days)} day(s) before {result.cutoff} ({span}): {result.files:,} files, "
                     f"{_mb(result.bytes)}\n")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from vitals.history_compact import DEFAULT_KEEP_DAYS, compact

    result = compact(args.dir, before=_before(args.before), keep_days=args.keep_days, dry_run=args.dry_run,
                     progress=not args.no_progress and sys.stderr.isatty())
    if args.json:
        sys.stdout.write(json.dumps({"dir": args.dir, **result.as_dict()}, indent=2) + "\n")
        return 0
    if result.finished_journals:
        sys.stdout.write(f"finished {result.finished_journals} interrupted compaction(s)\n")
    if not result.days:
        keep = DEFAULT_KEEP_DAYS if args.keep_days is None else args.keep_days
        which = f"before {args.before}" if args.before else f"before the newest {keep} (--keep-days)"
        sys.stdout.write(f"nothing to compact: the history has no day {which}\n")
        return 0
    span = f"{len(result.days)} day(s), {result.days[0]} .. {result.days[-1]}"
    if not result.merges:
        sys.stdout.write(f"nothing to merge in {span}: each partition holds one file per run\n")
    elif result.dry_run:
        sys.stdout.write(f"would merge {result.files_before:,} files ({_mb(result.bytes_before)}, "
                         f"{result.rows:,} rows) into {result.files_after:,}; {span}\n")
    else:
        sys.stdout.write(f"merged {result.files_before:,} files ({_mb(result.bytes_before)}) into "
                         f"{result.files_after:,} ({_mb(result.bytes_after)}), {result.rows:,} rows; {span}\n")
    return 0
