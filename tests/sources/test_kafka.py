"""Kafka: consumer settings and decoding without a broker (tests/streaming/test_kafka_broker.py runs one).

After decoding, batches take the same path as the tested file and MQTT sources; these tests pin the consumer
settings, the decoding (payload shapes, rejections pinned to their message's offset) and the source's
partition protocol (names, resume state, stop flag)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import bytewax.operators as op
import numpy as np
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import cluster_main
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.connectors import KafkaSource, _KafkaReader, _ReaderPartition
from pipelines.routing import balanced_key, bytewax_route
from vitals.config import load_settings
from vitals.errors import ConfigError
from vitals.readings import ReadingParser
from vitals.sources.base import STOP
from vitals.sources.kafka import (
    OFFSET_EARLIEST,
    KafkaPartitionReader,
    consumer_config,
    decode_records,
    partition_number,
)

RECEIVED = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp()) * 1_000_000_000  # after every reading here
PRODUCER_OR_ADMIN_ONLY = {"linger.ms", "acks", "compression.type", "partitioner"}


def _reading(catalog, i: int, value: float = 0.3) -> bytes:
    return orjson.dumps({"ts": f"2026-11-26T02:{i:02d}:00Z", "indicator": "water_pressure",
                         "area": catalog.streets[i].id, "value": value})



@pytest.fixture(autouse=True)
def _unstopped():
    """Each test starts with the process-wide stop flag clear (a run elsewhere in the session may end stopped)."""
    STOP.clear()
    yield
    STOP.clear()

def test_consumer_settings_never_auto_commit_and_extra_wins():
    cfg = consumer_config("k1:9092, k2:9092,,", extra={"security.protocol": "SSL"})
    assert cfg["bootstrap.servers"] == "k1:9092,k2:9092"
    assert cfg["enable.auto.commit"] == "false"  # offsets live in Bytewax recovery snapshots
    assert cfg["group.id"] == "city-vitals" and cfg["security.protocol"] == "SSL"
    assert cfg["enable.partition.eof"] == "false"
    assert consumer_config("k:1", stop_at_end=True)["enable.partition.eof"] == "true"
    assert not PRODUCER_OR_ADMIN_ONLY & set(cfg)
    assert cfg["fetch.wait.max.ms"] == "100"  # not librdkafka's 500: a quiet partition's reading waits less
    assert consumer_config("k:1", extra={"fetch.wait.max.ms": "20"})["fetch.wait.max.ms"] == "20"


def test_more_consumer_settings_reach_the_consumers_and_a_bad_one_is_one_line(small_catalog):
    from pipelines.sources import make_source

    settings = load_settings(None, {"VITALS_KAFKA_CONSUMER": "security.protocol=ssl, fetch.wait.max.ms = 20"},
                             source="kafka")
    source = make_source(small_catalog, settings)
    assert source.config["security.protocol"] == "ssl" and source.config["fetch.wait.max.ms"] == "20"
    assert source.config["enable.auto.commit"] == "false"
    with pytest.raises(ConfigError, match=r"kafka_consumer: 'fetch.wait.max.ms' is not key=value"):
        load_settings(None, {}, source="kafka", kafka_consumer="security.protocol=ssl,fetch.wait.max.ms")


def test_decoding_reads_every_payload_shape_in_offset_order(small_catalog):
    parser = ReadingParser(small_catalog)
    array = b"[" + _reading(small_catalog, 2) + b"," + _reading(small_catalog, 3) + b"]"
    lines = _reading(small_catalog, 4) + b"\n" + _reading(small_catalog, 5)
    batch = decode_records([(10, _reading(small_catalog, 1)), (11, array), (12, lines)], parser, "t-0", RECEIVED)
    assert (batch.partition, batch.seq) == ("t-0", 10)  # first offset: dead letters of a replay keep their key
    assert len(batch.batch) == 5 and not batch.rejections
    assert list(batch.batch.ts_ns) == sorted(batch.batch.ts_ns)  # messages in offset order


@pytest.mark.parametrize("bad_at", [[0], [7], [3, 4], [0, 9, 17]])
def test_every_rejection_carries_the_offset_of_its_message(small_catalog, bad_at):
    parser = ReadingParser(small_catalog)
    bad = {0: b"[not json", 3: b"\xff\xfe", 4: _reading(small_catalog, 4, value=99.0), 7: b"",
           9: b'{"ts": "2026-11-26T02:06:00Z", "indicator": "nope", "area": "x", "value": 1}', 17: b"{"}
    records = [(100 + i, bad[i] if i in bad_at else _reading(small_catalog, i)) for i in range(20)]
    whole = parser.parse_payloads([v for _, v in records], partition="t-3", seq=100, received_ns=RECEIVED)
    batch = decode_records(records, parser, "t-3", RECEIVED)
    assert len(batch.batch) == len(whole.batch)  # the halving changes nothing but the offsets
    assert [r.reason for r in batch.rejections] == [r.reason for r in whole.rejections]
    assert [r.offset for r in batch.rejections] == [100 + i for i in bad_at if bad[i]]


def _message_by_message(parser, records):
    """The oracle: each message parsed alone, its rejections given its offset."""
    out = []
    for offset, value in records:
        alone = parser.parse_payloads([value], partition="t-1", seq=offset, received_ns=RECEIVED)
        out += [(r.reason, r.raw, offset) for r in alone.rejections]
    return out


_LINES = st.sampled_from(["ok", "ok", "ok", "range", "unknown", "broken", "same"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.lists(_LINES, min_size=1, max_size=4), st.just(["array"])), min_size=1, max_size=12))
def test_rejected_lines_of_json_lines_messages_carry_their_message_offset(small_catalog, messages):
    """JSON-lines messages (a rejected line found by its text, identical lines in several messages included),
    arrays and broken lines mixed: the same readings, reasons and offsets as parsing message by message."""
    parser = ReadingParser(small_catalog)
    line = {"ok": lambda i: _reading(small_catalog, i % 60), "range": lambda i: _reading(small_catalog, i % 60, 99.0),
            "unknown": lambda i: b'{"ts": "2026-11-26T02:06:00Z", "indicator": "nope", "area": "x", "value": 1}',
            "broken": lambda i: b'{"ts": 1', "same": lambda i: _reading(small_catalog, 1, 99.0),
            "array": lambda i: b"[" + _reading(small_catalog, 2, 99.0) + b"]"}
    records = [(500 + m, b"\n".join(line[kind](m * 5 + k) for k, kind in enumerate(kinds)))
               for m, kinds in enumerate(messages)]
    batch = decode_records(records, parser, "t-1", RECEIVED)
    whole = parser.parse_payloads([v for _, v in records], partition="t-1", seq=500, received_ns=RECEIVED)
    assert len(batch.batch) == len(whole.batch)
    assert [(r.reason, r.raw, r.offset) for r in batch.rejections] == _message_by_message(parser, records)


class _CountingParser(ReadingParser):
    def __init__(self, catalog):
        super().__init__(catalog)
        self.parses = 0

    def parse_payloads(self, payloads, **kw):
        self.parses += 1
        return super().parse_payloads(payloads, **kw)


_MIXED = st.sampled_from(["ok", "ok", "range", "broken", "empty", "array_bad", "pretty_bad", "lines_bad"])


@settings(max_examples=60, deadline=None)
@given(st.lists(_MIXED, min_size=1, max_size=12))
def test_a_batch_with_rejections_is_parsed_once_and_each_rejection_names_its_message(small_catalog, shapes):
    """One bad element costs itself: whatever the messages' shapes (an array with one bad element, a
    pretty-printed object out of range, a JSON-lines message with a bad line, a broken or empty message), the
    batch is parsed once and every rejection carries its message's offset, as parsing message by message does
    (before, a rejection that was not a whole line of its message made the batch be parsed again in halves)."""
    parser = _CountingParser(small_catalog)
    body = {"ok": lambda i: _reading(small_catalog, i), "range": lambda i: _reading(small_catalog, i, 99.0),
            "broken": lambda i: b'{"ts": 1', "empty": lambda i: b" ",
            "array_bad": lambda i: b"[" + _reading(small_catalog, i) + b"," + _reading(small_catalog, i + 1, 99.0)
            + b"]",
            "pretty_bad": lambda i: orjson.dumps(orjson.loads(_reading(small_catalog, i, 99.0)),
                                                 option=orjson.OPT_INDENT_2),
            "lines_bad": lambda i: b"\n".join([_reading(small_catalog, i), b'{"ts": 2}'])}
    records = [(900 + 2 * m, body[shape](m * 3 % 56)) for m, shape in enumerate(shapes)]
    batch = decode_records(records, parser, "t-1", RECEIVED)
    assert parser.parses == 1
    assert [(r.reason, r.raw, r.offset) for r in batch.rejections] == _message_by_message(parser, records)


_SHAPES = st.sampled_from(["ok", "ok", "lines", "array", "pretty", "empty", "range", "broken", "bad_line", "crash"])


@settings(max_examples=80, deadline=None)
@given(st.lists(_SHAPES, min_size=1, max_size=14))
def test_every_accepted_reading_knows_the_offset_of_its_message(small_catalog, shapes):
    """The oracle: each message parsed alone gives its number of accepted readings; in the batch, reading j of
    message k (in order) names k's offset (what a late or duplicate dead letter then carries). One-line and
    JSON-lines messages (joined into one Arrow read), arrays, pretty-printed objects, empty messages, rejected
    lines (a run read in halves) and a message that breaks the parser (isolated message by message) mixed."""
    from vitals.readings import parse_payload

    parser = ReadingParser(small_catalog)
    crash = b'[{"crash": 1}]'  # an array: a message parse_json_payload reads
    real = parse_payload.parse_json_payload

    def fragile(ctx, data, use_threads=False):  # no input is known to break the parser: a fault injected into
        if data.strip() == crash:                # one message, so that the batch is isolated message by message
            raise RuntimeError("boom")
        return real(ctx, data, use_threads)

    body = {"ok": lambda i: _reading(small_catalog, i),
            "lines": lambda i: b"\n".join(_reading(small_catalog, i + k) for k in range(3)),
            "array": lambda i: b"[" + _reading(small_catalog, i) + b"," + _reading(small_catalog, i + 1) + b"]",
            "pretty": lambda i: orjson.dumps(orjson.loads(_reading(small_catalog, i)), option=orjson.OPT_INDENT_2),
            "empty": lambda i: b"  ", "range": lambda i: _reading(small_catalog, i, 99.0),
            "broken": lambda i: b'{"ts": 1', "crash": lambda i: b"\n" + crash + b"\n",
            "bad_line": lambda i: b"\n".join([_reading(small_catalog, i), b'{"ts": 2}',
                                              _reading(small_catalog, i + 1)])}
    records = [(7000 + 3 * m, body[shape](m * 4 % 56)) for m, shape in enumerate(shapes)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_payload, "parse_json_payload", fragile)
        alone = [len(parser.parse_payloads([v], partition="t-2", seq=o, received_ns=RECEIVED).batch)
                 for o, v in records]
        decoded = decode_records(records, parser, "t-2", RECEIVED)
    batch = decoded.batch
    if "crash" in shapes:
        assert any("the parser failed" in r.detail for r in decoded.rejections)
    expected = [o for (o, _), n in zip(records, alone, strict=True) for _ in range(n)]
    assert len(batch) == len(expected)
    assert batch.input_positions(np.arange(len(batch))) == expected
    # Bytewax pickles batches between workers: their input keeps the offsets
    assert pickle.loads(pickle.dumps(batch)).input_positions(np.arange(len(batch))) == expected
    unknown = parser.parse_payloads([v for _, v in records], partition="t-2", seq=0, received_ns=RECEIVED).batch
    assert unknown.input_positions(np.arange(len(batch))) == [None] * len(batch)  # without offsets: none


class _FakeReader:
    def __init__(self, items: list) -> None:
        self.items = items
        self.next_offset = 5
        self.at_end = False
        self.committed = 0

    def read(self):
        return self.items.pop(0) if self.items else None

    def commit(self, wait: bool = False) -> None:
        self.committed += 1

    def holding(self) -> float | None:
        return None


class _Message:
    def __init__(self, offset: int | None, value: bytes = b"", eof: bool = False) -> None:
        from confluent_kafka import KafkaError

        self._offset, self._value = offset, value
        self._error = KafkaError(KafkaError._PARTITION_EOF) if eof else None

    def error(self):  # type: ignore[no-untyped-def]
        return self._error

    def offset(self) -> int | None:
        return self._offset

    def value(self) -> bytes:
        return self._value


class _FakeConsumer:
    """What each consume() call returns, in turn (then nothing)."""

    def __init__(self, calls: list[list[_Message]]) -> None:
        self.calls = calls
        self.asked: list[int] = []

    def assign(self, partitions: list) -> None:
        self.assigned = partitions

    def consume(self, n: int, timeout: float) -> list[_Message]:
        self.asked.append(n)
        return self.calls.pop(0) if self.calls else []


def _reader(small_catalog, calls, monkeypatch, **kw) -> tuple[KafkaPartitionReader, _FakeConsumer]:
    fake = _FakeConsumer(calls)
    monkeypatch.setattr("vitals.sources.kafka._consumer", lambda config: fake)
    reader = KafkaPartitionReader({}, "city-readings", 1, OFFSET_EARLIEST, ReadingParser(small_catalog), **kw)
    return reader, fake


# "not yet due" holds while the test runs from one read to the next: the linger is the stall a loaded machine may
# put between two reads (it was 0.2 s)
LINGER_S = 1.0


def test_batch_assembly_holds_messages_up_to_the_linger_and_never_snapshots_held_ones(small_catalog, monkeypatch):
    import time

    msgs = [_Message(10 + i, _reading(small_catalog, i)) for i in range(6)]
    reader, fake = _reader(small_catalog, [msgs[:1], msgs[1:3], [], msgs[3:5], [msgs[5], _Message(None, eof=True)]],
                           monkeypatch, max_messages=4, linger_s=LINGER_S)
    assert reader.read() is None and reader.holding() is not None  # held: not yet due
    assert reader.read() is None and reader.next_offset == OFFSET_EARLIEST  # a snapshot resumes before them
    assert fake.asked == [4, 3]  # never more than max_messages in one batch
    time.sleep(LINGER_S + 0.05)
    batch = reader.read()  # due: the linger passed
    assert batch is not None and batch.batch.seq == 10 and len(batch.batch) == 3
    assert reader.next_offset == 13 and reader.holding() is None
    batch = reader.read()  # two more arrive: held ...
    assert batch is None
    batch = reader.read()  # ... until the end of the partition makes them due at once
    assert batch is not None and len(batch.batch) == 3 and reader.at_end and reader.next_offset == 16


def test_without_linger_every_poll_is_a_batch_and_a_full_batch_never_waits(small_catalog, monkeypatch):
    msgs = [_Message(i, _reading(small_catalog, i)) for i in range(5)]
    reader, _ = _reader(small_catalog, [msgs[:1], msgs[1:2]], monkeypatch)
    assert len(reader.read().batch) == 1 and len(reader.read().batch) == 1  # type: ignore[union-attr]
    reader, _ = _reader(small_catalog, [msgs[:2], msgs[2:4]], monkeypatch, max_messages=4, linger_s=60)
    assert reader.read() is None
    batch = reader.read()
    assert batch is not None and len(batch.batch) == 4 and reader.next_offset == 4  # max_messages: due at once


def _partition(reader: object, *, stop_at_end: bool) -> _ReaderPartition:
    """A Kafka partition as KafkaSource builds it: the generic reader partition over the Kafka reader."""
    return _ReaderPartition(_KafkaReader(reader, stop_at_end=stop_at_end), poll_s=0.05)  # type: ignore[arg-type]


def test_a_partition_ends_on_the_stop_flag_and_snapshots_its_next_offset():
    reader = _FakeReader(["batch"])
    part = _partition(reader, stop_at_end=False)
    assert part.next_batch() == ["batch"] and part.next_awake() is None
    assert part.next_batch() == [] and part.next_awake() is not None  # idle: wait a poll interval
    assert part.snapshot() == 5 and reader.committed == 1
    STOP.set()
    try:
        with pytest.raises(StopIteration):
            part.next_batch()
    finally:
        STOP.clear()


def test_a_partition_ends_at_the_end_of_the_topic_only_when_asked():
    reader = _FakeReader([])
    reader.at_end = True
    assert _partition(reader, stop_at_end=False).next_batch() == []
    with pytest.raises(StopIteration):
        _partition(reader, stop_at_end=True).next_batch()


def test_source_partitions_are_named_by_topic_and_kafka_partition(small_catalog, monkeypatch):
    monkeypatch.setattr("pipelines.connectors.list_partitions", lambda config, topic: [2, 0, 1, 3])
    source = KafkaSource(brokers="127.0.0.1:1", topic="city-readings", make_parser=lambda: None)  # type: ignore
    assert source.list_parts() == ["city-readings-2", "city-readings-0", "city-readings-1", "city-readings-3"]


class _NamesOnly(KafkaSource):
    """The real partition names and Bytewax's real dealing of them; each partition emits its name once."""

    def build_part(self, step_id, for_part, resume_state):  # type: ignore[no-untyped-def]
        class _Once(StatefulSourcePartition):
            def __init__(self) -> None:
                self.done = False

            def next_batch(self):  # type: ignore[no-untyped-def]
                if self.done:
                    raise StopIteration
                self.done = True
                return [for_part]

            def snapshot(self) -> None:
                return None

        return _Once()


