"""Checks made before the first reading: every output path can be written, every port bound, every input file
read. Each failure is one :class:`~vitals.errors.ConfigError` line naming the option and what to do, instead of a
traceback once processing has started. Nothing here creates or writes anything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vitals.errors import ConfigError


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        if current.is_symlink():  # a dangling link: the target's parent decides
            break
        current = current.parent
    return current


def _check_writable_dir(base: Path, path: Path, option: str, problem: str) -> None:
    """``base`` must be a directory where files can be created; else ``<option> <path>: <problem>: why``.
    Permissions do not tell for root, /proc or a read-only mount, so a temporary file is created and removed."""
    if not base.is_dir():
        msg = f"{option} {path}: {problem}: {base} is not a directory"
        raise ConfigError(msg)
    if not os.access(base, os.W_OK | os.X_OK):
        msg = f"{option} {path}: {problem}: no write permission in {base}"
        raise ConfigError(msg)
    try:
        fd, name = tempfile.mkstemp(prefix=".vitals-preflight-", dir=base)
    except OSError as exc:
        msg = f"{option} {path}: {problem}: cannot write in {base} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def check_cluster_process(addresses: Sequence[str], process_id: int | None, *, scrape_config: object = None) -> None:
    """A process of a cluster needs its index: with addresses and no process id Bytewax waited for ever (neither
    Ctrl-C nor SIGTERM ended it). Addresses alone are fine for writing a scrape config (``--scrape-config``)."""
    if addresses and process_id is None and scrape_config is None:
        msg = (f"addresses ({len(addresses)} processes) need process_id (-i I): this process's index; -a alone "
               "goes with --scrape-config --dry-run")
        raise ConfigError(msg)


def check_cluster_address(addresses: Sequence[str], process_id: int | None) -> None:
    """This process's own cluster address (``addresses[process_id]``) can be listened on now: Timely binds it
    (``SO_REUSEADDR``, as here) once the flow is built and, when another program holds the port, failed with a
    Bytewax traceback ("failed to initialize networking: Address already in use")."""
    if not addresses or process_id is None or not 0 <= process_id < len(addresses):
        return
    host, _, port = addresses[process_id].rpartition(":")
    check_port_free(host.strip("[]"), int(port), f"--addresses (process {process_id}'s own address)")


def check_distinct_files(outputs: Sequence[tuple[str, str | Path | None]],
                         inputs: Sequence[tuple[str, Path]] = ()) -> None:
    """No two of ``outputs`` (option, path) name one file, and none names one of ``inputs`` (what, path): the last
    writer silently won (`vitals simulate --out x --labels x`), or an input was overwritten (a replay's
    ``--final-vitals`` naming its readings file replaced them with the final vitals)."""
    seen: dict[Path, str] = {Path(os.path.realpath(path)): what for what, path in inputs}
    for option, path in outputs:
        if path is None or str(path) == "-":
            continue
        real = Path(os.path.realpath(path))
        if real in seen:
            msg = f"{option} {path} is also {seen[real]}: give each output its own file"
            raise ConfigError(msg)
        seen[real] = f"given to {option}"


def check_output_file(path: str | Path, what: str, option: str) -> None:
    """A file the run will create or append to."""
    out = Path(path)
    if out.is_dir():
        msg = f"{option} {out}: is a directory; {what} needs a file name"
        raise ConfigError(msg)
    if out.is_fifo() or out.is_socket():  # opening it waited for a reader for ever (a hang before the first reading)
        msg = f"{option} {out}: is a {'FIFO' if out.is_fifo() else 'socket'}; {what} needs a regular file"
        raise ConfigError(msg)
    if out.exists():
        if not os.access(out, os.W_OK):
            msg = f"{option} {out}: {what} exists and is not writable"
            raise ConfigError(msg)
        return
    _check_writable_dir(_nearest_existing(out.absolute()), out, option, f"cannot create {what}")


def check_output_dir(path: str | Path, what: str, option: str) -> None:
    """A directory the run will create (if needed) and write files into."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        msg = f"{option} {out}: is not a directory; {what} needs a directory"
        raise ConfigError(msg)
    base = out if out.exists() else _nearest_existing(out.absolute())
    _check_writable_dir(base, out, option, f"cannot write {what}" if out.exists() else f"cannot create {what}")


def check_input_file(path: str | Path, what: str, option: str) -> Path:
    """A file the run will read (a certificate, a password file, a web config)."""
    src = Path(path)
    try:
        with src.open("rb"):
            pass
    except IsADirectoryError:
        msg = f"{option} {src}: is a directory; {what} must be a file"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"{option} {src}: cannot read {what}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    return src


def check_http_url(url: str, option: str, example: str = "http://127.0.0.1:9095/alerts") -> str:
    """``url`` is an http(s) URL with a host (a webhook, Grafana or Prometheus base URL written into generated
    files): ``notaurl`` or ``ftp//x`` was written as it was, and failed only when Alertmanager or Grafana used it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        msg = f"{option} {url!r} is not a URL: {exc}"
        raise ConfigError(msg) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"{option} {url!r} is not an http(s) URL with a host, e.g. {example}"
        raise ConfigError(msg)
    return url


def check_port_free(host: str, port: int, option: str) -> None:
    """``host:port`` can be bound now (it is released at once; the server binds it again moments later)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        msg = f"{option}: cannot resolve the listen address {host!r}: {exc}"
        raise ConfigError(msg) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        hint = "it is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        msg = f"{option}: cannot listen on {host}:{port}: {hint}; choose another port or stop what uses it"
        raise ConfigError(msg) from exc
    finally:
        with contextlib.suppress(OSError):
            sock.close()
