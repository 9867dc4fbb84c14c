"""`vitals alerts build|check|render|silence|silences|unsilence`: generate Prometheus rules, Alertmanager routes,
templates and their tests from the catalog; check them offline with promtool and amtool; render a config to deploy;
silence the alerts of planned works in a running Alertmanager."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from
from vitals.errors import ConfigError

EPILOG = """\
examples:
  vitals alerts build                                   # regenerate dashboards/prometheus and dashboards/alertmanager
  vitals alerts build --check                           # ... then run promtool and amtool on the result
  vitals alerts check                                   # promtool check/test rules, amtool check-config, route tests
  vitals alerts build --webhook-url http://127.0.0.1:9095/alerts --grafana-url https://grafana.city.example
  VITALS_WECOM_API_SECRET=... vitals alerts render --out /etc/city-vitals/alerting
                                                        # a deployable copy with secrets filled in (never commit it)
  vitals alerts silence --district yubei --indicator water_pressure --for 4h --comment "main repair, ticket 2291"
  vitals alerts silence --street yubei_s003 --from 2025-06-03 --until 2025-06-05 --comment "road works"
  vitals alerts silence --works planned-works.yaml      # a silence per planned works (run it after each edit)
  vitals alerts silences                                # what is silenced now and next, in city time
  vitals alerts unsilence 3f2a                          # end one early (its id or a unique prefix)
