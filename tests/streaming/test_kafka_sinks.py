"""The optional Kafka outputs (``kafka_changes``, ``kafka_vitals``; vitals/stream/kafka_sinks.py): the change
tracker against a pandas oracle, and a replay into a live broker (Tansu) whose topics are read back: the vitals
messages are exactly the history's vitals files, and replaying the change messages gives every series' final
warning level."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streaming_support import REPO
from vitals_testing import need_binary

from vitals.catalog import Catalog
from vitals.catalog.model import LEVEL_NAMES
from vitals.history import read_vitals
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.services import RunningService, create_topic, start_tansu
from vitals.state.view import VitalsView
from vitals.stream.kafka_sinks import ChangeTracker, encode_table

NS = 1_000_000_000


def _view(catalog: Catalog, series: list[int], level: list[float], score: list[float]) -> VitalsView:
    ids = np.array(series, dtype=np.int64)
    return VitalsView(ids, (ids // catalog.n_streets).astype(np.int16), (ids % catalog.n_streets).astype(np.int32),
                      {"level": np.array(level), "anomaly_score": np.array(score),
                       "last": np.arange(len(ids), dtype=float)})


def _oracle(before: pd.DataFrame | None, now: pd.DataFrame) -> pd.DataFrame:
    """The changes by pandas: an outer-left merge on the series id, a series not seen before compared with normal
    and not anomalous."""
    now = now.assign(anomalous=now["anomaly_score"] >= ANOMALY_THRESHOLD)
    if before is None:
        merged = now.assign(prev_level=0.0, prev_anomalous=False, known=False)
    else:
        prev = before.assign(prev_anomalous=before["anomaly_score"] >= ANOMALY_THRESHOLD, known=True)
        merged = now.merge(prev[["series", "level", "prev_anomalous", "known"]].rename(columns={"level": "prev_level"}),
                           on="series", how="left")
        merged["known"] = merged["known"].eq(True)
        merged["prev_level"] = merged["prev_level"].fillna(0.0)
        merged["prev_anomalous"] = merged["prev_anomalous"].eq(True)
    changed = (merged["level"] != merged["prev_level"]) | (merged["anomalous"] != merged["prev_anomalous"])
    return merged[changed]


def test_changes_match_a_pandas_oracle(small_catalog: Catalog) -> None:
    rng = np.random.default_rng(3)
    tracker = ChangeTracker(small_catalog)
    before = None
    for step in range(12):
        ids = np.sort(rng.choice(600, size=int(rng.integers(1, 300)), replace=False))
        ids = rng.permutation(ids) if step % 3 == 0 else ids  # order of a view is not assumed
        level = rng.choice(5, size=ids.size, p=[0.6, 0.1, 0.1, 0.1, 0.1]).astype(float)
        score = rng.uniform(0, 0.6, size=ids.size)
        view = _view(small_catalog, ids.tolist(), level.tolist(), score.tolist())
        frame = pd.DataFrame({"series": ids, "level": level, "anomaly_score": score})
        got = tracker.changes(2, view, (1_700_000_000 + step) * NS)
        want = _oracle(before, frame)
        assert [k.decode() for k, _ in got] == [
            f"{small_catalog.indicators[s // small_catalog.n_streets].id}/"
            f"{small_catalog.streets[s % small_catalog.n_streets].id}" for s in want["series"]]
        for (_, doc), (_, row) in zip(got, want.iterrows(), strict=True):
            assert doc["level"] == LEVEL_NAMES[int(row["level"])]
            assert doc["previous_level"] == (LEVEL_NAMES[int(row["prev_level"])] if row["known"] else None)
            assert doc["anomalous"] == bool(row["anomalous"])
            assert set(doc["change"]) <= {"level_up", "level_down", "anomaly_start", "anomaly_end"} and doc["change"]
        before = frame
    assert tracker.changes(5, _view(small_catalog, [1, 2], [0, 0], [0.1, 0.1]), 0) == []  # another shard, all quiet


def test_encoded_snapshots_read_back() -> None:
    table = pa.table({"at": pa.array([1_700_000_000 * NS] * 2, pa.timestamp("ns", tz="UTC")),
                      "indicator": ["a", "b"], "level": [1.0, float("nan")]})
    back = pa.ipc.open_stream(encode_table(table, "arrow")).read_all()
    assert back.schema == table.schema
    pd.testing.assert_frame_equal(back.to_pandas(), table.to_pandas())  # NaN included
    lines = [json.loads(line) for line in encode_table(table, "jsonl").decode().splitlines()]
    assert lines == [{"at": "2023-11-14T22:13:20.000000Z", "indicator": "a", "level": 1.0},
                     {"at": "2023-11-14T22:13:20.000000Z", "indicator": "b", "level": None}]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    need_binary("tansu")
    service = start_tansu(tmp_path_factory.mktemp("tansu"))
    try:
        yield service
    finally:
        service.stop()


def _consume(broker: RunningService, topic: str, partitions: int) -> list[object]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{broker.port}", "group.id": "test",
                         "enable.partition.eof": True, "log_level": 2})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, ended = [], 0
    try:
        while ended < partitions:
            msg = consumer.poll(10)
            assert msg is not None, f"{topic}: no end of partition within 10 s"
            if msg.error():
                ended += 1
            else:
                out.append(msg)
    finally:
        consumer.close()
    return out


def _replay(config: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vitals", "replay", str(data), "--config", str(config),
                           "--streets", "76", "--no-progress", "--metrics-port", "0",
                           "--dead-letters", str(out / "dead.jsonl"), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.integration
def test_a_replay_into_kafka(broker: RunningService, tmp_path: Path) -> None:
    data = tmp_path / "city.parquet"
    subprocess.run([sys.executable, "-m", "vitals", "simulate", "--hours", "2", "--streets", "76", "--seed", "3",
                    "--start", "2026-03-02T06:00:00Z", "--incident", "substation_overload@jiangbei@+40m",
                    "--no-progress", "--out", str(data)], cwd=REPO, check=True, capture_output=True, timeout=120)
    create_topic(broker, "changes", 2)
    create_topic(broker, "vitals", 3)
    config = tmp_path / "city.yaml"
    config.write_text(f"sinks:\n  kafka_changes: {{brokers: '127.0.0.1:{broker.port}', topic: changes}}\n"
                      f"  kafka_vitals: {{brokers: '127.0.0.1:{broker.port}', topic: vitals, rows_per_message: 500}}\n")
    done = _replay(config, data, tmp_path, "--history-dir", str(tmp_path / "h"),
                   "--final-vitals", str(tmp_path / "final.parquet"))
    assert done.returncode == 0, done.stderr[-3000:]

    # the vitals topic holds the history's vitals, row for row (Arrow, parts of at most 500 rows)
    messages = _consume(broker, "vitals", 3)
    tables = [pa.ipc.open_stream(m.value()).read_all() for m in messages]  # type: ignore[attr-defined]
    assert max(t.num_rows for t in tables) == 500
    assert {dict(m.headers())["format"] for m in messages} == {b"arrow"}  # type: ignore[attr-defined]
    sent = pa.concat_tables(tables).to_pandas()
    written = read_vitals(tmp_path / "h").drop(columns=["date"])
    assert len(sent) == len(written) > 0

    def by_key(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["series", "at"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(by_key(sent), by_key(written[sent.columns]), check_categorical=False)

    # replaying the change messages in order gives the final warning level of every series
    level: dict[str, str] = {}
    for msg in _consume(broker, "changes", 2):
        doc = json.loads(msg.value())  # type: ignore[attr-defined]
        assert msg.key().decode() == f"{doc['indicator']}/{doc['area']}"  # type: ignore[attr-defined]
        level[msg.key().decode()] = doc["level"]  # type: ignore[attr-defined]
    final = pd.read_parquet(tmp_path / "final.parquet")
    final_level = {f"{r.indicator}/{r.area}": LEVEL_NAMES[int(r.level)] for r in final.itertuples()}
    assert any(v in ("orange", "red") for v in level.values())  # the incident was announced
    assert {k: v for k, v in level.items() if v != "normal"} == {k: v for k, v in final_level.items()
                                                                 if v != "normal"}


@pytest.mark.integration
def test_a_missing_topic_or_a_bad_setting_is_one_line(broker: RunningService, tmp_path: Path) -> None:
    data = tmp_path / "city.parquet"
    subprocess.run([sys.executable, "-m", "vitals", "simulate", "--hours", "0.2", "--streets", "76",
                    "--no-progress", "--out", str(data)], cwd=REPO, check=True, capture_output=True, timeout=120)
    for section, message in (
        (f"kafka_changes: {{brokers: '127.0.0.1:{broker.port}', topic: nope}}",
         f"Kafka topic 'nope' on 127.0.0.1:{broker.port}"),
        (f"kafka_vitals: {{brokers: '127.0.0.1:{broker.port}', format: csv}}", "format must be one of arrow, jsonl"),
        ("kafka_vitals: {rows_per_message: 0}", "rows_per_message must be >= 1"),
    ):
        config = tmp_path / "c.yaml"
        config.write_text(f"sinks:\n  {section}\n")
        done = _replay(config, data, tmp_path)
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], done.stderr
