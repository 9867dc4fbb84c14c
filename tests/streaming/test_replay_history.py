"""``vitals replay`` end to end on a JSON lines file with garbage: a progress bar, the Parquet history in the
documented layout and schema (docs/history.md), read back with one line of pandas, and dead letters."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streaming_support import START, run_to_end, vitals_cmd

from vitals.history import READINGS_SCHEMA
from vitals.readings import read_dead_letters
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.simulator.output import write_readings

DAY = START.date().isoformat()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, small_catalog):
    root = tmp_path_factory.mktemp("replay")
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=3, start=START, duration=timedelta(hours=2), step_s=60))
    written = write_readings(root / "day.jsonl", sim, garbage_rate=0.002)
    run_to_end(vitals_cmd("replay", root / "day.jsonl", "--streets", "76", "--metrics-port", "0",
                          "--history-dir", root / "history", "--history-chunk-rows", "20000",
                          "--dead-letters", root / "dead.jsonl"), root / "log.txt")
    return root, written


def _summary(root):
    text = (root / "log.txt").read_text()
    inputs = int(re.search(r"([\d,]+) readings in", text).group(1).replace(",", ""))
    accepted = int(re.search(r"([\d,]+) accepted", text).group(1).replace(",", ""))
    return text, inputs, accepted


def test_progress_bar_and_summary(replayed):
    root, written = replayed
    text, inputs, _ = _summary(root)
    assert "replay: 100%" in text  # tqdm over the file's bytes
    assert inputs == written.readings + written.garbage


def test_one_line_of_pandas_reads_a_day_back(replayed):
    root, _ = replayed
    _, _, accepted = _summary(root)
    day = pd.read_parquet(root / "history" / "readings", filters=[("date", "=", DAY)])
    assert len(day) == accepted
    assert list(day.columns) == ["ts", "indicator", "area", "district", "sensor", "value", "date", "domain"]
    assert str(day["ts"].dtype) == "datetime64[ns, UTC]"
    assert (day["ts"].dt.date.astype(str) == DAY).all()
    assert not day.duplicated(["indicator", "area", "ts"]).any()


def test_history_layout_and_schema(replayed, small_catalog):
    root, _ = replayed
    files = sorted((root / "history" / "readings").rglob("*.parquet"))
    domains = {i.domain for i in small_catalog.indicators}
    assert {f.parent.name for f in files} == {f"domain={d}" for d in domains}
    assert {f.parent.parent.name for f in files} == {f"date={DAY}"}
    names = [re.fullmatch(r"(\d{8}T\d{9}Z-[0-9a-f]{8})-shard\d{3}-file-\d+-\d{6}", f.stem) for f in files]
    assert all(names) and len({n.group(1) for n in names if n}) == 1  # one run id (docs/history.md)
    for f in files:
        meta = pq.ParquetFile(f)
        assert meta.schema_arrow.equals(READINGS_SCHEMA)
        assert meta.metadata.row_group(0).column(0).compression == "SNAPPY"
    vitals = pq.read_table(root / "history" / "vitals")
    names = vitals.schema.names
    assert names[:5] == ["at", "indicator", "area", "district", "series"]
    assert vitals.schema.field("at").type == pa.timestamp("ns", tz="UTC")
    assert {"last", "mean_5m", "p95_1h", "level", "stuck", "dropout_ratio"} <= set(names)
    ats = pd.Series(vitals.column("at").to_pandas()).drop_duplicates()
    assert (ats.dt.minute % 5 == 0).all() and (ats.dt.second == 0).all()  # every 5 minutes of event time


def test_dead_letters_hold_every_rejection_with_its_reason(replayed):
    root, written = replayed
    _, inputs, accepted = _summary(root)
    entries = read_dead_letters(root / "dead.jsonl")
    assert len(entries) == inputs - accepted
    reasons = Counter(e["reason"] for e in entries)
    assert sum(n for r, n in reasons.items() if r in ("malformed", "unknown_indicator", "unknown_area",
                                                       "bad_timestamp", "missing")) >= written.garbage * 0.9
    assert all(e["raw"] and e["detail"] for e in entries)


def test_a_corrupt_parquet_file_between_good_ones_is_skipped_not_fatal(tmp_path, small_catalog):
    """Issue 12: the corrupt file is one dead letter (its path, the reason) and one count; the files after it are
    read and every accepted reading is in the history."""
    files = tmp_path / "files"
    files.mkdir()
    for name, hour in (("a", 0), ("c", 1)):
        sim = CitySimulator(small_catalog, SimulatorConfig(seed=3, start=START + timedelta(hours=hour),
                                                           duration=timedelta(minutes=30), step_s=60))
        write_readings(files / f"{name}.parquet", sim)
    good = (files / "a.parquet").read_bytes()
    (files / "b.parquet").write_bytes(good[: len(good) // 2])  # truncated: no footer
    run_to_end(vitals_cmd("replay", files, "--streets", "76", "--metrics-port", "0", "--no-progress",
                          "--history-dir", tmp_path / "history", "--dead-letters", tmp_path / "dead.jsonl"),
               tmp_path / "log.txt", status=1)  # the other files replayed, the exit status says one was not
    text, inputs, accepted = _summary(tmp_path)
    assert "unreadable_file=1" in text and "Traceback" not in text and "panicked" not in text
    assert (f"vitals replay: error: 1 input file could not be read and was skipped (the other files were replayed); "
            f"why: the 'unreadable_file' entries in {tmp_path / 'dead.jsonl'}") in text
    rows = sum(pq.ParquetFile(files / f"{n}.parquet").metadata.num_rows for n in "ac")
    assert inputs == rows + 1
    [entry] = [e for e in read_dead_letters(tmp_path / "dead.jsonl") if e["reason"] == "unreadable_file"]
    assert entry["raw"] == str(files / "b.parquet") and "cannot read this file" in entry["detail"]
    assert entry["file"] == entry["raw"]  # the "file" key every file-replay dead letter has (was missing)
    history = pd.read_parquet(tmp_path / "history" / "readings")
    assert len(history) == accepted > 0
    assert history["ts"].max() >= pd.Timestamp(START + timedelta(hours=1))  # the file after the bad one


def test_an_old_mac_csv_is_one_unreadable_file_not_zero_readings(tmp_path):
    """`vitals replay` of a CSV with bare CR line ends (old Mac) said '0 readings ... rejected: none': read as one
    header line, nothing accepted and nothing rejected. Now one unreadable_file dead letter says why."""
    path = tmp_path / "mac.csv"
    rows = [f"2026-03-02T00:0{k}:00Z,water_pressure,yuzhong-s01,0.3" for k in range(3)]
    path.write_bytes("\r".join(["ts,indicator,area,value", *rows, ""]).encode())
    run_to_end(vitals_cmd("replay", path, "--metrics-port", "0", "--no-progress", "--dead-letters",
                          tmp_path / "dead.jsonl"), tmp_path / "log.txt", status=1)
    text, inputs, accepted = _summary(tmp_path)
    assert (inputs, accepted) == (1, 0) and "unreadable_file=1" in text, text
    assert "1 input file could not be read and was skipped (nothing else was read)" in text
    [entry] = read_dead_letters(tmp_path / "dead.jsonl")
    assert (entry["reason"], entry["file"]) == ("unreadable_file", str(path))
    assert "a bare carriage return at byte 23 (CR without LF: old Mac line ends)" in entry["detail"]