"""


def _add_build_options(p: argparse.ArgumentParser) -> None:
    add_catalog_options(p)
    p.add_argument("--webhook-url", metavar="URL", help="base URL of the webhooks; receivers post to URL/<receiver>")
    p.add_argument("--grafana-url", metavar="URL", help="Grafana base URL for dashboard links in annotations")
    p.add_argument("--channels", metavar="LIST", help="comma-separated subset of webhook,email,wechat (default all)")
    p.add_argument("--secrets-dir", metavar="DIR", help="where Alertmanager reads the SMTP password file")
    p.add_argument("--email-domain", metavar="DOMAIN", help="domain of the centers' e-mail addresses")
    p.add_argument("--wecom-parties", metavar="FILE", help="YAML mapping district id -> WeCom department id")
    p.add_argument("--job", metavar="NAME", help="Prometheus job name of the pipeline (default city-vitals)")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerts", help="generate and check alert rules, routes and notification templates",
        description="Alert rules and routes are generated from the catalog and committed under dashboards/; "
                    "a test regenerates them and compares.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    asub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    build = asub.add_parser("build", help="generate rules, rule tests, Alertmanager config, templates, route tests")
    _add_build_options(build)
    build.add_argument("--out", default="dashboards", metavar="DIR", help="output directory (default dashboards)")
    build.add_argument("--check", action="store_true", help="run `vitals alerts check` on the result")
    build.set_defaults(handler=_build)
    check = asub.add_parser("check", help="promtool check/test rules, amtool check-config and route tests")
    check.add_argument("--dir", default="dashboards", metavar="DIR", help="generated directory (default dashboards)")
    check.set_defaults(handler=_check)
    render = asub.add_parser("render", help="write a deployable config: absolute paths, secrets from the environment")
    _add_build_options(render)
    render.add_argument("--out", required=True, metavar="DIR", help="output directory (outside the repository)")
    render.set_defaults(handler=_render)
    sil = asub.add_parser(
        "silence", help="mute the alerts of planned works (places, indicators, domains) for a time",
        description="Create an Alertmanager silence from catalog ids: the given labels must all match, several ids "
                    "of one label match any of them (docs/alerting.md, \"Planned works\").")
    where = sil.add_argument_group("what to mute (at least one, or --everything)")
    when = sil.add_argument_group("when")
    span = when.add_mutually_exclusive_group()
    single = [  # the options of one silence, which --works replaces
        where.add_argument("--district", metavar="IDS",
                           help="comma-separated district ids (also their district-wide alerts)"),
        where.add_argument("--street", metavar="IDS", help="comma-separated street ids"),
        where.add_argument("--indicator", metavar="IDS", help="comma-separated indicator ids"),
        where.add_argument("--domain", metavar="IDS", help="comma-separated domains (water, power, ...)"),
        where.add_argument("--severity", metavar="LEVELS",
                           help="blue, yellow, orange, red, warning (anomalies, data quality)"),
        where.add_argument("--kind", metavar="KINDS", help="level, early_warning, anomaly, data_quality, pipeline"),
        where.add_argument("--everything", action="store_true", help="mute every alert of the city (on purpose only)"),
        span.add_argument("--for", dest="duration", metavar="DURATION", help="how long: 4h, 90m, 1h30m, 2d"),
        span.add_argument("--until", metavar="DAY|TIME", help="last local day (included) or a time with a zone"),
        when.add_argument("--from", dest="start", metavar="DAY|TIME",
                          help="start: a local day or a time with a zone (default now)"),
        sil.add_argument("--comment", help="why (the works, a ticket number); kept with the silence (required)"),
    ]
    sil.add_argument("--works", metavar="FILE",
                     help="instead of the options above: make the silences of a planned-works file (the file "
                          "--planned-works gives the flow): one per works, edited and removed works' expired")
    sil.add_argument("--by", metavar="NAME", help="who (default: the login name)")
    sil.add_argument("--dry-run", action="store_true", help="print the silence as JSON, create nothing")
    _add_alertmanager_options(sil)
    add_catalog_options(sil)
    sil.set_defaults(handler=_silence, single_silence_options=tuple(single))
    lst = asub.add_parser("silences", help="the silences of a running Alertmanager, in city time")
    lst.add_argument("--expired", action="store_true", help="expired ones too")
    _add_alertmanager_options(lst)
    add_catalog_options(lst, streets=False)
    lst.set_defaults(handler=_silences)
    uns = asub.add_parser("unsilence", help="end silences early (by id or a unique prefix of it)")
    uns.add_argument("ids", nargs="+", metavar="ID")
    _add_alertmanager_options(uns)
    uns.set_defaults(handler=_unsilence)


def _add_alertmanager_options(p: argparse.ArgumentParser) -> None:
    from vitals.alerting.silences import DEFAULT_URL, PASSWORD_ENV, URL_ENV

    g = p.add_argument_group("Alertmanager")
    g.add_argument("--alertmanager", metavar="URL",
                   help=f"Alertmanager's base URL (default: {URL_ENV}, else {DEFAULT_URL})")
    g.add_argument("--alertmanager-user", metavar="USER",
                   help=f"basic-auth login; the password comes from --alertmanager-password-file or {PASSWORD_ENV}")
    g.add_argument("--alertmanager-password-file", metavar="FILE", help="file whose first line is the password")
    g.add_argument("--alertmanager-ca-file", metavar="FILE", help="CA certificate of an https Alertmanager")
    p.add_argument("--json", action="store_true", help="JSON instead of lines")


def _alertmanager(args: argparse.Namespace) -> Any:
    import os

    from vitals.alerting.silences import DEFAULT_URL, PASSWORD_ENV, URL_ENV, Alertmanager
    from vitals.preflight import check_http_url

    url = check_http_url(args.alertmanager or os.environ.get(URL_ENV) or DEFAULT_URL,
                         "--alertmanager" if args.alertmanager else URL_ENV, DEFAULT_URL)
    password = None
    if args.alertmanager_password_file:
        try:
            password = Path(args.alertmanager_password_file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, UnicodeDecodeError, IndexError) as exc:
            msg = f"--alertmanager-password-file {args.alertmanager_password_file}: cannot read a first line ({exc})"
            raise ConfigError(msg) from exc
    elif args.alertmanager_user:
        password = os.environ.get(PASSWORD_ENV)
    if args.alertmanager_user and password is None:
        msg = (f"--alertmanager-user {args.alertmanager_user}: give the password with --alertmanager-password-file "
               f"or {PASSWORD_ENV}")
        raise ConfigError(msg)
    if password is not None and not args.alertmanager_user:
        msg = "--alertmanager-password-file without --alertmanager-user: give the login too"
        raise ConfigError(msg)
    if args.alertmanager_ca_file and not Path(args.alertmanager_ca_file).is_file():
        msg = f"--alertmanager-ca-file {args.alertmanager_ca_file}: no such file"
        raise ConfigError(msg)
    return Alertmanager(url, args.alertmanager_user, password, args.alertmanager_ca_file)


def _silence(args: argparse.Namespace) -> int:
    import getpass
    import time

    from vitals.alerting.silences import create, parse_duration, silence
    from vitals.catalog.clock import city_moment_ns, local_text, zone_label
    from vitals.catalog.ids import check_ids, split_ids
    from vitals.units import NS_PER_S

    am = _alertmanager(args)
    catalog = load_catalog_from(catalog_settings(args))
    if args.works:
        return _silence_works(args, am, catalog)
    if args.duration is None and args.until is None:
        msg = "give how long: --for DURATION or --until DAY|TIME (or --works FILE)"
        raise ConfigError(msg)
    if not args.comment:
        msg = "--comment: say why (the works, a ticket number): Alertmanager keeps it with the silence"
        raise ConfigError(msg)
    selection = {kind: check_ids(catalog, kind, split_ids(getattr(args, kind)))
                 for kind in ("district", "street", "indicator", "domain")}
    selection.update({label: split_ids(getattr(args, label)) for label in ("severity", "kind")})
    now = time.time_ns()
    starts = now if args.start is None else city_moment_ns(catalog, "--from", args.start)
    if args.duration is not None:
        ends = starts + parse_duration(args.duration) * NS_PER_S
    else:
        ends = city_moment_ns(catalog, "--until", args.until, end_of_day=True)
    request = silence(selection, starts, ends, args.comment, args.by or _login(getpass), now_ns=now,
                      everything=args.everything)
    if args.dry_run:
        sys.stdout.write(json.dumps(request.payload(), ensure_ascii=False, indent=2) + "\n")
        return 0
    ident = create(am, request)
    if args.json:
        sys.stdout.write(json.dumps({"id": ident, **request.payload()}, ensure_ascii=False, indent=2) + "\n")
        return 0
    from vitals.alerting.silences import describe, matchers

    sys.stdout.write(f"silenced {describe({'matchers': matchers(request.matchers)})} from "
                     f"{local_text(catalog, request.starts_ns)} to {local_text(catalog, request.ends_ns)} "
                     f"({zone_label(catalog, request.starts_ns, request.ends_ns)}): id {ident}\n")
    return 0


def _silence_works(args: argparse.Namespace, am: Any, catalog: Any) -> int:
    """``--works FILE``: Alertmanager's planned-works silences made those of the file (:func:`sync_works`)."""
    import getpass
    import time

    from vitals.alerting.silences import sync_works, works_silences
    from vitals.planned_works import load_planned_works

    given = [action.option_strings[0] for action in args.single_silence_options if getattr(args, action.dest)]
    if given:
        msg = f"--works takes what, when and why from the file; leave out {', '.join(given)}"
        raise ConfigError(msg)
    works = load_planned_works(args.works, catalog)
    wanted, over = works_silences(works.works, args.by or _login(getpass), now_ns=time.time_ns())
    if args.dry_run:
        sys.stdout.write(json.dumps([w.payload() for w in wanted], ensure_ascii=False, indent=2) + "\n")
        return 0
    created, kept, expired = sync_works(am, wanted)
    if args.json:
        sys.stdout.write(json.dumps({"created": created, "kept": kept, "expired": expired, "over": over},
                                    indent=2) + "\n")
        return 0
    sys.stdout.write(f"{len(works):,} planned works in {args.works}: {len(created)} silence(s) created, "
                     f"{len(kept)} already there, {len(expired)} expired (edited or no longer in the file), "
                     f"{len(over)} over\n")
    return 0


