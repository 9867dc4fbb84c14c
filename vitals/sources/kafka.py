"""Kafka source: one confluent-kafka consumer per Kafka partition, decoding messages to columnar batches.

Messages carry the same payloads as MQTT (a JSON reading, a JSON array of readings, or JSON lines); the key
should be the series (``<indicator>/<area>``) so a series always lands in one Kafka partition and in order.

Offsets: a partition starts at the offset it is given (its Bytewax recovery snapshot, or the earliest retained
message) and reports the next offset to read; the recovery snapshot is what a restart resumes from. The
consumer group's committed offsets are written too (at every snapshot and at a clean stop), for lag
monitoring with the usual Kafka tools only: nothing here reads them back. Partitions are assigned, never
subscribed, so the group never rebalances.

A rejected reading is dead-lettered with its Kafka coordinates: the batch's partition is
``<topic>-<kafka partition>`` and each rejection carries the offset of the message that held the reading,
whether it was rejected while decoding (malformed, out of range ...) or later in the flow (late, duplicate;
see :func:`decode_records`). confluent-kafka is imported when a consumer is built (the ``kafka`` extra).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vitals.errors import SourceError, VitalsError
from vitals.sources.base import SourceBatch, now_ns
from vitals.sources.mqtt import PayloadParser

log = logging.getLogger(__name__)

OFFSET_EARLIEST = -2  # confluent_kafka.OFFSET_BEGINNING
Record = tuple[int, bytes]  # (offset, value) of one message


@dataclass(frozen=True)
class KafkaSettings:
    """``source: kafka``: config section ``sources: {kafka: {...}}``, flags ``--kafka-<key>``, variables
    ``VITALS_KAFKA_<KEY>``."""

    brokers: str = "127.0.0.1:9092"
    topic: str = "city-readings"
    stop_at_end: bool = False  # end the input at the end of every Kafka partition (backfills, drills)
    # more librdkafka consumer settings, "key=value[,key=value...]" (fetch tuning, security.protocol, ...); they
    # win over the defaults of consumer_config
    consumer: str = ""
    # batch assembly: hold a partition's fetched messages up to this long (while fewer than --batch-size) so that
    # one decode and one flow batch take them all; 0: hand on whatever one poll returned
    linger_ms: float = 0.0

    def problems(self) -> list[str]:
        out = []
        if not self.topic.strip():
            out.append("source=kafka needs kafka_topic")
        if not [b for b in self.brokers.split(",") if b.strip()]:
            out.append("source=kafka needs kafka_brokers (host:port[,host:port...])")
        if not 0 <= self.linger_ms <= 10_000:
            out.append("kafka_linger_ms must be between 0 and 10000")
        try:
            parse_consumer_settings(self.consumer)
        except ValueError as exc:
            out.append(str(exc))
        return out

    def consumer_settings(self) -> dict[str, str]:
        return parse_consumer_settings(self.consumer)


def parse_consumer_settings(text: str) -> dict[str, str]:
    """``"fetch.wait.max.ms=50, queued.min.messages=20000"`` -> a dict (ValueError naming a bad item)."""
    return parse_client_settings(text, "kafka_consumer", "consumer")


def parse_client_settings(text: str, option: str, kind: str) -> dict[str, str]:
    """librdkafka settings of a ``kind`` client (consumer, producer) given as ``option``: ``"key=value, ..."`` ->
    a dict (ValueError naming the option and a bad item)."""
    out: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            msg = f"{option}: {item!r} is not key=value (librdkafka {kind} settings, comma-separated)"
            raise ValueError(msg)
        out[key.strip()] = value.strip()
    return out


def consumer_config(brokers: str, *, group_id: str = "city-vitals", stop_at_end: bool = False,
                    extra: dict[str, str] | None = None) -> dict[str, Any]:
    """librdkafka settings of a partition's consumer (``extra`` wins). Only consumer settings: a producer or
    admin client given them would warn that they do not apply."""
    broker_list = ",".join(b.strip() for b in brokers.split(",") if b.strip())
    return {
        "bootstrap.servers": broker_list, "group.id": group_id,
        "enable.auto.commit": "false",        # offsets live in the Bytewax recovery snapshots
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",      # a snapshot offset the broker no longer has: its oldest message
        "enable.partition.eof": "true" if stop_at_end else "false",
        # how long a broker may hold a fetch while it has nothing new (librdkafka's default: 500 ms). On Tansu a
        # 100-message topic produced at 10 Hz took p50 0.14-0.18 s / p99 0.27-1.1 s from produce to consume with
        # 500 and 0.02 s / 0.04-0.07 s with 100; end to end at 100,000 readings/s, p99 under 1 s in 4 of 8 runs
        # against 0 of 8, for ~14 % more consumer CPU (smaller batches; docs/benchmarks.md, "Kafka, second pass")
        "fetch.wait.max.ms": "100",
        **(extra or {}),
    }


def partition_name(topic: str, partition: int, count: int = 0) -> str:
    """The source partition of a Kafka partition (watermarks, history files and dead letters use it):
    ``<topic>-<partition>``, the number zero-padded to the width of the topic's last partition (``count``
    partitions; ``city-readings-03`` of 12), so that names sort in partition order: Bytewax deals partitions to
    workers round-robin in sorted *name* order, and partition k must be read by worker k % W, where shard k lives
    (``pipelines/routing.py``). Topics of up to 10 partitions keep unpadded names (``city-readings-3``)."""
    width = len(str(count - 1)) if count > 1 else 1
    return f"{topic}-{partition:0{width}d}"


def partition_number(name: str) -> int:
    """The Kafka partition of a source partition name (:func:`partition_name`)."""
    return int(name.rsplit("-", 1)[1])


def _consumer(config: dict[str, Any]) -> Any:
    try:
        from confluent_kafka import Consumer
    except ImportError as exc:  # pragma: no cover - depends on the installation
        msg = "source=kafka needs confluent-kafka: pip install 'city-vitals[kafka]'"
        raise SourceError(msg) from exc
    return Consumer(config)


def list_partitions(config: dict[str, Any], topic: str, timeout_s: float = 10.0) -> list[int]:
    """The topic's Kafka partitions, from the brokers' metadata (a consumer asks, so no client warns). A failure
    is the one line of the :class:`SourceError`: librdkafka's own connection errors, logged every few ms while
    it retries, are kept quiet for this short-lived consumer (``log_level`` in ``config`` wins)."""
    consumer = _consumer({"log_level": 2, **{k: v for k, v in config.items() if k != "enable.partition.eof"}})
    try:
        return topic_partitions(consumer, topic, config["bootstrap.servers"], timeout_s, error=SourceError,
                                advice="create it with as many partitions as the most workers you will run")
    finally:
        consumer.close()


def topic_partitions(client: Any, topic: str, servers: str, timeout_s: float, *, error: type[VitalsError],
                     advice: str) -> list[int]:
    """The partitions of ``topic`` from the metadata a librdkafka ``client`` (consumer or producer) reads; an
    unreachable broker or a missing topic is one line: an ``error`` ending with ``advice``."""
    try:
        meta = client.list_topics(topic, timeout=timeout_s)
    except Exception as exc:
        msg = f"cannot read the metadata of Kafka topic {topic!r} from {servers} within {timeout_s:g}s: {exc}"
        raise error(msg) from exc
    found = meta.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        why = found.error if found is not None and found.error is not None else "no partitions"
        msg = f"Kafka topic {topic!r} on {servers}: {why}; {advice} (docs/kafka.md)"
        raise error(msg)
    return sorted(found.partitions)


def kafka_partition_count(brokers: str, topic: str, *, timeout_s: float = 10.0,
                          extra: dict[str, str] | None = None) -> int:
    """The number of partitions of ``topic`` (part of a recovery directory's identity: offsets are kept per
    partition). Asked by a consumer with the run's consumer settings, like :class:`KafkaSource` does; an
    unreachable broker or a missing topic is a one-line :class:`SourceError`."""
    return len(list_partitions(consumer_config(brokers, extra=extra), topic, timeout_s))


def decode_records(records: Sequence[Record], parser: PayloadParser, name: str, received_ns: int) -> SourceBatch:
    """One batch from the messages of one partition, each message read on its own.

    The batch seq is the first offset (dead letters of a replayed batch keep their key). The batch's input
    knows each reading's message offset (:class:`vitals.readings.input_text.MessageInput`), so a reading
    rejected later in the flow (late, duplicate) is dead-lettered with it. Each parse rejection carries
    the offset of its message: the parser places a rejection that knows its input item the same way (one parse,
    whatever the messages' shapes). Should one not know its item (the parser failed on a message), a rejected
    line of a JSON-lines (or one-reading) message is found in the messages by its raw text (:func:`_pin_lines`,
    no second parse); otherwise the messages are parsed again in halves until each rejection is pinned to its
    message (about three parses of the batch for one bad message)."""
    seq = records[0][0] if records else 0
    result = parser.parse_payloads([v for _, v in records], partition=name, seq=seq, received_ns=received_ns,
                                   offsets=_offsets(records))
    if any(r.offset is None for r in result.rejections):
        pinned = _pin_lines(records, result.rejections)
        result = _parse(records, parser, name, seq, received_ns) if pinned is None else \
            dataclasses.replace(result, rejections=pinned)
    return SourceBatch(result.batch, list(result.rejections), validated=True)


def _pin_lines(records: Sequence[Record], rejections: Sequence[Any]) -> list[Any] | None:
    """The rejections with the offsets of their messages, when each one's raw text is a whole line of a message,
    found after the previous rejection's line (rejections come in input order, and identical lines are read
    alike, so the next match in order is the right one); None when one is not found (an array element, a
    pretty-printed object, a clipped or re-encoded raw text): then the caller parses in halves."""
    out = []
    at, pos = 0, 0
    bodies = [value.strip() for _, value in records]
    for rejection in rejections:
        line = rejection.raw.encode() if rejection.raw.isascii() and rejection.raw.strip() else None
        if line is None:
            return None
        found = _find_line(bodies[at], line, pos)
        while found < 0 and at + 1 < len(records):
            at, pos = at + 1, 0
            found = _find_line(bodies[at], line, pos)
        if found < 0:
            return None
        pos = found
        out.append(dataclasses.replace(rejection, offset=records[at][0]))
    return out


def _find_line(body: bytes, line: bytes, pos: int) -> int:
    """The end of the first whole line ``line`` of ``body`` starting at or after ``pos`` (bounded by the start
    or a newline, and the end or a line end), or -1."""
    start = body.find(line, pos)
    while start >= 0:
        end = start + len(line)
        if (start == 0 or body[start - 1] == 10) and (end == len(body) or body[end] in (10, 13)):
            return end
        start = body.find(line, start + 1)
    return -1


def _offsets(records: Sequence[Record]) -> Sequence[int]:
    """The offsets of the messages: a ``range`` when they are consecutive (the usual batch: a partition's offsets
    increase, so first and last tell), kept by the batch's input without a list per message."""
    if records and records[-1][0] - records[0][0] == len(records) - 1:
        return range(records[0][0], records[-1][0] + 1)
    return [o for o, _ in records]


