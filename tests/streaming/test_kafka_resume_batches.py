"""A Kafka partition resumed after a crash is read in other batches than before it: every rejection still reaches
the dead letters and every valid reading the history exactly once (no broker: the messages are decoded as the
Kafka source decodes them; the flow and its recovery are Bytewax's own, the sinks the pipeline's writers).

A resumed partition starts at its snapshot offset, which began a batch before the crash too; but a consumer batch
holds what one poll returns, so the resumed batch at that offset can hold more messages (here the crashed run read
3-message batches, the resumed run reads the rest at once, as the broker test's ``--batch-size 500`` run and its
default-size resume do). Dead letters keyed by (stage, partition, seq) alone took the resumed batch's rejections for
written and dropped those beyond the crashed batch (the broker test once missed a ``dup2`` entry that way); keyed
by their content too, those the crashed run had written were written twice; now each names its message's offset
and is written once. And
history chunks cut at batch ends got other rows under the same number, leaving the crashed run's later chunk files
beside a resumed chunk that holds their rows too."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming_support import history_keys

from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.sinks import CallbackSink
from vitals.batches import ReadingBatch
from vitals.history import read_readings
from vitals.readings import DeadLetterWriter, ReadingParser, read_dead_letters
from vitals.sources.base import SourceBatch
from vitals.sources.kafka import decode_records
from vitals.stream.outputs import DeadLetters, HistoryWriter
from vitals.stream.shard_step import HistoryChunk, ShardProcessor, ShardRunner
from vitals.units import NS_PER_S

PARTITION = "city-readings-0"
RECEIVED = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp()) * 1_000_000_000  # after every reading here
START_NS = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) * NS_PER_S
SNAPSHOT = 10  # the offset of the last snapshot before the crash
CRASHED_BATCHES = ((10, 13), (13, 16), (16, 20))  # read after it by the crashed run
HISTORY_ROWS = 2  # readings per history chunk: the crashed run writes several after the snapshot


@dataclass(frozen=True)
class Runs:
    reference: Path  # one uninterrupted run
    resumed: Path  # stopped at offset 10, started again and killed after 10 more, resumed
    crashed_dead_letters: list[dict[str, Any]]
    crashed_chunks: set[str]


def _reading(catalog: Any, minute: int, street: int, value: float = 0.3) -> bytes:
    return orjson.dumps({"ts": f"2026-03-02T00:{minute:02d}:00Z", "indicator": "water_pressure",
                         "area": catalog.streets[street].id, "value": value})


def _messages(catalog: Any) -> list[tuple[int, bytes]]:
    """60 messages of one partition; in the crashed run's first batch after the snapshot a duplicate (11 of 10)
    and a malformed message (12); later, in the same shard and stages, another duplicate (41 of 40), a late
    reading (50) and an impossible value (55)."""
    values = [_reading(catalog, m, street=m % 3) for m in range(60)]
    values[10] = values[11] = _reading(catalog, 10, street=0)
    values[12] = b"[not json"
    values[40] = values[41] = _reading(catalog, 40, street=0)  # the same series: the same shard (stage dupK)
    values[50] = _reading(catalog, 1, street=2)  # 49 minutes behind its partition: late
    values[55] = _reading(catalog, 55, street=1, value=3.2)  # outside [0, 1.6]
    return list(enumerate(values))


def _run(catalog: Any, items: list[Any], out: Path, recovery: Path | None) -> None:
    writer = DeadLetterWriter(out / "dead.jsonl")
    sinks = FlowSinks(TestingSink([]), CallbackSink(DeadLetters(writer)),
                      (("history", "history", CallbackSink(HistoryWriter(out / "history", catalog))),))
    options = FlowOptions(shards=2, publish_interval_s=3600.0, history_rows=HISTORY_ROWS)
    flow = build_flow(catalog, TestingSource(items), sinks, options)
    try:
        # epochs of 10 s: only the end of the input closes one (Bytewax's abort ends a run quietly, unsnapshotted)
        run_main(flow, epoch_interval=timedelta(seconds=10),
                 recovery_config=None if recovery is None else RecoveryConfig(str(recovery)))
    finally:
        writer.close()


def _chunks(out: Path) -> set[str]:
    return {p.name for p in (out / "history" / "readings").rglob("*.parquet")}


@pytest.fixture(scope="module")
def runs(small_catalog, tmp_path_factory) -> Runs:
    messages = _messages(small_catalog)

    def batch(start: int, stop: int) -> SourceBatch:
        return decode_records(messages[start:stop], ReadingParser(small_catalog), PARTITION, RECEIVED)

    root = tmp_path_factory.mktemp("kafka-resume")
    reference, resumed = root / "reference", root / "resumed"
    _run(small_catalog, [batch(0, len(messages))], reference, None)
    (root / "recovery").mkdir()
    init_db_dir(root / "recovery", 1)
    stopped = [batch(0, SNAPSHOT), TestingSource.EOF()]  # its end is snapshotted: offset 10
    _run(small_catalog, stopped, resumed, root / "recovery")
    before = _chunks(resumed)
    crashed = [*stopped, *(batch(a, b) for a, b in CRASHED_BATCHES), TestingSource.ABORT()]
    _run(small_catalog, crashed, resumed, root / "recovery")
    runs = Runs(reference, resumed, read_dead_letters(resumed / "dead.jsonl"), _chunks(resumed) - before)
    _run(small_catalog, [*stopped, batch(SNAPSHOT, len(messages))], resumed, root / "recovery")
    return runs


def _distinct(out: Path) -> list[tuple[object, ...]]:
    """Distinct dead letters without their batch keys (the batches differ between the runs)."""
    entries = {(e["partition"], e["stage"], e["reason"], e["raw"], e.get("offset"))
               for e in read_dead_letters(out / "dead.jsonl")}
    return sorted(entries, key=repr)


def test_a_resumed_partition_read_in_other_batches_dead_letters_every_rejection(runs):
    reference = _distinct(runs.reference)
    assert [r[2] for r in reference].count("duplicate") == 2
    assert {r[2] for r in reference} == {"duplicate", "malformed", "late", "out_of_range"}
    # the crashed run's duplicate and malformed message were dead-lettered before the crash, under the keys the
    # resumed batch at the same offset has
    assert {(e["stage"][:3], e["seq"], e["reason"]) for e in runs.crashed_dead_letters} == {
        ("dup", SNAPSHOT, "duplicate"), ("che", SNAPSHOT, "malformed")}
    assert _distinct(runs.resumed) == reference
    # and each once: every rejection names its own message (offset), so those of the resumed batch that the
    # crashed run wrote (in a group of fewer messages under the same seq) are left out; before, they were written
    # again with the rest of the resumed batch's group
    resumed = read_dead_letters(runs.resumed / "dead.jsonl")
    assert len(resumed) == len(reference) == len(read_dead_letters(runs.reference / "dead.jsonl"))
    assert all("offset" in e for e in resumed)


def test_a_resumed_partition_read_in_other_batches_writes_every_reading_once_to_the_history(runs):
    assert len(runs.crashed_chunks) >= 2  # the crashed run wrote chunks after the snapshot
    reference = history_keys(read_readings(runs.reference / "history"))
    assert len(reference) == 60 - 2 - 3  # 60 messages: 2 duplicates, a malformed, a late and an impossible one
    resumed = history_keys(read_readings(runs.resumed / "history"))
    assert not resumed.duplicated().any()
    pd.testing.assert_frame_equal(resumed, reference)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, 199), max_size=40, unique=True), size=st.integers(1, 70))
def test_history_chunks_hold_the_same_readings_however_the_partition_is_batched(small_catalog, cuts, size):
    """Oracle: chunk k of a (shard, partition) holds its accepted readings k x size .. (k + 1) x size - 1, in
    arrival order, the rest at the end of the input; whatever the batches (Kafka: whatever the polls returned)."""
    rng = np.random.default_rng(7)
    n = 200
    street = rng.integers(0, 4, n).astype(np.int32) * 2  # shard 0 of 2
    again = np.flatnonzero(rng.random(n) < 0.2)
    again = again[again % 2 == 1]
    street[again] = street[again - 1]  # the same series at the same time just before: a duplicate
    feed = ReadingBatch(ts_ns=START_NS + np.arange(n) // 2 * 60 * NS_PER_S, indicator=np.zeros(n, np.int16),
                        street=street, value=rng.uniform(0.2, 0.5, n), partition=PARTITION)
    processor = ShardProcessor(small_catalog, 2, history_rows=size, publish_interval_s=math.inf)
    runner = ShardRunner(processor, processor.initial_memory(0))
    out = []
    for a, b in itertools.pairwise([0, *sorted(cuts), n]):
        out.extend(runner.on_batches([feed.slice(a, b)]))
    out.extend(runner.on_eof())
    chunks = [o for o in out if isinstance(o, HistoryChunk)]
    key = feed.street.astype(np.int64) << 40 | (feed.ts_ns - START_NS) // NS_PER_S
    _, first = np.unique(key, return_index=True)
    accepted = np.sort(first)  # the first arrival of each (series, time), in arrival order
    assert [c.name for c in chunks] == [f"shard000-{PARTITION}-{k:06d}" for k in range(len(chunks))]
    for k, chunk in enumerate(chunks):
        rows = accepted[k * size:(k + 1) * size]
        np.testing.assert_array_equal(chunk.batch.ts_ns, feed.ts_ns[rows])
        np.testing.assert_array_equal(chunk.batch.street, feed.street[rows])
    assert sum(len(c.batch) for c in chunks) == len(accepted)
    assert all(len(c.batch) == size for c in chunks[:-1])
