"""A small HTTP(S) server for ``/metrics`` (default 127.0.0.1:9108).

``GET /metrics`` returns the hub's vitals text followed by the registry's text (gzip-compressed at level 1
when the client accepts it, as Prometheus does: zlib releases the GIL while it compresses; the vitals text is
compressed once per render, see :class:`~vitals.exporter.hub.ScrapeBody`). ``GET /-/healthy``
answers ``OK``; ``GET /`` links to the metrics. Start it with :meth:`MetricsServer.start` (or as a context
manager), stop it with :meth:`MetricsServer.stop`; port 0 binds a free port (see :attr:`MetricsServer.port`).

Locked down (docs/security.md): a :class:`~vitals.exporter.web_config.WebConfig` adds TLS and basic auth. A
connection holds no thread while it is idle: accepted connections wait in one selector until a request
arrives (at most :attr:`ServerLimits.max_pending`, the oldest is dropped beyond that, and each is closed after
``idle_timeout_s``), then one request is served by a bounded pool of ``max_concurrent`` threads under a
``request_timeout_s`` per socket operation (TLS handshake included), and a kept-alive connection goes back to
waiting. Half-open connections therefore cannot starve a scrape.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import selectors
import socket
import ssl
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from vitals.errors import ServiceError
from vitals.exporter.hub import ExportHub, ScrapeBody
from vitals.exporter.web_config import BasicAuth, WebConfig

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9108


@dataclass(frozen=True)
class ServerLimits:
    request_timeout_s: float = 10.0  # per socket read/write while serving a request (and the TLS handshake)
    idle_timeout_s: float = 30.0     # a connection without a request for this long is closed
    max_concurrent: int = 4          # requests served at once (scrapes beyond wait for a thread)
    max_pending: int = 256           # idle connections kept; beyond, the oldest is closed


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        """One request per dispatch: a kept-alive connection then waits for the next without a thread."""
        self.handle_one_request()

    def do_GET(self) -> None:
        auth = self.server.auth
        if auth is not None and not auth.allows(self.headers.get("Authorization")):
            self.close_connection = True
            self._send(401, b"Unauthorized\n", "text/plain", extra={"WWW-Authenticate": 'Basic realm="city-vitals"'})
            return
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

    def _send(self, status: int, body: bytes, content_type: str, *, encoding: str | None = None,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        for name, value in {**self.server.headers, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # listen backlog (socketserver's 5 drops connections of a burst for a second)

    def __init__(self, address: tuple[str, int], hub: ExportHub, *, web: WebConfig | None = None,
                 limits: ServerLimits | None = None) -> None:
        self.hub = hub
        self.limits = limits or ServerLimits()
        self.auth = BasicAuth(web.users) if web is not None and web.users else None
        self.headers = dict(web.headers) if web is not None else {}
        context = web.ssl_context() if web is not None else None
        self.gate = _ConnectionGate(self)  # before binding: a failed bind closes the server, and so the gate
        super().__init__(address, _Handler)
        if context is not None:  # the handshake happens in a pool thread, under the request timeout
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.gate.wait_for_request(request, client_address)

    def serve_one(self, request: socket.socket, client_address: Any) -> None:
        """In a pool thread: (TLS handshake,) one request, then back to waiting or closed."""
        keep = False
        try:
            request.settimeout(self.limits.request_timeout_s)
            if isinstance(request, ssl.SSLSocket):
                request.do_handshake()
            handler = _Handler(request, client_address, self)
            keep = not handler.close_connection
        except (TimeoutError, ssl.SSLError, ConnectionError) as exc:
            log.debug("metrics client %s: %s", client_address, exc)
        except Exception:
            self.handle_error(request, client_address)
        if keep and not self.gate.closed:
            self.gate.wait_for_request(request, client_address)
        else:
            self.shutdown_request(request)

    def server_close(self) -> None:
        self.gate.close()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that gave up (timeout) closes the connection mid-answer: log it, no traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            log.warning("metrics client %s went away before the answer was sent (%s); scrape timeout too short?",
                        client_address, exc)
        else:
            log.exception("metrics request from %s failed", client_address)


class _ConnectionGate:
    """Connections waiting (without a thread) for their next request; readable ones go to the pool."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.limits = server.limits
        self.pool = ThreadPoolExecutor(self.limits.max_concurrent, thread_name_prefix="metrics-request")
        self._selector = selectors.DefaultSelector()
        self._waiting: OrderedDict[socket.socket, tuple[Any, float]] = OrderedDict()
        self._incoming: list[tuple[socket.socket, Any]] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.closed = False
        self._thread = threading.Thread(target=self._loop, name="metrics-gate", daemon=True)
        self._thread.start()

    def wait_for_request(self, request: socket.socket, client_address: Any) -> None:
        with self._lock:
            if self.closed:
                self.server.shutdown_request(request)
                return
            self._incoming.append((request, client_address))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _admit(self, now: float) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        for request, address in incoming:
            try:
                self._selector.register(request, selectors.EVENT_READ)
            except (ValueError, OSError):  # closed meanwhile
                continue
            self._waiting[request] = (address, now + self.limits.idle_timeout_s)
            while len(self._waiting) > self.limits.max_pending:
                self._drop(next(iter(self._waiting)))

    def _drop(self, request: socket.socket) -> None:
        self._waiting.pop(request, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(request)
        self.server.shutdown_request(request)

    def _loop(self) -> None:
        while not self.closed:
            events = self._selector.select(timeout=0.5)
            now = time.monotonic()
            for key, _ in events:
                sock = key.fileobj
                if not isinstance(sock, socket.socket):
                    continue
                if sock is self._wake_r:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                address = self._waiting.pop(sock, (None, 0.0))[0]
                self._selector.unregister(sock)
                self.pool.submit(self.server.serve_one, sock, address)
            self._admit(now)
            for request, (_, deadline) in list(self._waiting.items()):
                if deadline > now:
                    break  # ordered by arrival, so by deadline
                self._drop(request)

    def pending(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        with self._lock:
            self.closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for request in list(self._waiting):
            self._drop(request)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


class MetricsServer:
    """Serves one :class:`ExportHub` over HTTP from a background thread."""

    def __init__(self, hub: ExportHub, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 web: WebConfig | None = None, limits: ServerLimits | None = None) -> None:
        self.hub = hub
        self.host = host
        self.requested_port = port
        self.web = web
        self.limits = limits or ServerLimits()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.web is not None and self.web.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/metrics"

    def start(self) -> MetricsServer:
        if self._server is not None:
            return self
        try:
            self._server = _Server((self.host, self.requested_port), self.hub, web=self.web, limits=self.limits)
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
