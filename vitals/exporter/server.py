"""A small threaded HTTP server for ``/metrics`` (default 127.0.0.1:9108).

``GET /metrics`` returns the hub's vitals text followed by the registry's text (gzip-compressed at level 1
when the client accepts it, as Prometheus does: zlib releases the GIL while it compresses; the vitals text is
compressed once per render, see :class:`~vitals.exporter.hub.ScrapeBody`). ``GET /-/healthy``
answers ``OK``; ``GET /`` links to the metrics. Start it with :meth:`MetricsServer.start` (or as a context
manager), stop it with :meth:`MetricsServer.stop`; port 0 binds a free port (see :attr:`MetricsServer.port`).
"""

from __future__ import annotations

import gzip
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from vitals.errors import ServiceError
from vitals.exporter.hub import ExportHub, ScrapeBody

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9108


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                body = self.server.hub.scrape()
            except Exception:  # a render bug must not kill the server thread; report it to the scraper
                log.exception("rendering /metrics failed")
                self._send(500, b"rendering /metrics failed; see the city-vitals log\n", "text/plain")
                return
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                zipped = body.gzip() if isinstance(body, ScrapeBody) else gzip.compress(body, compresslevel=1)
                self._send(200, zipped, CONTENT_TYPE, encoding="gzip")
            else:
                self._send(200, body, CONTENT_TYPE)
        elif path == "/-/healthy":
            self._send(200, b"OK\n", "text/plain")
        elif path == "/":
            self._send(200, b'<html><body><a href="/metrics">/metrics</a></body></html>\n', "text/html")
        else:
            self._send(404, b"not found; try /metrics\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, *, encoding: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: ExportHub) -> None:
        self.hub = hub
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that gave up (timeout) closes the connection mid-answer: log it, no traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.warning("metrics client %s went away before the answer was sent (%s); scrape timeout too short?",
                        client_address, exc)
        else:
            log.exception("metrics request from %s failed", client_address)


class MetricsServer:
    """Serves one :class:`ExportHub` over HTTP from a background thread."""

    def __init__(self, hub: ExportHub, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.hub = hub
        self.host = host
        self.requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        if self._server is not None:
            return self
        try:
            self._server = _Server((self.host, self.requested_port), self.hub)
        except OSError as exc:
            msg = (f"cannot serve metrics on {self.host}:{self.requested_port}: {exc}; "
                   "choose another port (--metrics-port / VITALS_METRICS_PORT) or stop what uses it")
            raise ServiceError(msg) from exc
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"metrics-{self.port}", daemon=True)
        self._thread.start()
        log.info("serving metrics on %s", self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
