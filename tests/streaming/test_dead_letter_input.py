"""Dead letters of readings rejected after parsing hold the input as read: a late reading (watermark) and a
duplicate (series state) replayed from CSV or JSON lines are in the dead-letter file byte for byte as in the input
file, as malformed ones are; from Parquet, a JSON rendering of the row as read (every column, file order)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vitals_testing import SECOND_CITY

from vitals.cli import main
from vitals.readings.dead_letters import read_dead_letters

CSV = (
    "ts,indicator,area,sensor,value\n"
    "2026-03-02T00:10:00Z,river_level,RIB-01,gauge-7,3.50\n"
    "2026-03-02T00:20:00Z,river_level,RIB-01,gauge-7,3.6\n"
    "2026-03-02T00:20:00Z,river_level,RIB-01,gauge-7,3.60\n"        # duplicate: same series and time
    "2026-03-01T00:00:00+00:00,river_level,RIB-01,gauge-7,3.10\n"    # late: a day behind the newest
    "2026-03-02T00:30:00Z,river_level,RIB-01,gauge-7,3.7\n"
    "2026-03-02T00:40:00Z,river_level,RIB-01,gauge-7,oops\n"        # malformed, for comparison
)
JSONL = (
    '{"ts": "2026-03-02T00:10:00Z", "indicator": "river_level", "area": "RIB-01", "value": 3.50}\n'
    '{"value":3.6,"ts":"2026-03-02T00:20:00Z","area":"RIB-01","indicator":"river_level"}\n'
    '{"ts":"2026-03-02T00:20:00Z",  "indicator":"river_level","area":"RIB-01","value":3.60, "note":"again"}\n'
    '{"ts":"2026-03-01T00:00:00+00:00","indicator":"river_level","area":"RIB-01","value":3.1e0}\n'
    '{"ts": "2026-03-02T00:30:00Z", "indicator": "river_level", "area": "RIB-01", "value": 3.7}\n'
    '{"ts": "2026-03-02T00:40:00Z", "indicator": "river_level", "area": "RIB-01", "value": "oops"}\n'
)


def _replay(path: Path, tmp_path: Path, other: str = "malformed") -> dict[str, str]:
    dead = tmp_path / "dead.jsonl"
    assert main(["replay", str(path), "--catalog", str(SECOND_CITY), "--partitions", "1", "--metrics-port", "0",
                 "--no-progress", "--dead-letters", str(dead)]) == 0
    entries = read_dead_letters(dead)
    assert sorted(e["reason"] for e in entries) == sorted(["duplicate", "late", other])
    return {e["reason"]: e["raw"] for e in entries}


@pytest.mark.parametrize(("name", "text"), [("readings.csv", CSV), ("readings.jsonl", JSONL)])
def test_late_and_duplicate_dead_letters_hold_the_input_line(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode())
    lines = text.splitlines()[1:] if name.endswith(".csv") else text.splitlines()
    raw = _replay(path, tmp_path)
    assert raw == {"duplicate": lines[2], "late": lines[3], "malformed": lines[5]}


def test_parquet_dead_letters_hold_the_row_as_read(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in JSONL.splitlines()[:5]]
    table = pa.table({"area": [r["area"] for r in rows], "ts": [r["ts"] for r in rows],
                      "indicator": [r["indicator"] for r in rows], "value": [float(r["value"]) for r in rows],
                      "station_note": ["a", "b", "c", "d", "e"]})
    table = pa.concat_tables([table, pa.table({"area": ["RIB-99"], "ts": ["2026-03-02T00:40:00Z"],
                                               "indicator": ["river_level"], "value": [3.8],
                                               "station_note": ["f"]})])
    pq.write_table(table, tmp_path / "readings.parquet")
    raw = _replay(tmp_path / "readings.parquet", tmp_path, "unknown_area")
    as_read = [json.dumps(r, ensure_ascii=False, allow_nan=True) for r in table.to_pylist()]
    assert (raw["duplicate"], raw["late"], raw["unknown_area"]) == (as_read[2], as_read[3], as_read[5])


@pytest.mark.parametrize("partitions", ["1", "2"])
def test_dead_letters_of_two_replayed_files_name_their_file_and_line(tmp_path: Path, partitions: str) -> None:
    """A CSV with a bad line in the middle and a JSON lines file with a late and a duplicate reading, replayed
    together: every dead letter names its own file and the line its reading is on (a CSV's header is line 1)."""
    folder = tmp_path / "replay"
    folder.mkdir()
    csv_lines = CSV.splitlines(keepends=True)[:4] + CSV.splitlines(keepends=True)[5:6]  # header + 4 readings
    csv_lines.insert(3, "2026-03-02T00:25:00Z,river_level,RIB-01,gauge-7,not-a-number\n")  # the bad line: line 4
    (folder / "a.csv").write_text("".join(csv_lines).replace("gauge-7,3.60", "gauge-7,3.65").replace(
        "00:20:00Z,river_level,RIB-01,gauge-7,3.65", "00:21:00Z,river_level,RIB-01,gauge-7,3.65"))
    json_lines = JSONL.splitlines(keepends=True)[:5]
    json_lines.insert(1, "\n")  # a blank line counts as a line
    (folder / "b.jsonl").write_text("".join(json_lines).replace("RIB-01", "RIB-02"))  # its own series
    dead = tmp_path / "dead.jsonl"
    assert main(["replay", str(folder), "--catalog", str(SECOND_CITY), "--partitions", partitions,
                 "--metrics-port", "0", "--no-progress", "--dead-letters", str(dead)]) == 0
    entries = read_dead_letters(dead)
    got = sorted((e["reason"], e.get("file"), e.get("line"), e.get("row"), e["raw"]) for e in entries)
    a, b = str(folder / "a.csv"), str(folder / "b.jsonl")
    texts = {path: Path(path).read_text().splitlines() for path in (a, b)}
    assert got == sorted([
        ("malformed", a, 4, None, texts[a][3]),
        ("duplicate", b, 4, None, texts[b][3]),
        ("late", b, 5, None, texts[b][4]),
    ])


def test_parquet_dead_letters_name_their_row(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in JSONL.splitlines()[:5]]
    table = pa.table({"ts": [r["ts"] for r in rows], "indicator": [r["indicator"] for r in rows],
                      "area": [r["area"] for r in rows], "value": [float(r["value"]) for r in rows]})
    pq.write_table(table, tmp_path / "readings.parquet")
    dead = tmp_path / "dead.jsonl"
    assert main(["replay", str(tmp_path / "readings.parquet"), "--catalog", str(SECOND_CITY), "--partitions", "1",
                 "--metrics-port", "0", "--no-progress", "--dead-letters", str(dead)]) == 0
    got = sorted((e["reason"], e.get("file"), e.get("row"), e.get("line")) for e in read_dead_letters(dead))
    assert got == [("duplicate", str(tmp_path / "readings.parquet"), 2, None),
                   ("late", str(tmp_path / "readings.parquet"), 3, None)]