def _parse(records: Sequence[Record], parser: PayloadParser, name: str, seq: int, received_ns: int) -> Any:
    result = parser.parse_payloads([v for _, v in records], partition=name, seq=seq, received_ns=received_ns,
                                   offsets=_offsets(records))
    if not result.rejections:
        return result
    if len(records) == 1:
        offset = records[0][0]
        return dataclasses.replace(result, rejections=[dataclasses.replace(r, offset=offset)
                                                       for r in result.rejections])
    mid = len(records) // 2
    halves = [_parse(records[:mid], parser, name, seq, received_ns),
              _parse(records[mid:], parser, name, seq, received_ns)]
    return type(result).concat(halves)


class KafkaPartitionReader:
    """Reads one Kafka partition from ``start_offset`` (an offset, or :data:`OFFSET_EARLIEST`)."""

    def __init__(self, config: dict[str, Any], topic: str, partition: int, start_offset: int,
                 parser: PayloadParser, *, max_messages: int = 5000, name: str | None = None,
                 linger_s: float = 0.0, max_bytes: int = 8 << 20) -> None:
        from confluent_kafka import KafkaError, TopicPartition

        self._eof_code = KafkaError._PARTITION_EOF
        self.topic, self.partition = topic, partition
        self.name = name or partition_name(topic, partition)
        self.parser = parser
        self.max_messages = max_messages
        # batch assembly: messages fetched are held up to linger_s (from the first one's arrival) while fewer
        # than max_messages and max_bytes are pending, so that one decode and one flow batch take them all
        self.linger_s = linger_s
        self.max_bytes = max_bytes
        self._pending: list[Record] = []
        self._pending_bytes = 0
        self._pending_since = 0.0
        self.next_offset = start_offset  # the offset after the last message handed on (the resume state)
        self.at_end = False  # reached the end of the partition (only with enable.partition.eof)
        self._committed = start_offset
        self._last_error_log = 0.0
        self._consumer = _consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, start_offset)])
        log.info("reading Kafka %s from %s", self.name,
                    "the earliest offset" if start_offset == OFFSET_EARLIEST else f"offset {start_offset}")

    def read(self) -> SourceBatch | None:
        """The messages fetched so far (never waits), decoded; None when there are none, or while they are
        held for batch assembly (``linger_s``). Held messages are not in :attr:`next_offset` (a snapshot taken
        meanwhile resumes before them)."""
        records = self._pending
        for m in self._consumer.consume(self.max_messages - len(records), 0):
            err = m.error()
            if err is None:
                value = m.value()
                body = value if isinstance(value, bytes) else b""
                if not records:
                    self._pending_since = time.monotonic()
                records.append((int(m.offset()), body))
                self._pending_bytes += len(body)
                self.at_end = False
            elif err.code() == self._eof_code:  # may come in the same call as the last messages
                self.at_end = True
            else:
                self._error(err)
        if not records or not self._due():
            return None
        self._pending, self._pending_bytes = [], 0
        self.next_offset = records[-1][0] + 1
        return decode_records(records, self.parser, self.name, now_ns())

    def _due(self) -> bool:
        return (self.linger_s <= 0 or self.at_end or len(self._pending) >= self.max_messages
                or self._pending_bytes >= self.max_bytes
                or time.monotonic() - self._pending_since >= self.linger_s)

    def holding(self) -> float | None:
        """Seconds until held messages are due (0: due now), or None when none are held."""
        if not self._pending:
            return None
        return max(0.0, self.linger_s - (time.monotonic() - self._pending_since))

    def _error(self, err: Any) -> None:
        if err.fatal():
            msg = f"Kafka {self.name}: fatal consumer error: {err.str()}"
            raise SourceError(msg)
        if time.monotonic() - self._last_error_log > 10:  # librdkafka retries on its own; say so now and then
            self._last_error_log = time.monotonic()
            log.warning("Kafka %s: %s (retrying)", self.name, err.str())

    def commit(self, *, wait: bool = False) -> None:
        """Write the next offset to the consumer group (monitoring only; recovery uses the snapshots)."""
        if self.next_offset < 0 or self.next_offset == self._committed:
            return
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self._consumer.commit(offsets=[TopicPartition(self.topic, self.partition, self.next_offset)],
                                  asynchronous=not wait)
            self._committed = self.next_offset
        except KafkaException as exc:
            log.warning("Kafka %s: could not commit offset %d: %s", self.name, self.next_offset, exc)

    def close(self) -> None:
        # not a synchronous commit: with the broker gone it would hold a clean stop for minutes; librdkafka's
        # close sends the pending commit and waits for it a bounded time
        self.commit()
        self._consumer.close()