class _WorkerOf(DynamicSink):
    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def build(self, step_id, worker_index, worker_count):  # type: ignore[no-untyped-def]
        seen = self.seen

        class _Part(StatelessSinkPartition):
            def write_batch(self, items):  # type: ignore[no-untyped-def]
                seen.update(dict.fromkeys(items, worker_index))

        return _Part()


@pytest.mark.parametrize(("count", "workers"), [(12, 3), (12, 5), (4, 2), (100, 8)])
def test_kafka_partition_k_is_read_by_the_worker_of_shard_k(monkeypatch, count, workers):
    """Bytewax deals partitions round-robin in sorted name order; shard k lives on worker k % W. With 10+
    partitions, unpadded names would sort "-10" before "-2" and partition 2 would no longer be read where shard 2
    lives (every reading of it would cross workers)."""
    monkeypatch.setattr("pipelines.connectors.list_partitions", lambda config, topic: list(range(count)))
    source = _NamesOnly(brokers="127.0.0.1:1", topic="city-readings", make_parser=lambda: None)  # type: ignore
    names = source.list_parts()
    assert [partition_number(n) for n in names] == list(range(count))
    assert names == sorted(names)
    assert (names[3] == "city-readings-3") == (count <= 10)
    sink = _WorkerOf()
    flow = Dataflow("names")
    op.output("out", op.input("in", flow, source), sink)
    cluster_main(flow, [], 0, worker_count_per_proc=workers)
    worker_of_shard = [bytewax_route(balanced_key(k), workers) for k in range(count)]
    assert [sink.seen[n] for n in names] == worker_of_shard == [k % workers for k in range(count)]


def test_kafka_settings_are_checked():
    settings = load_settings(None, {}, source="kafka", kafka_brokers="k1:9092", kafka_topic="city-readings",
                             kafka_stop_at_end=True)
    assert settings.source == "kafka" and settings.source_settings().stop_at_end
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
