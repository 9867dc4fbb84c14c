"""Kafka outputs for those who want them (docs/kafka.md, "Outputs to Kafka"): two sinks of
:data:`vitals.stream.sinks.SINKS`.

- ``kafka_changes`` (output ``published``): one JSON message per *state change* of a series that an operations
  center acts on: its warning level changed (normal, blue, yellow, orange, red), or its anomaly score crossed the
  decision threshold (``ANOMALY_THRESHOLD``) up or down. Keyed ``<indicator>/<area>``, so a series' changes stay
  in order on one partition. Compared between consecutive publications of a shard (what /metrics shows, every
  ``publish_interval`` of wall time and at the end of the input), so a level that goes up and back down between
  two publications is not seen, as Prometheus would not see it either.
- ``kafka_vitals`` (output ``history``): the vitals snapshots the history writes (every series of a shard at each
  5-minute boundary of event time), one message per snapshot part of at most ``rows_per_message`` series: an
  Arrow IPC stream of the history's vitals schema (``format: arrow``, the default; ``pyarrow.ipc.open_stream``
  reads it), or JSON lines (``format: jsonl``, one object per series). Keyed ``shard<NNN>``, with headers
  ``run_id``, ``shard``, ``at`` (the boundary, ISO 8601 UTC) and ``format``.

Delivery is at least once: after a crash Bytewax replays the epoch being written, and a restarted run announces
every series above normal (or anomalous) at its first publication again (``previous`` is null then). Consumers
that must count exactly deduplicate by (key, ``at``). A producer that cannot deliver logs one warning per failure
kind, counts the failures, and reports them at the end of the run; the flow does not stop for a broker outage.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import LEVEL_NAMES
from vitals.errors import SinkError
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.sources.kafka import parse_client_settings, topic_partitions
from vitals.stream.shard_step import ShardPublish, VitalsChunk
from vitals.units import utc_iso

if TYPE_CHECKING:
    from vitals.catalog import Catalog
    from vitals.state.view import VitalsView
    from vitals.stream.sinks import SinkContext

log = logging.getLogger(__name__)

FORMATS = ("arrow", "jsonl")
# vitals columns a change message carries (when the view has them and they are finite): the reading, the score,
# the expected band, and the time to the next levels forecast by the early warning
MESSAGE_COLUMNS = ("last", "anomaly_score", "expected_lower", "expected_mid", "expected_upper", "seconds_to_blue",
                   "seconds_to_yellow", "seconds_to_orange", "seconds_to_red")


def _broker_problems(brokers: str, topic: str, producer: str) -> list[str]:
    out = []
    if not topic.strip():
        out.append("needs a topic")
    if not [b for b in brokers.split(",") if b.strip()]:
        out.append("needs brokers (host:port[,host:port...])")
    try:
        parse_client_settings(producer, "producer", "producer")
    except ValueError as exc:
        out.append(str(exc))
    return out


class KafkaProducerSink:
    """A librdkafka producer shared by the process's workers (thread-safe), checked against the topic's metadata
    when opened: an unreachable broker or a missing topic is one line before the first reading."""

    def __init__(self, brokers: str, topic: str, producer: str = "", *, timeout_s: float = 10.0) -> None:
        try:
            from confluent_kafka import Producer
        except ImportError as exc:  # pragma: no cover - depends on the installation
            msg = "the Kafka sinks need confluent-kafka: pip install 'city-vitals[kafka]'"
            raise SinkError(msg) from exc
        self.topic = topic
        servers = ",".join(b.strip() for b in brokers.split(",") if b.strip())
        # a topic that does not exist is an error (a typo), not a new topic with the broker's defaults
        config = {"bootstrap.servers": servers, "linger.ms": "20", "compression.type": "lz4",
                  "allow.auto.create.topics": "false", "log_level": 2,
                  **parse_client_settings(producer, "producer", "producer")}
        self._producer = Producer(config)
        topic_partitions(self._producer, topic, servers, timeout_s, error=SinkError, advice="create it before the run")
        self.sent = 0
        self.failed = 0
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def _delivered(self, err: Any, _msg: Any) -> None:
        if err is None:
            return
        with self._lock:
            self.failed += 1
            kind = str(err.name() if hasattr(err, "name") else err)
            if kind not in self._warned:
                self._warned.add(kind)
                log.warning("Kafka topic %s: a message was not delivered (%s); further ones of this kind are "
                            "counted, not logged", self.topic, err)

    def produce(self, key: bytes, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None) -> None:
        while True:
            try:
                self._producer.produce(self.topic, key=key, value=value, headers=headers,
                                       on_delivery=self._delivered)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)
        with self._lock:
            self.sent += 1
        self._producer.poll(0)

    def close(self, timeout_s: float = 30.0) -> None:
        left = self._producer.flush(timeout_s)
        if left or self.failed:
            log.error("Kafka topic %s: %d of %d messages not delivered (%d still queued at the end)", self.topic,
                      self.failed + left, self.sent, left)
        else:
            log.info("Kafka topic %s: %d messages delivered", self.topic, self.sent)


@dataclass(frozen=True)
class KafkaChangesSettings:
    """``sinks: {kafka_changes: {brokers: host:port, topic: city-vitals-changes}}``: a JSON message per warning
    level change or anomaly onset / end of a series (module docstring)."""

    output: ClassVar[str] = "published"
    brokers: str = "127.0.0.1:9092"
    topic: str = "city-vitals-changes"
    producer: str = ""  # more librdkafka producer settings, "key=value[,key=value...]" (security.protocol, ...)

    def problems(self) -> list[str]:
        return _broker_problems(self.brokers, self.topic, self.producer)

    def open(self, context: SinkContext) -> KafkaChanges:
        return KafkaChanges(KafkaProducerSink(self.brokers, self.topic, self.producer), context.catalog)


@dataclass
class _Seen:
    series: npt.NDArray[np.int64]
    level: npt.NDArray[np.int64]
    anomalous: npt.NDArray[np.bool_]


class KafkaChanges:
    """Produces the changes a :class:`ChangeTracker` finds in each shard publication."""

    def __init__(self, sink: KafkaProducerSink, catalog: Catalog) -> None:
        self.sink = sink
        self.tracker = ChangeTracker(catalog)

    def __call__(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, ShardPublish) and len(item.view):
                for key, doc in self.tracker.changes(item.shard, item.view, item.clock_ns):
                    self.sink.produce(key, json.dumps(doc, ensure_ascii=False).encode())

    def close(self) -> None:
        self.sink.close()


class ChangeTracker:
    """Each shard's last published warning levels and anomaly flags, and what changed since (thread-safe: the
    workers of a process publish their own shards)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._seen: dict[int, _Seen] = {}
        self._lock = threading.Lock()

    def changes(self, shard: int, view: VitalsView, clock_ns: int) -> list[tuple[bytes, dict[str, Any]]]:
        """The changes of ``view`` against the shard's previous publication, as ``(key, message)``; a series not
        in it (the shard's first publication, or a series seen for the first time) counts as a change when it is
        above normal or anomalous (``previous_level`` null)."""
        cols = view.columns
        level = np.nan_to_num(cols.get("level", np.zeros(len(view)))).astype(np.int64)
        score = cols.get("anomaly_score")
        anomalous = (np.nan_to_num(score) >= ANOMALY_THRESHOLD if score is not None
                     else np.zeros(len(view), dtype=bool))
        with self._lock:
            before = self._seen.get(shard)
            self._seen[shard] = _Seen(view.series.copy(), level, anomalous)
        known = np.zeros(len(view), dtype=bool)
        prev_level = np.zeros(len(view), dtype=np.int64)
        prev_anomalous = np.zeros(len(view), dtype=bool)
        if before is not None and len(before.series):
            order = np.argsort(before.series, kind="stable")
            pos = np.searchsorted(before.series, view.series, sorter=order).clip(0, len(order) - 1)
            at = order[pos]
            known = before.series[at] == view.series
            prev_level = np.where(known, before.level[at], 0)
            prev_anomalous = known & before.anomalous[at]
        level_changed = level != prev_level  # unknown: compared with normal
        anomaly_changed = anomalous != prev_anomalous
        out = []
        stamp = utc_iso(clock_ns, "milliseconds")
        for r in np.flatnonzero(level_changed | anomaly_changed).tolist():
            ind = self.catalog.indicators[int(view.indicator[r])]
            street = self.catalog.streets[int(view.street[r])]
            doc: dict[str, Any] = {
                "at": stamp, "indicator": ind.id, "area": street.id, "district": street.district_id,
                "level": LEVEL_NAMES[int(level[r])],
                "previous_level": LEVEL_NAMES[int(prev_level[r])] if known[r] else None,
                "anomalous": bool(anomalous[r]),
                "change": _what_changed(bool(level_changed[r]), int(prev_level[r]), int(level[r]),
                                        bool(anomaly_changed[r]), bool(anomalous[r])),
            }
            for name in MESSAGE_COLUMNS:
                if name in cols and np.isfinite(cols[name][r]):
                    doc[name] = float(cols[name][r])
            out.append((f"{ind.id}/{street.id}".encode(), doc))
        return out