def _login(getpass: Any) -> str:
    try:
        return str(getpass.getuser())
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "city-vitals"


def _silences(args: argparse.Namespace) -> int:
    from vitals.alerting.silences import describe, list_silences, parse_time
    from vitals.catalog.clock import local_text

    found = list_silences(_alertmanager(args), expired=args.expired)
    if args.json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
        return 0
    if not found:
        sys.stdout.write("no silences\n")
        return 0
    catalog = load_catalog_from(catalog_settings(args))
    for s in found:
        span = f"{local_text(catalog, parse_time(s['startsAt']))} .. {local_text(catalog, parse_time(s['endsAt']))}"
        sys.stdout.write(f"{s['id']}  {s['status']['state']:<8} {span}  {describe(s)}  "
                         f"({s.get('createdBy', '')}: {s.get('comment', '')})\n")
    return 0


def _unsilence(args: argparse.Namespace) -> int:
    from vitals.alerting.silences import expire

    am = _alertmanager(args)
    for ident in args.ids:
        sys.stdout.write(f"expired silence {expire(am, ident)}\n")
    return 0


def _options(args: argparse.Namespace) -> Any:
    import yaml

    from vitals.alerting import AlertingOptions
    from vitals.preflight import check_http_url

    for name, example in (("webhook_url", "http://127.0.0.1:9095/alerts"), ("grafana_url", "https://grafana.city.example")):
        if getattr(args, name):
            check_http_url(getattr(args, name), f"--{name.replace('_', '-')}", example)
    changes: dict[str, Any] = {}
    for name in ("webhook_url", "grafana_url", "secrets_dir", "email_domain"):
        if getattr(args, name):
            changes[name] = getattr(args, name)
    if args.channels:
        changes["channels"] = tuple(c.strip() for c in args.channels.split(",") if c.strip())
    if args.wecom_parties:
        try:
            parties = yaml.safe_load(Path(args.wecom_parties).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            msg = f"cannot read --wecom-parties {args.wecom_parties}: {exc}"
            raise ConfigError(msg) from exc
        changes["wecom_parties"] = {str(k): str(v) for k, v in dict(parties).items()}
    options = AlertingOptions().with_receivers(**changes)
    if args.job:
        import dataclasses

        options = dataclasses.replace(options, job=args.job)
    return options


def _bundle(args: argparse.Namespace) -> Any:
    from vitals.alerting import build_alerting

    return build_alerting(load_catalog_from(catalog_settings(args)), _options(args))


def _build(args: argparse.Namespace) -> int:
    from vitals.preflight import check_output_dir

    check_output_dir(args.out, "writing the alert rules and routes", "--out")
    bundle = _bundle(args)
    written = bundle.write(args.out)
    sys.stdout.write(f"wrote {len(written)} files under {args.out}/\n")
    sys.stdout.write(json.dumps(bundle.counts()) + "\n")
    if args.check:
        args.dir = args.out
        return _check(args)
    return 0


def _check(args: argparse.Namespace) -> int:
    from vitals.alerting.tools import check_all

    results = check_all(Path(args.dir))
    failed = [r for r in results if not r.ok]
    for r in results:
        sys.stdout.write(f"{'ok  ' if r.ok else 'FAIL'} {r.name} ({r.seconds:.1f}s)\n")
    for r in failed:
        sys.stdout.write(f"\n--- {r.name}\n{r.output}\n")
    sys.stdout.write(f"{len(results) - len(failed)} of {len(results)} checks passed\n")
    return 1 if failed else 0


def _render(args: argparse.Namespace) -> int:
    from vitals.alerting import render_config_dir
    from vitals.preflight import check_output_dir

    check_output_dir(args.out, "writing the deployable config", "--out")
    rendered = render_config_dir(_bundle(args), args.out)
    sys.stdout.write(f"rule files: {' '.join(str(p) for p in rendered.rule_files)}\n"
                     f"alertmanager config: {rendered.alertmanager_config}\n")
    return 0
