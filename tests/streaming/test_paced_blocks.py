"""A paced replay follows event time to the second whatever the file format: a block (1 MiB of CSV, 50,000 Parquet
rows) is handed over in parts as the replay clock reaches its readings, each part with its own seq, and a
snapshot taken inside a block resumes after the rows already emitted (none twice, none lost). Paced from a given
event time (``pace_from``), the readings before it are handed over at once and the rest paced."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vitals_testing import SECOND_CITY

from pipelines.connectors import FileReplayPartition
from vitals.catalog import load_catalog
from vitals.readings import ReadingParser
from vitals.sources.base import PACE_SLICE_S, PART_SEQ, Pacing, ReplayClock, SourceBatch, now_ns
from vitals.sources.files import FilePosition, FileReplay

ROWS = 288  # two days every 10 minutes: one block of each format
SPEED = 2 * 86400 / 1.5  # two days of event time in 1.5 s


def _files(root: Path) -> dict[str, Path]:
    ts = pd.date_range("2026-03-02", periods=ROWS, freq="10min", tz="UTC")
    frame = pd.DataFrame({"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "indicator": "river_level", "area": "RIB-01",
                          "sensor": "", "value": 3.0 + np.arange(ROWS) / 1000})
    csv = root / "river.csv"
    csv.write_text("ts,indicator,area,sensor,value\nnot a time,river_level,RIB-01,,3\n"
                   + frame.to_csv(index=False, header=False), encoding="utf-8")
    parquet = root / "river.parquet"
    frame.assign(ts=ts).to_parquet(parquet)
    return {"csv": csv, "parquet": parquet}


def _drain(part: FileReplayPartition, until_parts: int | None = None) -> list[SourceBatch]:
    out: list[SourceBatch] = []
    while until_parts is None or len(out) < until_parts:
        try:
            got = part.next_batch()
        except StopIteration:
            break
        out.extend(got)
        if not got:
            awake = part.next_awake()
            time.sleep(0.005 if awake is None else max(0.0, min(0.05, awake.timestamp() - time.time())))
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_block_is_paced_in_parts_and_resumes_inside_itself(tmp_path: Path, fmt: str) -> None:
    path = _files(tmp_path)[fmt]
    catalog = load_catalog(SECOND_CITY)

    def partition(position: FilePosition | None) -> FileReplayPartition:
        return FileReplayPartition(FileReplay([path], ReadingParser(catalog), "file-0", position=position),
                                   Pacing(SPEED))

    began = time.monotonic()
    first = partition(None)
    before = _drain(first, until_parts=4)
    snapshot = first.snapshot()
    assert snapshot.skip_rows > 0 and snapshot.offset == 0  # stopped inside the file's one block
    after = _drain(partition(snapshot))  # a resume from the snapshot: the block again, minus the rows emitted
    elapsed = time.monotonic() - began
    parts = before + after
    ts = np.concatenate([p.batch.ts_ns for p in parts])
    assert ts.size == ROWS and np.unique(ts).size == ROWS and (np.diff(ts) > 0).all()  # each reading once, in order
    assert len(parts) >= 10  # handed over as event time advanced, not as one block
    # dead letters are written once per (partition, seq): parts have their own, above every plain block seq
    assert len({p.batch.seq for p in parts}) == len(parts) and min(p.batch.seq for p in parts) >= PART_SEQ
    assert sum(len(p.rejections) for p in parts) == (1 if fmt == "csv" else 0)  # the bad line, once
    assert 1.0 < elapsed < 10.0  # paced: two days in about 1.5 s


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_readings_before_the_pacing_starts_go_at_once(tmp_path: Path, fmt: str) -> None:
    path = _files(tmp_path)[fmt]
    day2 = pd.Timestamp("2026-03-03", tz="UTC")
    pacing = Pacing(SPEED, from_ns=day2.value)
    part = FileReplayPartition(FileReplay([path], ReadingParser(load_catalog(SECOND_CITY)), "file-0"), pacing)
    began = time.monotonic()
    first = part.next_batch()  # no wait: the whole first day, in one part
    assert len(first) == 1 and first[0].batch.ts_ns.max() < day2.value <= first[0].batch.ts_ns.max() + 600 * 10**9
    assert len(first[0].batch) == ROWS // 2 and first[0].batch.seq >= PART_SEQ
    rest = _drain(part)
    elapsed = time.monotonic() - began
    ts = np.concatenate([p.batch.ts_ns for p in [*first, *rest]])
    assert ts.size == ROWS and np.unique(ts).size == ROWS and (np.diff(ts) > 0).all()
    assert len(rest) >= 5 and rest[0].batch.ts_ns.min() == day2.value  # the second day in parts, as time goes on
    # its last part (at most PACE_SLICE_S of wall time before the last reading) is due a paced day after the first
    assert elapsed > (86400 - 600) / SPEED - PACE_SLICE_S


def test_a_pacer_from_an_event_time_anchors_at_the_first_batch_there() -> None:
    start = 2_000 * 10**9
    pacer = Pacing(3600.0, from_ns=start).pacer()
    assert pacer.due_ns(1_000 * 10**9) is None and pacer.due_ns(start - 1) is None  # before it: due at once
    assert pacer.event_now_ns() is None  # no replay clock yet (staleness by event time alone)
    assert pacer.due_ns(start + 60 * 10**9) is None  # the first batch at or after it anchors the pacing
    due = pacer.due_ns(start + 3660 * 10**9)  # an hour of event time later: a wall second later
    assert due is not None and 0.9e9 < due - now_ns() <= 1e9
    assert pacer.event_now_ns() is not None
    # the readings of a block going at once: those whose running maximum of event time is before the start
    ts = np.array([5, 1, 9, 3, 10, 2, 12], dtype=np.int64)
    assert [Pacing(60.0, from_ns=f).fast_rows(ts) for f in (0, 5, 6, 10, 11, 13)] == [0, 0, 2, 4, 6, 7]
    assert Pacing(0.0, from_ns=10).fast_rows(ts) == 0 and Pacing(60.0).fast_rows(ts) == 0  # not paced / from the first


@pytest.mark.parametrize(("pace_from", "warned"), [
    ("2026-03-05", "is after the last reading (2026-03-03T23:50:00Z)"),  # after the input: all of it at once
    ("2026-03-03T12:00", None),                                          # inside it: paced, no warning
])
def test_pace_from_after_the_input_says_so_at_the_end(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       pace_from: str, warned: str | None) -> None:
    """Before, a --pace-from after the input's last reading sent everything at once without a word."""
    clock = ReplayClock()
    pacing = Pacing(SPEED * 2, from_ns=pd.Timestamp(pace_from, tz="UTC").value)
    path = _files(tmp_path)["parquet"]
    part = FileReplayPartition(FileReplay([path], ReadingParser(load_catalog(SECOND_CITY)), "file-0"), pacing, clock)
    assert not clock.warn_if_never_paced()  # nothing read yet: nothing to say
    assert sum(len(p.batch) for p in _drain(part)) == ROWS
    with caplog.at_level(logging.WARNING, logger="vitals.sources.base"):
        assert clock.warn_if_never_paced() is (warned is not None)
    if warned is None:
        assert not caplog.records
    else:
        [record] = caplog.records
        assert record.getMessage() == (f"pace_from {pace_from}T00:00:00Z: nothing was paced, the whole input went "
                                       f"as fast as possible: it {warned}; give a --pace-from within the input's "
                                       "time span")
