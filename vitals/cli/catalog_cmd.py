"""`vitals catalog check|show`: validate a catalog file, or show the indicators and areas of one."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

EPILOG = """\
examples:
  vitals catalog check my_city.yaml       # every mistake, with entry and explanation, all at once
  vitals catalog show                     # the model city's indicators
  vitals catalog show --areas --streets 100
  vitals catalog show --format json > catalog.json
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "catalog", help="check or show an indicator catalog",
        description="The catalog is the single source of indicators, thresholds and areas.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    check = csub.add_parser("check", help="validate a catalog file and report every problem")
    check.add_argument("file", help="catalog YAML file")
    check.set_defaults(handler=_check)
    show = csub.add_parser("show", help="show indicators (default) or areas of a catalog")
    show.add_argument("--catalog", metavar="FILE", help="catalog file (default: the shipped model city)")
    show.add_argument("--areas", action="store_true", help="show districts and street counts")
    show.add_argument("--streets", type=int, metavar="N", help="generate N streets in all (default 1,031)")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=_show)


def _check(args: argparse.Namespace) -> int:
    from vitals.catalog import load_catalog

    c = load_catalog(args.file)
    sys.stdout.write(
        f"{args.file}: OK ({c.n_indicators} indicators in {len(c.domain_names)} domains, "
        f"{len(c.districts)} districts, {c.n_streets} streets, {c.n_series} series)\n"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from vitals.catalog import load_catalog

    c = load_catalog(args.catalog, streets_total=args.streets)
    if args.format == "json":
        indicators = [asdict(i) for i in c.indicators]
        for doc_i, ind in zip(indicators, c.indicators, strict=True):  # levels not set: null, not NaN
            doc_i["thresholds"] = dict(ind.thresholds.given())
        doc = {"indicators": indicators, "districts": [asdict(d) for d in c.districts],
               "streets": [asdict(s) for s in c.streets]}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        return 0
    out = sys.stdout
    if args.areas:
        counts: dict[str, int] = {}
        for s in c.streets:
            counts[s.district_id] = counts.get(s.district_id, 0) + 1
        out.write(f"{'district':<12} {'name':<14} {'lat':>6} {'lon':>7} {'streets':>7}\n")
        for d in c.districts:
            out.write(f"{d.id:<12} {d.name_zh:<14} {d.lat:>6.2f} {d.lon:>7.2f} {counts.get(d.id, 0):>7}\n")
        out.write(f"{len(c.districts)} districts, {c.n_streets} streets\n")
        return 0
    out.write(f"{'indicator':<26} {'domain':<10} {'unit':<12} {'cadence':>7} {'bad':<5} "
              f"{'blue':>8} {'yellow':>8} {'orange':>8} {'red':>8}  name\n")
    for i in c.indicators:
        levels = " ".join(f"{'-' if math.isnan(v) else format(v, 'g'):>8}" for v in i.thresholds.as_tuple())
        basis = " (z)" if i.basis == "zscore" else ""
        out.write(f"{i.id:<26} {i.domain:<10} {i.unit:<12} {i.cadence_s:>6}s {i.bad:<5} "
                  f"{levels}  {i.name_zh} / {i.name_en}{basis}\n")
    out.write(f"{c.n_indicators} indicators, {c.n_streets} streets, {c.n_series} series\n")
    return 0
