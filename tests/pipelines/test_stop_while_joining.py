"""A cluster process whose peers never come stops on SIGTERM / Ctrl-C (vitals.signal_watchdog).

Before: `vitals replay F -i 1 -a "h:p0;h:p1"` with process 0 never started waited inside Bytewax/Timely's connect
loop (Rust, on the main thread), where the Python signal handler cannot run: SIGTERM and Ctrl-C (even twice) did
nothing, only SIGKILL ended it. Process 0 with process 1 missing waited the same way in its accept loop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vitals.services import http_get, wait_for
from vitals.signal_watchdog import SignalWatchdog

REPO = Path(__file__).resolve().parents[2]
PEERS = "still waiting for its cluster peers"
CONNECTING = "joining anyway"  # vitals.cluster gave up waiting for process 0 to listen: next is Timely's connect loop


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _consecutive_free_ports(n: int) -> int:
    """The first of ``n`` consecutive ports that were all free a moment ago (a cluster process serves /metrics on
    ``--metrics-port`` + its process id)."""
    for _ in range(50):
        base = _free_ports(1)[0]
        socks = [socket.socket() for _ in range(n)]
        try:
            for k, s in enumerate(socks):
                s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no {n} consecutive free ports on 127.0.0.1")


def _readings_in(port: int) -> int:
    """The readings in so far on the /metrics of the process at ``port`` (0 before its flow counts any)."""
    text = http_get(f"http://127.0.0.1:{port}/metrics", timeout=10.0).decode()
    return int(sum(float(v) for v in re.findall(r"^vitals_readings_in_total\{[^}]*\} (\S+)$", text, re.M)))


def _wait_until_flowing(procs: list[subprocess.Popen[str]], ports: list[int], at_least: int) -> None:
    """Until the flow has taken ``at_least`` readings (summed over ``ports``): the processes installed their
    signal handlers (before the flow starts) and, in a cluster, joined (no reading flows before). A fixed sleep
    sent SIGTERM before the handlers on a loaded machine (exit -15); this waits as long as a start takes."""
    def flowing() -> bool:
        for proc in procs:
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"a replay ended (code {proc.returncode}) before it was stopped:\n{err[-3000:]}")
        return sum(_readings_in(port) for port in ports) >= at_least

    wait_for(flowing, 120, interval_s=0.2, what=f"{at_least} readings through the flow")


@pytest.fixture
def readings(tmp_path: Path) -> Path:
    path = tmp_path / "r.jsonl"
    path.write_text('{"ts": "2026-03-02T00:00:00Z", "indicator": "water_pressure", "area": "yuzhong-s01", '
                    '"value": 0.3}\n')
    return path


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts; any still running at the end is killed (by its own PID)."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _start(readings: Path, tmp_path: Path, process_id: int, started: list[subprocess.Popen[str]]
           ) -> subprocess.Popen[str]:
    addresses = ";".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitals", "-v", "replay", str(readings), "-i", str(process_id), "-a", addresses,
         "--metrics-port", "0", "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl"),
         "--final-vitals", str(tmp_path / "final.parquet")],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    return proc


def _wait_for_line(proc: subprocess.Popen[str], text: str, lines: list[str], timeout_s: float = 60.0) -> None:
    """Read stderr until a line contains ``text``; a reader thread keeps reading into ``lines``."""
    found = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if text in line:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout_s), f"no {text!r} line in {timeout_s} s: {lines}"
    assert proc.poll() is None, lines


def _stop(proc: subprocess.Popen[str], signum: signal.Signals, lines: list[str]) -> tuple[int, float]:
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{signum.name} did not end a process waiting for its cluster peers: {lines}")
    time.sleep(0.2)  # the reader thread takes the last lines
    return code, time.monotonic() - sent


def _our_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if PEERS in line]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_1_in_the_connect_loop_stops_on_a_signal(readings, tmp_path, signum, started):
    proc = _start(readings, tmp_path, 1, started)
    lines: list[str] = []
    _wait_for_line(proc, CONNECTING, lines)  # past the 5 s wait for process 0 to listen
    time.sleep(1.0)  # into Bytewax's connect loop (Rust)
    code, took = _stop(proc, signum, lines)
    assert code == 128 + signum, lines
    assert took < 10, took
    mine = _our_lines(lines)
    assert len(mine) == 1, lines
    assert f"{signum.name}: {PEERS} (this is process 1 of 2; process 0 at 127.0.0.1:" in mine[0]
    assert "exiting at once with code" in mine[0]
    assert not (tmp_path / "final.parquet").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_process_0_waiting_for_process_1_to_connect_stops_on_a_signal(readings, tmp_path, signum, started):
    proc = _start(readings, tmp_path, 0, started)
    lines: list[str] = []
    _wait_for_line(proc, "joining the cluster", lines)
    time.sleep(1.0)  # into Bytewax's accept loop
    code, took = _stop(proc, signum, lines)
    assert code == 128 + signum, lines
    assert took < 10, took
    mine = _our_lines(lines)
    assert len(mine) == 1, lines
    assert "(this is process 0 of 2; process 1 at 127.0.0.1:" in mine[0]


def test_a_signal_during_the_wait_for_lower_peers_stops_before_joining(readings, tmp_path, started):
    """Process 1 first waits (in Python, up to 5 s) for process 0 to listen: the handler runs there, and the run
    ends with a one-line error instead of going on into Timely's connect loop."""
    proc = _start(readings, tmp_path, 1, started)
    lines: list[str] = []
    _wait_for_line(proc, "joining the cluster", lines)
    code, _ = _stop(proc, signal.SIGTERM, lines)
    assert code == 143, lines
    mine = _our_lines(lines)
    assert len(mine) == 1, lines
    assert mine[0].startswith("vitals replay: error: SIGTERM: stopped while still waiting for its cluster peers ")


