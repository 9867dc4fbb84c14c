"""`vitals checkup --history DIR --from D1 --to D2 --out checkup.html [--json [FILE]]`: the city check-up
(城市体检) of a period from the vitals history: warning levels, incidents, alerts, recovery, data quality,
recurring anomalies, the vulnerability ranking, trends against the previous period (docs/checkup.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vitals.catalog import Catalog

EPILOG = """\
examples:
  vitals checkup --history var/history --from 2026-03-02 --to 2026-03-08 --out checkup.html
  vitals checkup --history var/history --days 7 --out var/checkup/week.html --json var/checkup/week.json
  vitals checkup --history var/history --days 7 --json            # JSON on stdout

Dates are local days of the city (UTC+8 for the shipped catalog), both included; the previous period of equal
length ends the day before --from. Without --from/--to: the --days days up to yesterday. A weekly cron line:
  0 7 * * 1  cd /srv/city-vitals && .venv/bin/vitals checkup --history var/history --days 7 \\
             --out var/checkup/week-$(date +\\%G-W\\%V).html --json var/checkup/week-$(date +\\%G-W\\%V).json
"""


def register(sub: Any) -> None:
    p = sub.add_parser("checkup", help="city check-up (城市体检) and vulnerability ranking of a period",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--history", required=True, metavar="DIR",
                   help="the Parquet history (`--history-dir` of run/replay)")
    p.add_argument("--from", dest="start", type=date.fromisoformat, metavar="YYYY-MM-DD", help="first local day")
    p.add_argument("--to", dest="end", type=date.fromisoformat, metavar="YYYY-MM-DD", help="last local day (included)")
    p.add_argument("--days", type=int, default=7, help="period length without --from (default 7)")
    p.add_argument("--out", metavar="HTML", help="write the HTML report here")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the JSON document (stdout without FILE)")
    p.add_argument("--streets", type=int, help="streets of the catalog the history was written with")
    p.add_argument("--catalog", metavar="FILE", help="catalog file (default: the shipped model city)")
    p.add_argument("--top", type=int, default=20, help="streets in the ranking (default 20)")
    p.set_defaults(handler=_checkup)


def _period(args: argparse.Namespace, catalog: Catalog) -> tuple[date, date]:
    if args.start and args.end:
        return args.start, args.end
    if args.start:
        return args.start, args.start + timedelta(days=args.days - 1)
    from vitals.catalog.clock import local_text

    today = date.fromisoformat(local_text(catalog, time.time_ns())[:10])  # the city's today (daylight saving)
    end = args.end or today - timedelta(days=1)
    return end - timedelta(days=args.days - 1), end


def _checkup(args: argparse.Namespace) -> int:
    from vitals.catalog import load_catalog
    from vitals.checkup.report import write_checkup_report
    from vitals.checkup.run import checkup, totals
    from vitals.errors import ConfigError
    from vitals.memory_policy import apply_malloc_policy
    from vitals.preflight import check_output_file

    # the dense blocks of a long period are fresh pages at every allocation otherwise: a week of the model city,
    # 19 -> 12.5 s of system time, 61 -> 55 s
    apply_malloc_policy()
    for option in ("days", "top"):  # --days 0 said "--to D is before --from D+1"; --top -1 cut the last street
        if getattr(args, option) < 1:
            msg = f"--{option} must be >= 1, got {getattr(args, option)}"
            raise ConfigError(msg)
    for option, path, what in (("--out", args.out, "the report"), ("--json", args.json, "the JSON document")):
        if path and path != "-":
            check_output_file(path, what, option)
    catalog = load_catalog(args.catalog, streets_total=args.streets)
    start, end = _period(args, catalog)
    result = checkup(args.history, catalog, start, end)
    if args.out:
        write_checkup_report(Path(args.out), result, top_streets=args.top)
    doc = result.to_json(args.top)
    if args.json == "-":
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return 0
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    now = totals(result.current)
    top = ", ".join(f"{d['name_zh']} {d['score']:.0f}" for d in doc["districts"][:5])
    sys.stdout.write(f"check-up {start} to {end}: {now['incidents']} incidents ({now['incidents_orange']} orange or "
                     f"red), most vulnerable: {top}\n")
    if args.out:
        sys.stdout.write(f"report written to {args.out}\n")
    return 0
