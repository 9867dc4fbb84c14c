"""Prometheus and Alertmanager next to ``vitals demo`` when they are installed: the generated rules and routes,
all receivers pointed at a small webhook receiver inside the demo whose notifications the terminal view shows."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vitals.catalog import Catalog
from vitals.config import Settings
from vitals.demo_view import NotificationLog
from vitals.errors import ServiceError
from vitals.services import INSTALL_HINT, RunningService, find_binary, start_alertmanager, start_prometheus

log = logging.getLogger(__name__)


class _Receiver:
    """Accepts Alertmanager webhook POSTs on a free loopback port and records them in a NotificationLog."""

    def __init__(self, notifications: NotificationLog) -> None:
        log_ = notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    log_.add_webhook(json.loads(self.rfile.read(length) or b"{}"))
                except ValueError:
                    log.warning("demo receiver: a webhook that is not JSON")
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-webhook", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class DemoServices:
    """The running services; :meth:`stop` ends them (by PID) and the receiver."""

    def __init__(self, receiver: _Receiver, services: list[RunningService], workdir: tempfile.TemporaryDirectory[str]
                 ) -> None:
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

        receiver = _Receiver(notifications)
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
