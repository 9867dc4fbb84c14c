"""`vitals models list|show|promote|rollback`: the model registry from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vitals.cli.options import add_catalog_options, catalog_settings

EPILOG = """\
examples:
  vitals models list                          # every family and version; * marks the promoted one
  vitals models show forecaster               # the promoted version's model card (Markdown)
  vitals models show forecaster v0002 --json  # a version's card as JSON
  vitals models promote forecaster v0002      # the running pipeline picks it up at its next poll
  vitals models rollback forecaster           # back to the version promoted before
  vitals models rollback forecaster --to v0001
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "models", help="list, show, promote or roll back registered models",
        description="The model registry: versioned skops artifacts with model cards, one promoted version "
                    "per family. A running pipeline reloads a newly promoted version without a restart.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_catalog_options(p, streets=False, models=True)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lst = msub.add_parser("list", help="families and versions (* = promoted)")
    lst.add_argument("family", nargs="?", help="only this family")
    lst.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    lst.set_defaults(handler=_list)
    show = msub.add_parser("show", help="a version's model card (default: the promoted version)")
    show.add_argument("family")
    show.add_argument("version", nargs="?")
    show.add_argument("--json", action="store_true", help="the card as JSON")
    show.set_defaults(handler=_show)
    promote = msub.add_parser("promote", help="make a version the one the pipeline uses")
    promote.add_argument("family")
    promote.add_argument("version")
    promote.set_defaults(handler=_promote)
    rollback = msub.add_parser("rollback", help="go back to the previously promoted version")
    rollback.add_argument("family")
    rollback.add_argument("--to", metavar="VERSION", help="a version promoted earlier (default: the previous)")
    rollback.set_defaults(handler=_rollback)


def registry_from_args(args: argparse.Namespace) -> Any:
    """The registry every ``vitals models`` command reads: a models directory given explicitly must exist (a
    mistyped ``--models-dir`` is an error, not an empty listing)."""
    from vitals.registry import ModelRegistry
    from vitals.registry.locate import models_dir

    settings = catalog_settings(args)
    return ModelRegistry(models_dir(settings.models_dir, settings.catalog, must_exist=True).path)


def _list(args: argparse.Namespace) -> int:
    reg = registry_from_args(args)
    infos = reg.describe(args.family)
    if args.json:
        doc = [{"family": i.family, "version": i.version, "promoted": i.promoted, "created_at": i.created_at,
                "size_bytes": i.size_bytes, "model_class": i.model_class, "metrics": i.metrics,
                **({"problem": i.problem} if i.problem else {})} for i in infos]
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return 0
    if not infos:
        sys.stdout.write(f"no models in {reg.root} (train some with `vitals train`)\n")
        return 0
    width = max(len(i.model_class.rsplit(".", 1)[-1]) for i in infos)
    sys.stdout.write(f"{'family':<20} {'version':<9} {'created':<26} {'size':>10}  {'class':<{width}}  held-out\n")
    for i in infos:
        mark = "*" if i.promoted else " "
        sys.stdout.write(f"{i.family:<20} {mark}{i.version:<8} {i.created_at:<26} {i.size_bytes:>10,}  "
                         f"{i.model_class.rsplit('.', 1)[-1]:<{width}}  {i.headline}\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    from vitals.errors import RegistryError

    reg = registry_from_args(args)
    if args.family not in reg.families():
        msg = f"no model family {args.family!r} in {reg.root} (families: {', '.join(reg.families()) or 'none'})"
        raise RegistryError(msg)
    missing = "" if args.version else reg.missing_promoted(args.family)
    if missing:
        raise RegistryError(missing)
    version = args.version or reg.promoted(args.family)
    if version is None:
        msg = f"{args.family} has no promoted version; name one (versions: {', '.join(reg.versions(args.family))})"
        raise RegistryError(msg)
    card = reg.card(args.family, version)
    sys.stdout.write(card.to_json() if args.json else card.to_markdown())
    return 0


def _promote(args: argparse.Namespace) -> int:
    reg = registry_from_args(args)
    before = reg.promoted(args.family)
    reg.promote(args.family, args.version)
    sys.stdout.write(f"{args.family}: promoted {args.version} (was {before or 'none'})\n")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    reg = registry_from_args(args)
    before = reg.promoted(args.family)
    now = reg.rollback(args.family, args.to)
    sys.stdout.write(f"{args.family}: rolled back from {before} to {now}\n")
    return 0
