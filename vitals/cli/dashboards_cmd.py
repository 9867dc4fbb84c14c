"""`vitals dashboards build|check|show|deploy`: Grafana dashboards and provisioning generated from the catalog."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from

DEFAULT_OUT = "dashboards/grafana"
EPILOG = """\
examples:
  vitals dashboards build                          # regenerate dashboards/grafana from the shipped catalog
  vitals dashboards build --catalog my_city.yaml --out /srv/grafana --prometheus-url http://10.0.0.5:9090
  vitals dashboards check                          # exit 1 when dashboards/grafana is not what build makes
  vitals dashboards show --queries                 # every panel's PromQL, one per line
  GRAFANA_TOKEN=glsa_... vitals dashboards deploy --url http://grafana:3000

The wall: open http://grafana:3000/d/city-wall?kiosk on the operations-center screen (docs/dashboards.md).
"""


def _common(p: argparse.ArgumentParser) -> None:
    add_catalog_options(p)
    p.add_argument("--prometheus-url", default="http://prometheus:9090", metavar="URL",
                   help="Prometheus as Grafana reaches it (default: %(default)s)")
    p.add_argument("--dashboards-path", default="/var/lib/grafana/dashboards/city-vitals", metavar="PATH",
                   help="where Grafana reads the dashboard files, for the provider file (default: %(default)s)")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "dashboards", help="build, check, show or deploy the Grafana dashboards",
        description="Grafana dashboards as code: the city wall, district drill-down, indicator detail and "
                    "pipeline health, with provisioning files (datasource uid vitals-prometheus).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = p.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    build = dsub.add_parser("build", help="write dashboards and provisioning files")
    _common(build)
    build.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="output directory (default: %(default)s)")
    build.set_defaults(handler=_build)
    check = dsub.add_parser("check", help="fail when the files under --out differ from a fresh build")
    _common(check)
    check.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help="directory to check (default: %(default)s)")
    check.set_defaults(handler=_check)
    show = dsub.add_parser("show", help="list dashboards and panel counts, or every panel query")
    _common(show)
    show.add_argument("--queries", action="store_true", help="print uid, panel title and PromQL, tab-separated")
    show.set_defaults(handler=_show)
    deploy = dsub.add_parser("deploy", help="push folders, datasource and dashboards to a running Grafana")
    _common(deploy)
    deploy.add_argument("--url", required=True, help="Grafana base URL, e.g. http://grafana:3000")
    deploy.add_argument("--token-env", default="GRAFANA_TOKEN", metavar="NAME",
                        help="environment variable holding a service-account token (default: %(default)s)")
    deploy.set_defaults(handler=_deploy)


def _bundle(args: argparse.Namespace) -> Any:
    from vitals.grafana import GrafanaOptions, build_bundle
    from vitals.preflight import check_http_url

    prometheus = check_http_url(args.prometheus_url, "--prometheus-url", "http://127.0.0.1:9090")
    options = GrafanaOptions(prometheus_url=prometheus,
                             dashboards_path=args.dashboards_path)
    return build_bundle(load_catalog_from(catalog_settings(args)), options)


def _build(args: argparse.Namespace) -> int:
    from vitals.grafana import iter_panels, write_bundle
    from vitals.preflight import check_output_dir

    check_output_dir(args.out, "writing the dashboards", "--out")
    bundle = _bundle(args)
    written = write_bundle(bundle, Path(args.out))
    panels = sum(1 for d in bundle.dashboards for pnl in iter_panels(d) if pnl["type"] != "row")
    sys.stdout.write(f"wrote {len(written)} files under {args.out}: {len(bundle.dashboards)} dashboards, "
                     f"{panels} panels\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vitals.grafana import differences

    problems = differences(_bundle(args), Path(args.out))
    for line in problems:
        sys.stdout.write(f"{line}\n")
    if problems:
        sys.stdout.write(f"{args.out} is out of date: run `vitals dashboards build --out {args.out}`\n")
        return 1
    sys.stdout.write(f"{args.out}: up to date\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    from vitals.grafana import all_panel_queries, iter_panels

    bundle = _bundle(args)
    out = sys.stdout
    if args.queries:
        for uid, title, expr in all_panel_queries(bundle.dashboards):
            out.write(f"{uid}\t{title}\t{expr}\n")
        return 0
    out.write(f"{'uid':<18} {'panels':>6} {'queries':>7} {'variables':<26} title\n")
    for d in bundle.dashboards:
        panels = [pnl for pnl in iter_panels(d) if pnl["type"] != "row"]
        queries = sum(len(pnl.get("targets") or []) for pnl in panels)
        names = ",".join(v["name"] for v in (d.get("templating") or {}).get("list") or []) or "-"
        out.write(f"{d['uid']:<18} {len(panels):>6} {queries:>7} {names:<26} {d['title']}\n")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from vitals.errors import ConfigError
    from vitals.grafana.deploy import deploy

    token = os.environ.get(args.token_env, "")
    if not token:
        msg = (f"environment variable {args.token_env} is empty: create a service-account token in Grafana "
               f"(Administration > Service accounts, role Editor) and export it as {args.token_env}")
        raise ConfigError(msg)
    from vitals.preflight import check_http_url

    report = deploy(_bundle(args), check_http_url(args.url, "--url", "http://grafana:3000"), token)
    for uid, state in report.folders.items():
        sys.stdout.write(f"folder {uid}: {state}\n")
    sys.stdout.write(f"datasource vitals-prometheus: {report.datasource}\n")
    for uid, path in report.dashboards.items():
        sys.stdout.write(f"dashboard {uid}: {args.url.rstrip('/')}{path}\n")
    return 0
