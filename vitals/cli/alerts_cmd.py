"""`vitals alerts build|check|render`: generate Prometheus rules, Alertmanager routes, templates and their
tests from the catalog; check them offline with promtool and amtool; render a config to deploy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings, load_catalog_from

EPILOG = """\
examples:
  vitals alerts build                                   # regenerate dashboards/prometheus and dashboards/alertmanager
  vitals alerts build --check                           # ... then run promtool and amtool on the result
  vitals alerts check                                   # promtool check/test rules, amtool check-config, route tests
  vitals alerts build --webhook-url http://127.0.0.1:9095/alerts --grafana-url https://grafana.city.example
  VITALS_WECOM_API_SECRET=... vitals alerts render --out /etc/city-vitals/alerting
                                                        # a deployable copy with secrets filled in (never commit it)
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


def _options(args: argparse.Namespace) -> Any:
    import yaml

    from vitals.alerting import AlertingOptions
    from vitals.errors import ConfigError
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
