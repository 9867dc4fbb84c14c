"""Prometheus and Alertmanager next to ``vitals demo`` when they are installed: the generated rules and routes,
all receivers pointed at a :class:`~vitals.alerting.recorder.WebhookRecorder` inside the demo whose notifications
the terminal view shows."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vitals.catalog import Catalog
from vitals.config import Settings
from vitals.demo.view import NotificationLog
from vitals.errors import ServiceError
from vitals.services import INSTALL_HINT, RunningService, find_binary, start_alertmanager, start_prometheus

if TYPE_CHECKING:
    from vitals.alerting.recorder import WebhookRecorder



class DemoServices:
    """The running services; :meth:`stop` ends them (by PID) and the receiver."""

    def __init__(self, receiver: WebhookRecorder, services: list[RunningService],
                 workdir: tempfile.TemporaryDirectory[str]) -> None:
        self.receiver = receiver
        self.services = services
        self._workdir = workdir

    @classmethod
    def start_if_installed(cls, settings: Settings, catalog: Catalog, notifications: NotificationLog | None,
                           extra: list[str]) -> DemoServices | None:
        """Start both services, or add a line to ``extra`` saying how to install them; never raises."""
        missing = [name for name in ("prometheus", "alertmanager") if find_binary(name) is None]
        if missing or notifications is None:
            if missing:
                extra.append(f"{' and '.join(missing)} not installed, so no alerts in this demo; {INSTALL_HINT}")
            return None
        from vitals.alerting import AlertingOptions, build_alerting, render_config_dir
        from vitals.alerting.recorder import WebhookRecorder

        shown = notifications  # the view lists every alert of each webhook call as it arrives
        receiver = WebhookRecorder(on_notification=lambda n: shown.add_webhook(n.payload)).start()
        workdir = tempfile.TemporaryDirectory(prefix="vitals-demo-")
        root = Path(workdir.name)
        started: list[RunningService] = []
        try:
            bundle = build_alerting(catalog, AlertingOptions.quick(receiver.url))
            rendered = render_config_dir(bundle, root / "alerting", environ={})
            am = start_alertmanager(rendered.alertmanager_config.read_text(), root / "alertmanager")
            started.append(am)
            target = f"{settings.metrics_host}:{settings.metrics_port}"
            prom = start_prometheus(rendered.prometheus_config([target], f"127.0.0.1:{am.port}", scrape_interval="2s"),
                                    root / "prometheus")
            started.append(prom)
        except ServiceError as exc:
            for service in started:
                service.stop()
            receiver.stop()
            workdir.cleanup()
            extra.append(f"Prometheus/Alertmanager could not start ({exc}); running without alerts")
            return None
        extra.append(f"Prometheus {prom.url}/classic/graph   Alertmanager {am.url}/api/v2/alerts   "
                     f"(rules: {len(bundle.rule_groups)} groups)")
        return cls(receiver, started, workdir)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.receiver.stop()
        self._workdir.cleanup()
