"""A Kafka partition resumed after a crash is cut into other batches than before it: every rejection still reaches
the dead letters (no broker: the messages are decoded as the Kafka source decodes them, the flow and its recovery
are Bytewax's own, the dead letters the pipeline's writer).

A resumed partition starts at its snapshot offset, which began a batch before the crash too; but a consumer batch
holds what one poll returns, so the resumed batch at that offset can hold more messages (here: the crashed run read
10-message batches, the resumed run reads the rest at once, as the broker test's ``--batch-size 500`` run and its
default-size resume do). Dead letters keyed by (stage, partition, seq) alone took the resumed batch's rejections for
written and dropped those beyond the crashed batch: the broker test once missed a ``dup2`` entry that way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.sinks import CallbackSink
from vitals.readings import DeadLetterWriter, ReadingParser, read_dead_letters
from vitals.sources.base import SourceBatch
from vitals.sources.kafka import decode_records
from vitals.stream.outputs import DeadLetters

PARTITION = "city-readings-0"
RECEIVED = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp()) * 1_000_000_000  # after every reading here
CRASHED_BATCH = (10, 20)  # the batch after the snapshot in the crashed run


def _reading(catalog: Any, minute: int, street: int, value: float = 0.3) -> bytes:
    return orjson.dumps({"ts": f"2026-03-02T00:{minute:02d}:00Z", "indicator": "water_pressure",
                         "area": catalog.streets[street].id, "value": value})


def _messages(catalog: Any) -> list[tuple[int, bytes]]:
    """60 messages of one partition; in the crashed batch 10-19 a duplicate (13 of 12) and a malformed message
    (15); after it, in the same shard and stage, another duplicate (41 of 40), a late reading (50) and an
    impossible value (55)."""
    values = [_reading(catalog, m, street=m % 3) for m in range(60)]
    values[12] = values[13] = _reading(catalog, 12, street=0)
    values[15] = b"[not json"
    values[40] = values[41] = _reading(catalog, 40, street=0)  # the same series: the same shard (stage dupK)
    values[50] = _reading(catalog, 1, street=2)  # 49 minutes behind its partition: late
    values[55] = _reading(catalog, 55, street=1, value=3.2)  # outside [0, 1.6]
    return list(enumerate(values))


def _batch(catalog: Any, messages: list[tuple[int, bytes]], start: int, stop: int) -> SourceBatch:
    return decode_records(messages[start:stop], ReadingParser(catalog), PARTITION, RECEIVED)


def _run(catalog: Any, items: list[Any], dead_path: Path, recovery: Path | None) -> None:
    writer = DeadLetterWriter(dead_path)
    sinks = FlowSinks(TestingSink([]), CallbackSink(DeadLetters(writer)))
    flow = build_flow(catalog, TestingSource(items), sinks, FlowOptions(shards=2, publish_interval_s=3600.0))
    try:
        # epochs of 10 s: only the end of the input closes one
        run_main(flow, epoch_interval=timedelta(seconds=10),
                 recovery_config=None if recovery is None else RecoveryConfig(str(recovery)))
    finally:
        writer.close()


def _distinct(path: Path) -> list[tuple[object, ...]]:
    """Distinct dead letters without their batch keys (the batches differ between the runs)."""
    entries = {(e["partition"], e["stage"], e["reason"], e["raw"], e.get("offset")) for e in read_dead_letters(path)}
    return sorted(entries, key=repr)


def test_a_resumed_partition_cut_into_other_batches_dead_letters_every_rejection(small_catalog, tmp_path):
    messages = _messages(small_catalog)
    _run(small_catalog, [_batch(small_catalog, messages, 0, len(messages))], tmp_path / "reference.jsonl", None)
    reference = _distinct(tmp_path / "reference.jsonl")
    assert [r[2] for r in reference].count("duplicate") == 2
    assert {r[2] for r in reference} == {"duplicate", "malformed", "late", "out_of_range"}

    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    # a run stopped after the first 10 messages (its last snapshot: offset 10), one started again that crashes
    # after its first batch (no snapshot of it), and the resume: its batch at offset 10 holds the rest
    stopped = [_batch(small_catalog, messages, 0, CRASHED_BATCH[0]), TestingSource.EOF()]
    crashed = [*stopped, _batch(small_catalog, messages, *CRASHED_BATCH), TestingSource.ABORT()]
    for items in (stopped, crashed):
        _run(small_catalog, items, tmp_path / "dead.jsonl", recovery)  # Bytewax's abort ends the run quietly
    written = read_dead_letters(tmp_path / "dead.jsonl")
    # the crashed batch's duplicate and malformed message were dead-lettered before the crash, under the keys
    # the resumed batch at the same offset has
    assert {(e["stage"][:3], e["seq"], e["reason"]) for e in written} == {("dup", 10, "duplicate"),
                                                                          ("che", 10, "malformed")}
    _run(small_catalog, [*stopped, _batch(small_catalog, messages, CRASHED_BATCH[0], len(messages))],
         tmp_path / "dead.jsonl", recovery)
    assert _distinct(tmp_path / "dead.jsonl") == reference
