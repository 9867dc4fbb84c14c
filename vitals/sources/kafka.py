"""Kafka: configuration and decoding. The reading itself is Bytewax's Kafka connector (partitions map to
workers; offsets are kept in Bytewax recovery snapshots, so a resume continues where it stopped).

Messages carry the same payloads as MQTT (a JSON reading, a JSON array of readings, or JSON lines); the key
should be the series (``<indicator>/<area>``) so a series always lands in one Kafka partition. After
decoding, batches take exactly the path of the tested file and MQTT sources.

No Kafka broker can run on the development machines: the decoding and configuration are unit tested, the
connector is Bytewax's own (see docs/sources.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from vitals.batches import ReadingBatch, Rejection
from vitals.errors import SourceError
from vitals.sources.base import SourceBatch, now_ns
from vitals.sources.mqtt import PayloadParser


class KafkaMessage(Protocol):
    """The fields of ``bytewax.connectors.kafka.KafkaSourceMessage`` that decoding uses."""

    value: Any
    partition: int | None
    offset: int | None


def kafka_source_config(brokers: str, *, group_id: str = "city-vitals", extra: dict[str, str] | None = None
                        ) -> dict[str, Any]:
    """Arguments for ``KafkaSource``: broker list and librdkafka settings (``extra`` wins)."""
    broker_list = [b.strip() for b in brokers.split(",") if b.strip()]
    add_config = {"group.id": group_id, "enable.auto.commit": "false", **(extra or {})}
    return {"brokers": broker_list, "add_config": add_config}


def kafka_partition_count(brokers: str, topic: str, *, timeout_s: float = 10.0,
                          extra: dict[str, str] | None = None) -> int:
    """The number of partitions of ``topic`` (part of a recovery directory's identity: offsets are kept per
    partition). An unreachable broker or a missing topic is a one-line :class:`SourceError`."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": ",".join(kafka_source_config(brokers)["brokers"]), **(extra or {})}
    try:
        metadata = AdminClient(config).list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        msg = f"cannot read the metadata of Kafka topic {topic!r} from {brokers} within {timeout_s:g}s: {exc}"
        raise SourceError(msg) from exc
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        why = found.error if found is not None and found.error is not None else "no partitions"
        msg = f"Kafka topic {topic!r} on {brokers}: {why}; create it or check --kafka-topic"
        raise SourceError(msg)
    return len(found.partitions)


def decode_messages(messages: Iterable[Any], parser: PayloadParser, topic: str) -> list[SourceBatch]:
    """One SourceBatch per Kafka partition in the list; a message that is a Kafka error becomes a rejection.

    The partition name is ``<topic>-<kafka partition>`` (watermarks are per Kafka partition) and the batch
    seq is the first offset of the batch (so dead letters of a replayed batch have the same key).
    """
    groups: dict[int, list[Any]] = defaultdict(list)
    errors: list[Rejection] = []
    for m in messages:
        if not hasattr(m, "value"):  # a KafkaError item (raise_on_errors=False)
            errors.append(Rejection("malformed", repr(m), "Kafka delivered an error instead of a message"))
            continue
        groups[int(m.partition or 0)].append(m)
    out: list[SourceBatch] = []
    for part, items in sorted(groups.items()):
        payloads = [m.value if isinstance(m.value, bytes) else str(m.value).encode() for m in items]
        seq = int(items[0].offset or 0)
        result = parser.parse_payloads(
            payloads, partition=f"{topic}-{part}", seq=seq, received_ns=now_ns(),
        )
        out.append(SourceBatch(result.batch, list(result.rejections)))
    if errors and out:
        out[0] = SourceBatch(out[0].batch, [*out[0].rejections, *errors])
    elif errors:
        out.append(SourceBatch(ReadingBatch.empty(partition=f"{topic}-errors", received_ns=now_ns()), errors))
    return out
