"""`vitals backtest --nab DIR --out RESULTS [--detector NAME]`: run a registered detector (the default one unless
named) causally over a NAB-layout directory, write one score per input row, print the NAB score table and end
with one line of JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from
from vitals.detectors.registry import DETECTORS

EPILOG = """\
examples:
  vitals backtest --nab ../shared/data/nab --out results/nab
  vitals backtest --nab ../shared/data/nab --out results/nab --profile reward_low_FP_rate --report report.html
  vitals backtest --nab ../shared/data/nab --out results/knn --detector knn_cad
  vitals simulate --days 14 --streets 38 --seed 11 --out city.parquet --labels labels.json --incidents truth.json
  vitals backtest --history city.parquet --labels labels.json --incidents truth.json --report city.html
  vitals backtest --catalog my_city.yaml --history var/history --labels my_labels.json   # models/ next to it

With --history the streets and series measured are those the history has readings of (false alarms are per
indicator and district with data); an indicator or area the catalog does not know is an error.

Outputs RESULTS/<category>/<file>.csv (timestamp,value,anomaly_score in [0, 1],label: 1 inside a labelled
window), one row per input row in input order, and RESULTS/summary.csv (per file: rows, windows,
detected_windows and false_positives at the --profile threshold, score_<profile> for every profile). The
last line of output is JSON with the scores of every profile and the event metrics. Progress bars go to
stderr on a terminal.
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backtest", help="score a detector on labelled data (NAB windows format)",
        description="Runs the default detector configuration (or, with --nab, any registered detector) causally "
                    "and scores it the NAB way.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--nab", metavar="DIR", help="directory with data/<category>/*.csv and labels/")
    p.add_argument("--out", metavar="RESULTS", help="where to write the per-file score CSVs (with --nab)")
    names = DETECTORS.names()
    p.add_argument("--detector", choices=names, metavar="NAME",
                   help=f"registered detector to run with --nab: {', '.join(names)} (default: default)")
    p.add_argument("--history", metavar="DIR", help="city backtest: a Parquet history (ts, indicator, area, value) "
                   "run causally through the flow's shard code with the promoted forecaster")
    p.add_argument("--labels", metavar="LABELS.json", help="incident windows (NAB windows format, as written by "
                   "`vitals simulate --labels`) for --history")
    p.add_argument("--incidents", metavar="TRUTH.json", help="optional simulator truth (`vitals simulate "
                   "--incidents`): orange crossing times; without it the first orange level inside a window is used")
    p.add_argument("--planned-works", metavar="FILE", help="with --history: the detector does not learn from these "
                   "works' readings, as in the flow (docs/alerting.md, \"Planned works\")")
    add_catalog_options(p, models=True)
    p.add_argument("--profile", default="standard", choices=("standard", "reward_low_FP_rate", "reward_low_FN_rate"),
                   help="profile whose threshold is used for event metrics and the report (default standard)")
    p.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report")
    p.set_defaults(handler=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    city = [flag for flag, given in (("--history", args.history), ("--labels", args.labels),
                                     ("--incidents", args.incidents), ("--planned-works", args.planned_works))
            if given]
    nab = [flag for flag, given in (("--nab", args.nab), ("--out", args.out), ("--detector", args.detector)) if given]
    if city and nab:  # before, the city backtest ran and --nab, --out, --detector were ignored without a word
        sys.stderr.write(f"vitals backtest: {', '.join(nab)} {'belongs' if len(nab) == 1 else 'belong'} to the NAB "
                         f"backtest and {', '.join(city)} to the "
                         "city backtest: give the options of one\n")
        return 2
    if city:
        return _city_backtest(args)
    args.detector = args.detector or "default"
    if not args.nab or not args.out:
        sys.stderr.write("vitals backtest: give --nab DIR --out RESULTS, or --history DIR --labels LABELS.json\n")
        return 2
    from tqdm import tqdm

    from vitals.preflight import check_output_dir

    check_output_dir(args.out, "the NAB scoring", "--out")  # before the run, not a traceback after it
    if args.report:
        from vitals.preflight import check_output_file

        check_output_file(args.report, "the report", "--report")
    from vitals.backtest.nab_run import (
        build_detector,
        events_at,
        load_nab,
        run_detector,
        score_files,
        score_table,
        summary,
        write_results,
        write_summary,
    )

    started = time.perf_counter()
    files = load_nab(Path(args.nab))
    with tqdm(total=sum(len(f.values) for f in files), desc="detect", unit="reading", disable=None) as bar:
        ticking: Any = _Ticking(build_detector(args.detector, files), bar)
        run_detector(files, ticking, keep_state=bool(args.report))
    write_results(files, Path(args.out))
    results = score_files(files)
    write_summary(files, results, Path(args.out), args.profile)
    events = events_at(files, results[args.profile].threshold)
    doc = summary(results, events, len(files), sum(len(f.values) for f in files))
    doc["detector"] = args.detector
    doc["seconds"] = round(time.perf_counter() - started, 2)
    out = sys.stdout
    out.write(score_table(results) + "\n")
    out.write(f"events at the {args.profile} threshold: recall {events.recall:.3f} ({events.detected_windows}/"
              f"{events.windows} windows), precision {events.precision:.3f} ({events.true_detections}/"
              f"{events.detections} detections)\n")
    if args.report:
        from vitals.backtest.report import write_report

        write_report(Path(args.report), files, results, doc, args.profile, progress=None)
        out.write(f"report written to {args.report}\n")
    out.write(json.dumps(doc) + "\n")
    return 0


class _Ticking:
    """``detector`` (every attribute passed through), with each ``update_score`` call advancing ``bar`` by the
    readings it scored (however ``run_detector`` batches them)."""

    def __init__(self, detector: Any, bar: Any) -> None:
        self._detector = detector
        self._bar = bar

    def update_score(self, series: Any, ts_ns: Any, values: Any) -> Any:
        out = self._detector.update_score(series, ts_ns, values)
        self._bar.update(len(out))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._detector, name)


