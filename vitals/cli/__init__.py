"""The ``vitals`` command line. Each subcommand lives in its own module ``vitals.cli.<name>_cmd`` with a
``register(subparsers)`` function; heavy imports happen inside the handlers, not at import time.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import logging
import sys
from collections.abc import Sequence

from vitals import __version__
from vitals.errors import JoinStoppedError, VitalsError
from vitals.runner import FlowRunner, RunnerRef

log = logging.getLogger("vitals")

# Order is the order shown in --help.
COMMANDS: tuple[str, ...] = (
    "demo", "run", "replay", "simulate", "catalog", "train", "backtest", "checkup", "history", "models", "alerts",
    "dashboards",
)

DESCRIPTION = """\
city-vitals watches a city's vital signs as they stream in and warns the operations center early.

Start with `vitals demo` (a live simulated Chongqing, metrics on http://127.0.0.1:9108/metrics).
Every subcommand has its own --help with examples.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitals", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"city-vitals {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"vitals.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name != f"vitals.cli.{name}_cmd":
                raise
            continue
        module.register(sub)
    return parser


def _quick_exit() -> None:
    """At interpreter exit, freeze the objects still alive (:func:`gc.freeze`) before the interpreter tears down:
    its cyclic collector then skips its passes over them (~0.2-0.3 CPU s at the end of a city replay, every
    process of a cluster). Outputs are closed by then; only objects in reference cycles are left to the OS."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def main(argv: Sequence[str] | None = None, *, runner: FlowRunner | None = None) -> int:
    """Run one command line. ``runner``: the flow runner ``run``/``replay``/``demo`` use (default: the installed
    one, :func:`vitals.runner.load_runner`, loaded only by a command that runs a flow)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.runner = RunnerRef(runner)
    _quick_exit()
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except VitalsError as exc:
        sys.stderr.write(f"vitals {args.command}: error: {exc}\n")
        return exc.exit_code if isinstance(exc, JoinStoppedError) else 1
    except BrokenPipeError:  # e.g. `vitals catalog show | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