def test_the_watchdog_exits_when_the_handler_does_not_run_and_not_when_it_does():
    """In-process, with real signals: a handler that does not report (as if the main thread were in native code)
    makes the armed watchdog exit with 128 + signal; a reporting handler, or an unarmed watchdog, does not."""
    exits: list[int] = []
    watchdog = SignalWatchdog(grace_s=0.3, exit=exits.append)
    report = {"on": True}

    def handler(signum: int, frame: object) -> None:
        if report["on"]:
            watchdog.handled(signum)

    previous = signal.signal(signal.SIGUSR1, handler)
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    restore = watchdog.start()
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        with watchdog.armed("its cluster peers (test)"):
            os.kill(os.getpid(), signal.SIGUSR1)  # not watched: ignored even unreported
            report["on"] = False
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.6)
            assert exits == []
            report["on"] = True
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.6)
            assert exits == []
            report["on"] = False
            os.kill(os.getpid(), signal.SIGTERM)  # unarmed below: no exit
        report["on"] = False
        time.sleep(0.6)
        assert exits == []
        with watchdog.armed("its cluster peers (test)"):
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 5
            while not exits and time.monotonic() < deadline:
                time.sleep(0.05)
        assert exits == [143]
    finally:
        restore()
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGUSR1, previous)
    assert signal.set_wakeup_fd(-1) == before  # the restorer put the previous wakeup fd back
    signal.set_wakeup_fd(before)


def test_a_single_process_replay_still_stops_cleanly_on_the_first_sigterm(tmp_path, started):
    """Outside a cluster there is no watchdog: the first SIGTERM ends the input, the run exits 0 and writes its
    final vitals, as before."""
    lines = [f'{{"ts": "2026-03-02T00:{s // 60:02d}:{s % 60:02d}Z", "indicator": "water_pressure", '
             f'"area": "yuzhong_s001", "value": 0.3}}' for s in range(3600)]
    readings = tmp_path / "r.jsonl"
    readings.write_text("\n".join(lines) + "\n")  # a reading a second for an hour, paced at 1x: runs until stopped
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    port = _free_ports(1)[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitals", "replay", str(readings), "--speed", "1", "--metrics-port", str(port),
         "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl"), "--final-vitals",
         str(tmp_path / "final.parquet")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    _wait_until_flowing([proc], [port], at_least=2)  # started and paced: the second reading came a second later
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopping: ending the input" in err and PEERS not in err
    found = re.search(r"^([\d,]+) readings in ", out, re.M)
    assert found, out
    assert 2 <= int(found.group(1).replace(",", "")) < len(lines), out  # the signal ended the input, not its end
    assert (tmp_path / "final.parquet").exists()


def test_a_joined_cluster_still_stops_cleanly_on_the_first_sigterm(tmp_path, started):
    """Armed for the whole Bytewax run, the watchdog changes nothing once the cluster has joined: the handler
    answers at once, so the first SIGTERM ends the input and both processes exit 0 with their final vitals."""
    lines = [f'{{"ts": "2026-03-02T00:{s // 60:02d}:{s % 60:02d}Z", "indicator": "water_pressure", '
             f'"area": "yuzhong_s001", "value": 0.3}}' for s in range(3600)]
    readings = tmp_path / "r.jsonl"
    readings.write_text("\n".join(lines) + "\n")
    addresses = ";".join(f"127.0.0.1:{p}" for p in _free_ports(2))
    metrics = _consecutive_free_ports(2)  # process i serves /metrics on metrics + i
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for i in range(2):
        started.append(subprocess.Popen(
            [sys.executable, "-m", "vitals", "replay", str(readings), "--speed", "1", "-i", str(i), "-a", addresses,
             "--metrics-port", str(metrics), "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl"),
             "--final-vitals", str(tmp_path / "final.parquet")],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    _wait_until_flowing(started, [metrics, metrics + 1], at_least=1)  # both started and joined
    for proc in started:
        proc.send_signal(signal.SIGTERM)
    errs = [proc.communicate(timeout=60)[1] for proc in started]
    assert [p.returncode for p in started] == [0, 0], errs
    assert not any(PEERS in err for err in errs)
    assert (tmp_path / "final-p0.parquet").exists() and (tmp_path / "final-p1.parquet").exists()
