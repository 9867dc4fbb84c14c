"""`vitals backtest --nab DIR --out RESULTS`: run the default detector causally over a NAB-layout directory,
write one score per input row, print the NAB score table and end with one line of JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  vitals backtest --nab ../shared/data/nab --out results/nab
  vitals backtest --nab ../shared/data/nab --out results/nab --profile reward_low_FP_rate --report report.html

Outputs RESULTS/<category>/<file>.csv (timestamp,value,anomaly_score in [0, 1]), one row per input row in
input order. The last line of output is JSON with the scores of every profile and the event metrics.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backtest", help="score the default detector on labelled data (NAB windows format)",
        description="Runs the default detector configuration causally and scores it the NAB way.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--nab", metavar="DIR", required=True, help="directory with data/<category>/*.csv and labels/")
    p.add_argument("--out", metavar="RESULTS", required=True, help="where to write the per-file score CSVs")
    p.add_argument("--profile", default="standard", choices=("standard", "reward_low_FP_rate", "reward_low_FN_rate"),
                   help="profile whose threshold is used for event metrics and the report (default standard)")
    p.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report")
    p.set_defaults(handler=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    from vitals.backtest.nab_run import (
        events_at,
        load_nab,
        run_detector,
        score_files,
        score_table,
        summary,
        write_results,
    )

    started = time.perf_counter()
    files = load_nab(Path(args.nab))
    run_detector(files, keep_state=bool(args.report))
    write_results(files, Path(args.out))
    results = score_files(files)
    events = events_at(files, results[args.profile].threshold)
    doc = summary(results, events, len(files), sum(len(f.values) for f in files))
    doc["seconds"] = round(time.perf_counter() - started, 2)
    out = sys.stdout
    out.write(score_table(results) + "\n")
    out.write(f"events at the {args.profile} threshold: recall {events.recall:.3f} ({events.detected_windows}/"
              f"{events.windows} windows), precision {events.precision:.3f} ({events.true_detections}/"
              f"{events.detections} detections)\n")
    if args.report:
        from vitals.backtest.report import write_report

        write_report(Path(args.report), files, results, doc, args.profile)
        out.write(f"report written to {args.report}\n")
    out.write(json.dumps(doc) + "\n")
    return 0
