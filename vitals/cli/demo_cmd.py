"""`vitals demo`: the live simulated city, with a terminal view (and Prometheus + Alertmanager if installed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vitals.cli.options import add_pipeline_options, settings_from_args
from vitals.memory_policy import apply_malloc_policy

EPILOG = """\
examples:
  vitals demo                       # full city (1,031 streets) at 60x: one simulated hour per minute
  vitals demo --speed 300 --streets 200
  vitals demo --no-services         # do not start Prometheus/Alertmanager even when installed
  vitals demo --for 60              # stop by itself after 60 seconds (Ctrl-C stops it any time)
  vitals demo --catalog my_city.yaml   # simulate your own city (docs/catalog.md)

While it runs: curl http://127.0.0.1:9108/metrics | grep vitals_health_index
With Prometheus installed the demo also starts it (and Alertmanager, routed to the demo's own webhook
receiver, whose notifications appear in the view); install them with
  apt-get install -y --no-install-recommends prometheus prometheus-alertmanager
"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="live simulated city with a terminal view",
        description="Run the pipeline live on the simulated model city and show what it sees.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--speed", type=float, default=60.0, metavar="X",
                   help="simulated seconds per wall second (default 60)")
    p.add_argument("--seed", type=int, help="simulator seed (default 42)")
    p.add_argument("--for", dest="run_for", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--no-services", action="store_true", help="do not start Prometheus and Alertmanager")
    p.add_argument("--no-view", action="store_true", help="log a line every 10 s instead of redrawing the screen")
    add_pipeline_options(p)  # --config: catalog, models and outputs from a settings file (the source is the simulator)
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from vitals.demo.run import run_demo

    apply_malloc_policy()
    settings = settings_from_args(args, source="simulator", speed=args.speed)
    return run_demo(args.runner(), settings, run_for=args.run_for, services=not args.no_services,
                    view=not args.no_view, out=sys.stdout)