def _what_changed(level_changed: bool, before: int, after: int, anomaly_changed: bool, anomalous: bool) -> list[str]:
    out = []
    if level_changed:
        out.append("level_up" if after > before else "level_down")
    if anomaly_changed:
        out.append("anomaly_start" if anomalous else "anomaly_end")
    return out


@dataclass(frozen=True)
class KafkaVitalsSettings:
    """``sinks: {kafka_vitals: {brokers: host:port, topic: city-vitals}}``: the vitals snapshots the history
    writes, as Arrow IPC (or JSON lines) messages of at most ``rows_per_message`` series (module docstring)."""

    output: ClassVar[str] = "history"
    brokers: str = "127.0.0.1:9092"
    topic: str = "city-vitals"
    format: str = "arrow"  # arrow | jsonl
    rows_per_message: int = 2000  # ~0.9 MB of Arrow before compression with scoring on (54 columns)
    producer: str = ""  # more librdkafka producer settings, "key=value[,key=value...]"

    def problems(self) -> list[str]:
        out = _broker_problems(self.brokers, self.topic, self.producer)
        if self.format not in FORMATS:
            out.append(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.rows_per_message < 1:
            out.append(f"rows_per_message must be >= 1, got {self.rows_per_message}")
        return out

    def open(self, context: SinkContext) -> KafkaVitals:
        return KafkaVitals(KafkaProducerSink(self.brokers, self.topic, self.producer), context.catalog,
                           self.format, self.rows_per_message)


class KafkaVitals:
    """Produces each :class:`VitalsChunk` snapshot (the readings' chunks of the ``history`` output are not sent)."""

    def __init__(self, sink: KafkaProducerSink, catalog: Catalog, fmt: str = "arrow", rows: int = 2000) -> None:
        self.sink = sink
        self.catalog = catalog
        self.format = fmt
        self.rows = rows

    def __call__(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, VitalsChunk):
                for at_ns, view in item.snapshots:
                    if len(view):
                        self._snapshot(item, at_ns, view)

    def _snapshot(self, chunk: VitalsChunk, at_ns: int, view: VitalsView) -> None:
        from vitals.history import vitals_table

        table = vitals_table(self.catalog, view, at_ns)
        key = f"shard{chunk.shard:03d}".encode()
        headers: list[tuple[str, str | bytes | None]] = [
            ("run_id", chunk.run_id.encode()), ("shard", str(chunk.shard).encode()),
            ("at", utc_iso(at_ns, "milliseconds").encode()),
            ("format", self.format.encode())]
        for start in range(0, table.num_rows, self.rows):
            self.sink.produce(key, encode_table(table.slice(start, self.rows), self.format), headers)

    def close(self) -> None:
        self.sink.close()


def encode_table(table: Any, fmt: str) -> bytes:
    """A vitals table as one message: an Arrow IPC stream, or JSON lines (``at`` ISO 8601 UTC, NaN as null)."""
    if fmt == "arrow":
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue().to_pybytes())
    frame = table.to_pandas()
    frame["at"] = frame["at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(frame.to_json(orient="records", lines=True, force_ascii=False)).encode()
