"""Issue 12, finding 7: /metrics locked down with an exporter-toolkit web config (TLS, basic auth with bcrypt
hashes), HTTP timeouts and a bounded number of concurrent requests: half-open connections neither hold threads
nor block a scrape, and are closed after the idle timeout."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from prometheus_client import CollectorRegistry
from vitals_testing import self_signed_cert

from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.exporter import ExportHub, MetricsServer
from vitals.exporter.server import ServerLimits
from vitals.exporter.testing import synthetic_view
from vitals.exporter.web_config import BasicAuth, load_web_config

PASSWORD = "s3cret scrape"


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")


def _web_config(tmp: Path, *, tls: bool = True, users: bool = True) -> Path:
    lines = []
    if tls:
        self_signed_cert(tmp)
        lines += ["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key"]
    if users:
        lines += ["basic_auth_users:", f"  prometheus: '{_hash(PASSWORD)}'"]
    lines += ["http_server_config:", "  headers:", "    X-Content-Type-Options: nosniff"]
    path = tmp / "web.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _get(url: str, *, user: str | None = None, password: str = PASSWORD, ca: Path | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10,
                                    context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def hub(small_catalog: Catalog) -> ExportHub:
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    hub.publish(0, synthetic_view(small_catalog, seed=4, share=0.3))
    return hub


def test_tls_and_basic_auth(hub, tmp_path):
    web = load_web_config(_web_config(tmp_path))
    with MetricsServer(hub, port=0, web=web) as server:
        assert server.url.startswith("https://")
        status, headers, body = _get(server.url, user="prometheus", ca=tmp_path / "server.crt")
        assert status == 200 and body == hub.scrape()
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert _get(server.url, ca=tmp_path / "server.crt")[0] == 401
        status, headers, _ = _get(server.url, user="prometheus", password="wrong", ca=tmp_path / "server.crt")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        assert _get(server.url, user="nobody", ca=tmp_path / "server.crt")[0] == 401
        with pytest.raises(urllib.error.URLError):  # an untrusted certificate
            _get(server.url, user="prometheus", ca=Path(ssl.get_default_verify_paths().cafile or "/nonexistent"))
        with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):  # plain HTTP to the TLS port
            _get(server.url.replace("https://", "http://"), user="prometheus")
        assert _get(server.url, user="prometheus", ca=tmp_path / "server.crt")[0] == 200  # still serving


def test_basic_auth_without_tls_caches_good_passwords(hub, tmp_path):
    web = load_web_config(_web_config(tmp_path, tls=False))
    auth = BasicAuth(web.users)
    header = "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    assert auth.allows(header) and auth.allows(header)
    assert not auth.allows("Basic " + base64.b64encode(b"prometheus:other").decode())
    assert not auth.allows("Basic !!!") and not auth.allows("Bearer x") and not auth.allows(None)
    with MetricsServer(hub, port=0, web=web) as server:
        assert server.url.startswith("http://")
        assert _get(server.url)[0] == 401
        assert _get(server.url, user="prometheus")[0] == 200


@pytest.mark.parametrize(("text", "message"), [
    ("tls_server_config:\n  cert_file: x.crt\n", "needs cert_file and key_file"),
    ("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n", "cannot load the TLS certificate"),
    ("basic_auth_users:\n  alice: plain-password\n", "must be a bcrypt hash"),
    ("basic_auth_users:\n  alice: $2y$10$...\n", "not a valid bcrypt hash"),
    ("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "unsupported key(s) cipher_suites"),
    ("basic_auth: {}\n", "unsupported key(s) basic_auth"),
    ("[1, 2]\n", "must be a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_web_configs_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_web_config(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_half_open_connections_neither_block_a_scrape_nor_stay_open(hub):
    limits = ServerLimits(request_timeout_s=3.0, idle_timeout_s=3.5, max_concurrent=2, max_pending=2000)
    threads_before = threading.active_count()
    with MetricsServer(hub, port=0, limits=limits) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(1000)]
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /metrics HTTP/1.1\r\n")  # a request that never ends (slowloris)
        try:
            started = time.monotonic()
            status, _, body = _plain_get(server.url)
            took = time.monotonic() - started
            assert status == 200 and body == hub.scrape()
            # not blocked: the scrape was answered while the slowloris and the newest idle connection were still
            # held open, i.e. before a request or idle timeout freed anything (the test asserted "< 1.0 s" with a
            # 1 s request timeout: 1.26 s once at load 11 on 2 cores, though nothing had blocked it)
            assert _still_open(slow) and _still_open(idle[-1]), f"the scrape took {took:.2f} s"
            assert threading.active_count() - threads_before <= limits.max_concurrent + 3
            # each read waits for the server to close the connection (at most the idle timeout and a margin): no
            # fixed sleep; a connection left open fails the read with a timeout
            for sock in idle[:20] + idle[-20:]:
                sock.settimeout(limits.idle_timeout_s + 10)
                assert sock.recv(1) == b""  # closed by the server
            slow.settimeout(limits.request_timeout_s + 10)
            assert slow.recv(100) == b""  # the unfinished request timed out
            assert _plain_get(server.url)[0] == 200
        finally:
            for sock in [*idle, slow]:
                sock.close()


def test_the_oldest_waiting_connection_makes_room(hub):
    limits = ServerLimits(idle_timeout_s=30.0, max_pending=50)
    with MetricsServer(hub, port=0, limits=limits) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
        try:
            assert _plain_get(server.url)[0] == 200
            idle[0].settimeout(2)
            assert idle[0].recv(1) == b""
        finally:
            for sock in idle:
                sock.close()


def _still_open(sock: socket.socket) -> bool:
    """The server has neither closed ``sock`` nor answered on it (a read would block)."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def _plain_get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()
