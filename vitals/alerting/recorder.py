"""A local stand-in for the notification endpoints: an HTTP server that records every Alertmanager webhook
call. Point ``AlertingOptions.quick(webhook_url=recorder.url)`` at it in end-to-end tests or the demo.

>>> with WebhookRecorder() as recorder:
...     recorder.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vitals.errors import ServiceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    """One webhook call: the path (``/<receiver>``), Alertmanager's JSON payload, and when it arrived."""

    path: str
    payload: dict[str, Any]
    received_at: datetime
    received_monotonic: float

    @property
    def receiver(self) -> str:
        return str(self.payload.get("receiver", ""))

    @property
    def status(self) -> str:
        return str(self.payload.get("status", ""))

    @property
    def group_labels(self) -> dict[str, str]:
        return dict(self.payload.get("groupLabels", {}))

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.payload.get("alerts", []))


@dataclass
class WebhookRecorder:
    """Records webhook POSTs on ``host`` (port 0: a free port) in a background thread; ``on_notification``, when
    given, is also called with each one as it arrives (on the server's thread), e.g. to show it live."""

    host: str = "127.0.0.1"
    port: int = 0
    on_notification: Callable[[Notification], None] | None = None
    _received: list[Notification] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> WebhookRecorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                try:
                    payload = json.loads(body or b"{}")
                except json.JSONDecodeError:
                    payload = {"raw": body.decode(errors="replace")}
                recorder._add(Notification(self.path, payload, datetime.now(UTC), time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook: " + format, *args)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _add(self, notification: Notification) -> None:
        with self._lock:
            self._received.append(notification)
        if self.on_notification is not None:
            self.on_notification(notification)

    @property
    def notifications(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def wait_for(self, predicate: Callable[[Notification], bool], deadline_s: float, what: str = "a notification"
                 ) -> Notification:
        """The first recorded notification satisfying ``predicate``, waiting up to ``deadline_s`` seconds."""
        end = time.monotonic() + deadline_s
        while True:
            for notification in self.notifications:
                if predicate(notification):
                    return notification
            if time.monotonic() >= end:
                seen = [(n.receiver, n.status, n.group_labels) for n in self.notifications]
                msg = f"no {what} within {deadline_s:.0f}s; received: {seen}"
                raise ServiceError(msg)
            time.sleep(0.05)
