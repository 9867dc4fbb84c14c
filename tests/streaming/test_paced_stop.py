"""A paced replay of a sparse feed stops on the first SIGTERM within a second, not at its next reading: Bytewax
calls a partition's ``next_batch`` (where the stop flag is seen) no earlier than its ``next_awake``, which was
the next reading's due time (a minute away for a reading a minute at speed 1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from vitals_testing import REPO

from vitals.services import free_port, http_get, wait_for
from vitals.sources.base import STOP_POLL_S, EventTimePacer


def _alive(proc: subprocess.Popen[str]) -> bool:
    if proc.poll() is not None:
        out, err = proc.communicate()
        raise AssertionError(f"the replay ended (code {proc.returncode}) before it was stopped:\n{out}{err[-3000:]}")
    return True


def _readings_in(port: int) -> int:
    text = http_get(f"http://127.0.0.1:{port}/metrics", timeout=10.0).decode()
    return int(sum(float(v) for v in re.findall(r"^vitals_readings_in_total\{[^}]*\} (\S+)$", text, re.M)))


def test_a_pacer_wakes_its_partition_at_least_every_poll_interval() -> None:
    pacer = EventTimePacer(1.0)
    assert pacer.next_awake(0) is None  # the first batch anchors and is due at once
    ahead = pacer.next_awake(3600 * 10**9)  # an hour of event time later: due in an hour
    assert ahead is not None
    assert ahead.timestamp() - time.time() <= STOP_POLL_S + 0.05
    assert pacer.due_ns(3600 * 10**9) - time.time_ns() > 3500 * 10**9  # still due in an hour
    assert EventTimePacer(0.0).next_awake(int(np.int64(5))) is None


def test_a_sparse_paced_replay_stops_on_the_first_sigterm_at_once(tmp_path: Path) -> None:
    lines = [f'{{"ts": "2026-03-02T{m // 60:02d}:{m % 60:02d}:00Z", "indicator": "water_pressure", '
             f'"area": "yuzhong_s001", "value": 0.3}}' for m in range(120)]
    readings = tmp_path / "r.jsonl"
    readings.write_text("\n".join(lines) + "\n")  # a reading a minute: the next one is due a minute later at 1x
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitals", "replay", str(readings), "--speed", "1", "--metrics-port", str(port),
         "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl"), "--final-vitals",
         str(tmp_path / "final.parquet")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the first reading is in (so the partition waits for the next, due a minute after it): the condition the
        # old code hung in. A start takes ~10 s at load 10 on 2 cores; a fixed sleep could signal before it.
        wait_for(lambda: _alive(proc) and _readings_in(port) >= 1, 120, interval_s=0.2, what="the first reading")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=50)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"still running 50 s after SIGTERM (the old code waited for the next reading's due "
                                 f"time, ~59 s):\n{err[-3000:]}") from None
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 15, took  # on the old code: until the next reading's due time, ~57 s (the timeout above)
    assert "stopping: ending the input" in err and (tmp_path / "final.parquet").exists()