# peak RSS of `vitals backtest --history` on the full city (2026-12-04), the history read a part at a time, the
# timeline filled in place, the alarm rules a block of series at a time: 0.91 GB for 1 day, 1.19 GB for 2 days:
# ~7 bytes a series and minute (the timeline) above ~0.65 GB; refused after the scan, before the replay, when it
# would not fit (a month of the full city: ~9 GB)
CITY_BACKTEST_BYTES_PER_CELL = 7
CITY_BACKTEST_FIXED_BYTES = 0.65e9


def _city_backtest(args: argparse.Namespace) -> int:
    from vitals.backtest.city import (
        catalog_for_history,
        load_label_events,
        measure,
        run_city,
        stream_history,
    )
    from vitals.cli.train_cmd import check_training_memory
    from vitals.registry.locate import models_dir

    if not args.history or not args.labels:
        sys.stderr.write("vitals backtest: --history DIR and --labels LABELS.json go together\n")
        return 2
    if args.report:  # before the run, not a traceback after it
        from vitals.preflight import check_output_file

        check_output_file(args.report, "the report", "--report")
    started = time.perf_counter()
    settings = catalog_settings(args)
    full = load_catalog_from(settings)
    history = stream_history(args.history)  # scanned once (bounded memory), replayed a part at a time
    catalog = catalog_for_history(full, history)
    series, minutes = history.series(catalog), history.minutes()
    check_training_memory(series.size * minutes, f"--history {args.history}: {series.size:,} series x {minutes:,} "
                          "minutes, ",
                          lambda fit: f"backtest a part of it (~{fit / max(series.size, 1) / 1440:,.1f} days fit), "
                                      "e.g. a directory of links to some of its date=... partitions",
                          per_reading=CITY_BACKTEST_BYTES_PER_CELL, fixed=CITY_BACKTEST_FIXED_BYTES,
                          items="series-minutes", purpose="the backtest")
    events = load_label_events(catalog, args.labels, args.incidents, full=full)
    planned = None
    if args.planned_works:
        from vitals.planned_works import load_planned_works

        planned = load_planned_works(args.planned_works, catalog, ids_of=full)
    where = models_dir(settings.models_dir, settings.catalog, must_exist=True)
    timeline = run_city(catalog, history.batches(catalog), models_dir=where.path, progress=sys.stderr.isatty(),
                        total=minutes, series=series, detail=bool(args.report), planned=planned)
    doc = measure(timeline, events, catalog)
    doc["seconds"] = round(time.perf_counter() - started, 2)
    out = sys.stdout
    for kind in ("warning", "level", "early", "anomaly"):
        out.write(f"{kind:8s} recall {doc[f'recall_{kind}']}  false alarms per indicator per district per day "
                  f"{doc[f'false_alarms_{kind}_per_indicator_district_day']}\n")
    out.write(f"early-warning lead time: median {doc['lead_time_median_s']} s per slow-onset event, "
              f"{doc['incident_lead_time_median_s']} s per incident\n")
    if args.report:
        from vitals.backtest.city_report import write_city_report

        write_city_report(Path(args.report), timeline, events, doc, catalog, progress=sys.stderr.isatty())
        out.write(f"report written to {args.report}\n")
    out.write(json.dumps(doc) + "\n")
    return 0
