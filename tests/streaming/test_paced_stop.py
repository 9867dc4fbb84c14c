"""A paced replay of a sparse feed stops on the first SIGTERM within a second, not at its next reading: Bytewax
calls a partition's ``next_batch`` (where the stop flag is seen) no earlier than its ``next_awake``, which was
the next reading's due time (a minute away for a reading a minute at speed 1)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from vitals_testing import REPO

from vitals.sources.base import STOP_POLL_S, EventTimePacer


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
    proc = subprocess.Popen(
        [sys.executable, "-m", "vitals", "replay", str(readings), "--speed", "1", "--metrics-port", "0",
         "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl"), "--final-vitals",
         str(tmp_path / "final.parquet")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "dead.jsonl").exists() and time.monotonic() < deadline:  # made at the flow's start
            time.sleep(0.2)
        time.sleep(3)  # the first reading is in; the next is due ~57 s from now
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=50)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 15, took  # on the old code: until the next reading's due time, ~57 s (the timeout above)
    assert "stopping: ending the input" in err and (tmp_path / "final.parquet").exists()
