"""``vitals demo``: the simulated model city, live, with incidents that unfold within minutes."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from vitals.catalog import Catalog, load_catalog
from vitals.config import Settings
from vitals.demo.view import LiveView, NotificationLog, render_view
from vitals.errors import ConfigError
from vitals.exporter import ExportHub
from vitals.runner import FlowRunner
from vitals.simulator import CitySimulator, IncidentSpec, SimulatorConfig

log = logging.getLogger(__name__)

# (kind, district, minutes after the start): spaced so that something unfolds every few minutes at 60x
DEMO_INCIDENTS: tuple[tuple[str, str, int], ...] = (
    ("rainstorm", "yuzhong", 20), ("water_main_burst", "jiangbei", 80), ("crowd_surge", "yubei", 150),
    ("substation_overload", "shapingba", 220), ("gas_leak", "nanan", 300), ("metro_disruption", "jiulongpo", 380),
)


def demo_simulator(catalog: Catalog, settings: Settings, start: datetime | None = None) -> CitySimulator:
    begin = (start or datetime.now(UTC)).replace(second=0, microsecond=0)
    names = {d.id for d in catalog.districts}
    incidents = tuple(
        IncidentSpec(kind=kind, district=district, start=begin + timedelta(minutes=minutes))
        for kind, district, minutes in DEMO_INCIDENTS if district in names
    )
    config = SimulatorConfig(seed=settings.source_settings("simulator").seed, start=begin,
                             duration=timedelta(days=30), step_s=10, incidents=incidents)
    return CitySimulator(catalog, config)


def run_demo(runner: FlowRunner, settings: Settings, *, run_for: float | None = None, services: bool = True,
             view: bool = True, out: TextIO) -> int:
    """The demo: ``runner`` runs the flow (the command passes the installed one, :mod:`vitals.runner`)."""
    if run_for is not None and not (math.isfinite(run_for) and run_for > 0):  # 0 ran for ever, -1 stopped at once
        msg = f"--for must be a number of seconds > 0 (leave it out to run until Ctrl-C), got {run_for:g}"
        raise ConfigError(msg)
    catalog = load_catalog(settings.catalog, streets_total=settings.streets_total)
    hub = ExportHub(catalog)
    notifications = NotificationLog(catalog=catalog) if services else None
    extra: list[str] = []
    stack = _start_services(settings, catalog, notifications, extra) if services else None
    metrics_url = f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
    out.write(f"city-vitals demo: {catalog.n_streets} streets, {catalog.n_series:,} series, speed {settings.speed:g}x\n"
              f"metrics: {metrics_url}\n")
    out.flush()
    holder: dict[str, Any] = {}

    def screen() -> str:
        if hub.freshen is not None:  # views on demand: ask the shards for fresh vitals, like a scrape does
            hub.freshen()
        publisher = holder.get("publisher")
        health = publisher.rollup.last if publisher is not None else None
        return render_view(catalog, health, hub, notifications, metrics_url=metrics_url, extra=extra,
                           colour=view)

    live = LiveView(screen, out, interval_s=1.0 if view else 10.0, clear=view).start()
    if run_for is not None:
        threading.Timer(run_for, lambda: signal.raise_signal(signal.SIGINT)).start()
    started = time.monotonic()
    try:
        summary = runner.run_pipeline(settings, catalog=catalog, hub=hub, simulator=demo_simulator(catalog, settings),
                               on_publisher=lambda p: holder.__setitem__("publisher", p))
        live.stop()
        out.write("\n" + screen() + "\n\n" + summary.describe() + "\n")
    except KeyboardInterrupt:
        out.write(f"\nstopped after {time.monotonic() - started:.0f}s\n")
    finally:
        live.stop()
        if stack is not None:
            stack.stop()
    return 0


def _start_services(settings: Settings, catalog: Catalog, notifications: NotificationLog | None,
                    extra: list[str]) -> Any:
    """Prometheus + Alertmanager next to the demo when installed (see vitals.demo.stack)."""
    try:
        from vitals.demo.stack import DemoServices
    except ImportError:  # pragma: no cover - alerting not available
        return None
    return DemoServices.start_if_installed(settings, catalog, notifications, extra)
