"""Kafka: configuration and decoding (no broker can run here; the connector itself is Bytewax's).

After decoding, batches take the same path as the tested file and MQTT sources; these tests pin the decoding
(payload shapes, partitions -> watermark partitions, errors -> rejections) and the flow wiring."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.dataflow import Dataflow

from pipelines.connectors import kafka_input
from vitals.config import load_settings
from vitals.errors import ConfigError
from vitals.readings import ReadingParser
from vitals.sources.kafka import decode_messages, kafka_source_config


def _reading(catalog, i: int, value: float = 0.3) -> dict:
    return {"ts": f"2026-11-26T02:{i:02d}:00Z", "indicator": "water_pressure", "area": catalog.streets[i].id,
            "value": value}


def _message(payload: bytes, partition: int, offset: int) -> KafkaSourceMessage:
    return KafkaSourceMessage(key=b"water_pressure/x", value=payload, topic="city-readings", partition=partition,
                              offset=offset)


def test_config_splits_brokers_and_never_auto_commits():
    cfg = kafka_source_config("k1:9092, k2:9092,,", extra={"security.protocol": "SSL"})
    assert cfg["brokers"] == ["k1:9092", "k2:9092"]
    assert cfg["add_config"]["enable.auto.commit"] == "false"  # offsets live in Bytewax recovery snapshots
    assert cfg["add_config"]["group.id"] == "city-vitals" and cfg["add_config"]["security.protocol"] == "SSL"


def test_decoding_groups_by_kafka_partition_and_accepts_every_payload_shape(small_catalog):
    parser = ReadingParser(small_catalog)
    one = orjson.dumps(_reading(small_catalog, 1))
    array = orjson.dumps([_reading(small_catalog, 2), _reading(small_catalog, 3)])
    lines = orjson.dumps(_reading(small_catalog, 4)) + b"\n" + orjson.dumps(_reading(small_catalog, 5))
    bad = b'{"ts": "2026-11-26T02:06:00Z", "indicator": "nope", "area": "x", "value": 1}'
    batches = decode_messages([_message(one, 0, 10), _message(array, 1, 7), _message(lines, 0, 11),
                               _message(bad, 1, 8)], parser, "city-readings")
    assert [b.partition for b in batches] == ["city-readings-0", "city-readings-1"]
    assert [b.seq for b in batches] == [10, 7]  # first offset: dead letters of a replayed batch keep their key
    assert [len(b.batch) for b in batches] == [3, 2]
    assert [r.reason for r in batches[1].rejections] == ["unknown_indicator"]
    assert sum(b.size for b in batches) == 6


def test_kafka_errors_become_rejections_not_crashes(small_catalog):
    @dataclass
    class KafkaError:  # what the connector yields with raise_on_errors=False
        err: str

    batches = decode_messages([KafkaError("broker down")], ReadingParser(small_catalog), "t")
    assert len(batches) == 1 and len(batches[0].batch) == 0
    assert batches[0].rejections[0].reason == "malformed" and "broker down" in batches[0].rejections[0].raw


def test_malformed_payloads_are_rejected_with_their_raw_text(small_catalog):
    (batch,) = decode_messages([_message(b"[not json", 0, 1), _message(b"\xff\xfe", 0, 2)],
                               ReadingParser(small_catalog), "t")
    assert len(batch.batch) == 0
    assert [r.reason for r in batch.rejections] == ["malformed", "malformed"]


def test_the_flow_wires_bytewax_kafka_source_without_connecting(small_catalog):
    flow = Dataflow("kafka_wiring")
    stream = kafka_input(flow, brokers="127.0.0.1:1", topic="city-readings",
                         make_parser=lambda: ReadingParser(small_catalog))
    assert stream.stream_id.endswith("decode_kafka.down")


def test_kafka_settings_are_checked():
    settings = load_settings(None, {}, source="kafka", kafka_brokers="k1:9092", kafka_topic="city-readings")
    assert settings.source == "kafka"
    with pytest.raises(ConfigError, match="kafka_topic"):
        load_settings(None, {}, source="kafka", kafka_topic=" ")
    with pytest.raises(ConfigError, match="kafka_brokers"):
        load_settings(None, {"VITALS_KAFKA_BROKERS": ","}, source="kafka")


def test_the_partition_count_of_an_unreachable_broker_is_one_line() -> None:
    """The recovery identity of a Kafka run holds its topic's partition count; no broker is one line."""
    import time

    from vitals.errors import SourceError
    from vitals.sources.kafka import kafka_partition_count

    started = time.monotonic()
    with pytest.raises(SourceError, match="cannot read the metadata of Kafka topic 'city-readings'") as err:
        kafka_partition_count("127.0.0.1:1", "city-readings", timeout_s=1.0)
    assert "\n" not in str(err.value) and time.monotonic() - started < 10


def test_a_kafka_recovery_identity_holds_topic_and_partitions(tmp_path) -> None:
    from pipelines.preflight import source_identity
    from vitals.config import load_settings
    from vitals.recovery import differences, run_identity

    settings = load_settings(None, {}, source="kafka", recovery_dir=str(tmp_path))
    ident = {n: run_identity(source=source_identity(settings, None, lambda n=n: n), shards=4, partitions=4,
                             catalog_sha256="c") for n in (6, 12)}
    assert ident[6]["source"] == {"kind": "kafka", "topic": "city-readings", "kafka_partitions": 6}
    assert differences(ident[6], ident[12]) == ["kafka_partitions 6 -> 12"]
