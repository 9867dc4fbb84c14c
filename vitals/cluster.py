"""Joining a Bytewax cluster without Timely's one-second retry.

Bytewax 0.21 connects the processes of a cluster with Timely: process ``i`` connects to every process ``j < i``
and, when ``j`` is not listening yet (it is still importing and building its flow), sleeps a whole second
before it tries again ("error connecting to worker j ...; retrying"). Two processes started together reach that
point within milliseconds of each other, so about every other start lost ~1 s. A probe connection cannot tell
whether ``j`` listens: Timely's listener takes any connection as a peer and fails on one that sends no
handshake. :func:`wait_for_peers` therefore looks, for peers on this host, at the kernel's table of listening
sockets (``/proc/net/tcp``, ``tcp6``) and returns as soon as every lower-numbered peer listens (or after
``timeout_s``); peers on other hosts, or a system without ``/proc``, are not waited for (Timely's retry stays).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"  # the kernel's TCP_LISTEN state


def listening_ports(tables: Sequence[Path] = TCP_TABLES) -> set[int] | None:
    """Ports with a listening TCP socket on this host (any address); None if no table can be read."""
    ports: set[int] = set()
    read_any = False
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports if read_any else None


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def is_local(host: str) -> bool:
    """Whether ``host`` is this machine: a loopback address, or an address of this host's name."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    if any(a.startswith("127.") or a == "::1" for a in addresses):
        return True
    try:
        own = {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)}
    except OSError:
        return False
    return bool(addresses & own)


def local_peers(addresses: Sequence[str], process_id: int) -> list[int]:
    """The ports of the peers process ``process_id`` connects to (lower ids) that run on this host."""
    peers = []
    for address in addresses[:process_id]:
        host, port = _split(address)
        if is_local(host):
            peers.append(port)
    return peers


def wait_for_peers(addresses: Sequence[str], process_id: int, *, timeout_s: float = 5.0, poll_s: float = 0.005,
                   stop: Callable[[], bool] = lambda: False,
                   listening: Callable[[], set[int] | None] = listening_ports) -> float:
    """Wait until every peer this process connects to (ids below ``process_id``) that runs on this host listens,
    at most ``timeout_s`` (or until ``stop()``); returns the seconds waited. Nothing to wait for (process 0,
    remote peers, no ``/proc``): returns 0 at once."""
    ports = set(local_peers(addresses, process_id))
    if not ports:
        return 0.0
    start = time.monotonic()
    while True:
        found = listening()
        if found is None or ports <= found:
            break
        if stop() or time.monotonic() - start >= timeout_s:
            log.info("cluster peers on ports %s not listening after %.1f s; joining anyway (Timely retries every "
                     "second)", sorted(ports - found), time.monotonic() - start)
            break
        time.sleep(poll_s)
    waited = time.monotonic() - start
    log.debug("waited %.3f s for the cluster peers on ports %s to listen", waited, sorted(ports))
    return waited
