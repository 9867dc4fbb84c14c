"""Every dead letter of a Kafka partition names the offset of the message that held its reading: the readings
rejected while decoding (malformed, out of range) and those rejected later in the flow, late at the partition's
watermark (stage ``check``) and duplicates in the series state (stage ``dup<shard>``), whatever the message's
shape (one object, JSON lines, an array) and whichever batch of several messages it came in. Before, a late or
duplicate reading carried only its batch (``seq``: the batch's first offset) and no offset of its own.

No broker: the messages are decoded as the Kafka source decodes them (``decode_records``); the flow is Bytewax's
own (``build_flow``), the dead letters the pipeline's writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main

from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.sinks import CallbackSink
from vitals.readings import DeadLetterWriter, ReadingParser, read_dead_letters
from vitals.sources.kafka import decode_records
from vitals.stream.outputs import DeadLetters

PARTITION = "city-readings-2"
RECEIVED = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp()) * 1_000_000_000  # after every reading here
FIRST = 4100  # the partition's first offset here


def _reading(catalog: Any, offset: int, k: int, reading: tuple[int, int, float]) -> dict[str, Any]:
    """One reading; its sensor names the message (offset) and its place in it, so a dead letter's raw text says
    which message held it."""
    minute, street, value = reading
    return {"ts": f"2026-03-02T01:{minute:02d}:00Z", "indicator": "water_pressure",
            "area": catalog.streets[street].id, "sensor": f"m{offset}-{k}", "value": value}


def _messages(catalog: Any) -> list[tuple[int, bytes]]:
    """14 messages: one object, JSON lines and arrays; duplicates of a reading of an earlier message and of the
    same message, late readings in several messages, a malformed line that sends a JSON-lines run through the
    slow path, an impossible value."""
    shapes: list[list[tuple[int, int, float]]] = [  # per message: (minute, street, value) of each reading
        [(10, 0, 0.3)],
        [(11, 1, 0.3), (12, 2, 0.3), (10, 0, 0.4)],  # JSON lines; its third reading duplicates message 0's
        [(13, 3, 0.3)],
        [(20, 4, 0.3), (21, 5, 0.3)],  # an array
        [(1, 6, 0.3)],  # late: 20 minutes behind
        [(22, 7, 0.3), (22, 7, 0.5), (2, 8, 0.3)],  # JSON lines: a duplicate within the message, a late one
        [(23, 9, 0.3)],
        [(24, 10, 0.3), (3, 11, 0.3)],  # an array with a late reading
        [(25, 12, 0.3), (-1, 0, 0.0), (24, 10, 0.6)],  # JSON lines with a malformed line; a duplicate of message 7's
        [(26, 13, 9.9)],  # out of range
        [(21, 5, 0.7)],  # duplicate of message 3's second reading (another batch)
        [(27, 14, 0.3), (28, 15, 0.3)],
        [(4, 16, 0.3)],  # late
        [(29, 17, 0.3)],
    ]
    out = []
    for m, readings in enumerate(shapes):
        offset = FIRST + m
        objects = [_reading(catalog, offset, k, reading) for k, reading in enumerate(readings)]
        lines = [b'{"ts": "not a time' if minute < 0 else orjson.dumps(o)
                 for o, (minute, _, _) in zip(objects, readings, strict=True)]
        body = orjson.dumps(objects) if m in (3, 7) else b"\n".join(lines)
        out.append((offset, body))
    return out


@pytest.fixture(scope="module")
def dead_letters(small_catalog, tmp_path_factory) -> list[dict[str, Any]]:
    messages = _messages(small_catalog)
    parser = ReadingParser(small_catalog)
    batches = [decode_records(messages[a:a + 4], parser, PARTITION, RECEIVED) for a in range(0, len(messages), 4)]
    path = tmp_path_factory.mktemp("kafka-offsets") / "dead.jsonl"
    writer = DeadLetterWriter(path)
    sinks = FlowSinks(TestingSink([]), CallbackSink(DeadLetters(writer)))
    flow = build_flow(small_catalog, TestingSource(batches), sinks,
                      FlowOptions(shards=2, publish_interval_s=3600.0, allowed_lateness_s=300.0))
    try:
        run_main(flow, epoch_interval=timedelta(seconds=10))
    finally:
        writer.close()
    return read_dead_letters(path)


def _held_by(entry: dict[str, Any]) -> int:
    """The offset of the message that held the dead letter's reading (from its sensor, or the malformed line)."""
    if entry["reason"] == "malformed":
        return FIRST + 8
    return int(orjson.loads(entry["raw"])["sensor"].split("-")[0][1:])


def test_every_dead_letter_names_the_offset_of_its_own_message(dead_letters):
    reasons = sorted(e["reason"] for e in dead_letters)
    assert reasons == ["duplicate"] * 4 + ["late"] * 4 + ["malformed", "out_of_range"]
    assert {e["stage"][:3] for e in dead_letters if e["reason"] == "duplicate"} == {"dup"}
    assert {e["stage"] for e in dead_letters if e["reason"] == "late"} == {"check"}
    for entry in dead_letters:
        assert entry["partition"] == PARTITION
        assert entry.get("offset") == _held_by(entry), entry
        assert entry["seq"] == FIRST + (entry["offset"] - FIRST) // 4 * 4  # the batch: its first offset
    # not the batch's offset: most of them came in a message after their batch's first
    assert sum(e["offset"] != e["seq"] for e in dead_letters) >= 6
