"""Joining a cluster once the peers listen (vitals.cluster), with real sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vitals.cluster import is_local, listening_ports, local_peers, wait_for_peers
from vitals.services import free_port


@contextmanager
def _listener(port: int, *, listen: bool = True) -> Iterator[socket.socket]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        if listen:
            s.listen()
        yield s


def test_listening_ports_lists_a_listener_and_not_a_bound_socket() -> None:
    port, bound = free_port(), free_port()
    with _listener(port), _listener(bound, listen=False):
        ports = listening_ports()
        assert ports is not None
        assert port in ports
        assert bound not in ports
    assert port not in (listening_ports() or set())


def test_listening_ports_reads_the_kernel_table_format(tmp_path: Path) -> None:
    table = tmp_path / "tcp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        "   1: 0100007F:A2B4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2\n")
    assert listening_ports([table]) == {8080}  # 0x1F90 listens; 0xA2B4 is an established connection
    assert listening_ports([tmp_path / "missing"]) is None


def test_local_hosts() -> None:
    assert is_local("127.0.0.1")
    assert is_local("localhost")
    assert not is_local("192.0.2.1")  # TEST-NET-1: never this host
    assert local_peers(["127.0.0.1:7001", "192.0.2.1:7002", "127.0.0.1:7003"], 2) == [7001]
    assert local_peers(["127.0.0.1:7001", "127.0.0.1:7002"], 0) == []


def test_waits_until_the_lower_peer_listens() -> None:
    p0, p1 = free_port(), free_port()
    started = threading.Event()
    done = threading.Event()
    listening_from: list[float] = []

    def late_peer() -> None:
        time.sleep(0.3)
        listening_from.append(time.monotonic())  # just before listen(): the wait cannot end earlier
        with _listener(p0):
            started.set()
            done.wait(5)

    thread = threading.Thread(target=late_peer)
    thread.start()
    try:
        waited = wait_for_peers([f"127.0.0.1:{p0}", f"127.0.0.1:{p1}"], 1, timeout_s=5)
        returned = time.monotonic()
        assert started.wait(5)
        # it waited for the listen, and saw it well before Timely's 1 s retry: both measured from the moment the
        # peer listened, not from a 0.3 s sleep that a loaded machine stretches (the bounds were 0.25 <= waited
        # < 1.0 from the call, which a late start of either thread moves by as much as it likes)
        assert waited > 0 and returned >= listening_from[0]
        assert returned - listening_from[0] < 1.0, (waited, returned - listening_from[0])
    finally:
        done.set()
        thread.join()


def test_gives_up_after_the_timeout_or_a_stop_and_skips_what_it_cannot_see() -> None:
    p0, p1 = free_port(), free_port()
    addresses = [f"127.0.0.1:{p0}", f"127.0.0.1:{p1}"]
    # the upper bounds tell "gave up" from "waited out the 5 s timeout" (they were 0.6 s and 0.2 s, within a
    # stall of a loaded 2-core machine)
    assert 0.2 <= wait_for_peers(addresses, 1, timeout_s=0.2) < 2.5
    assert wait_for_peers(addresses, 1, timeout_s=5, stop=lambda: True) < 2.5
    assert wait_for_peers(addresses, 0, timeout_s=5) == 0.0  # process 0 connects to nobody
    assert wait_for_peers(["192.0.2.1:7001", f"127.0.0.1:{p1}"], 1, timeout_s=5) == 0.0  # remote peer
    assert wait_for_peers(addresses, 1, timeout_s=5, listening=lambda: None) < 2.5  # no /proc
