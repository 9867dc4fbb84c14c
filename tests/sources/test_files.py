"""File replay (issue 12): a file is a unit of failure, and text blocks are cut between records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitals.catalog import load_catalog
from vitals.readings import ReadingParser
from vitals.sources.base import SourceBatch
from vitals.sources.files import FileReplay

CATALOG = load_catalog()
SPEC = CATALOG.indicator("water_pressure")
VALUE = SPEC.valid_min + 0.25 * (SPEC.valid_max - SPEC.valid_min)
T0 = 1_717_000_000


def _table(n: int) -> pa.Table:
    return pa.table({"ts": [T0 + k for k in range(n)], "indicator": ["water_pressure"] * n,
                     "area": ["wanzhou_s001"] * n, "value": [VALUE] * n})


def _replay(files: list[Path], **kw: int) -> list[SourceBatch]:
    replay = FileReplay(files, ReadingParser(CATALOG), "file-0", **kw)
    out = []
    while (item := replay.read_next()) is not None:
        out.append(item)
    return out


def _bad_parquet(path: Path, kind: str) -> Path:
    good = path.with_suffix(".tmp")
    pq.write_table(_table(3000), good, row_group_size=1000)
    data = good.read_bytes()
    body = {"empty": b"", "truncated": data[: len(data) // 2], "corrupt": data[:4] + b"\x07" * 2000 + data[-1500:]}
    path.write_bytes(body[kind])
    return path


@pytest.mark.parametrize("kind", ["empty", "truncated", "corrupt"])
def test_unreadable_parquet_is_one_rejection_and_the_replay_goes_on(tmp_path: Path, kind: str) -> None:
    pq.write_table(_table(100), tmp_path / "a.parquet")
    pq.write_table(_table(50), tmp_path / "c.parquet")
    files = [tmp_path / "a.parquet", _bad_parquet(tmp_path / "b.parquet", kind), tmp_path / "c.parquet"]
    items = _replay(files)
    assert sum(len(i.batch) for i in items) == 150
    [bad] = [r for i in items for r in i.rejections]
    assert (bad.reason, bad.raw, bad.file) == ("unreadable_file", str(files[1]), str(files[1]))
    assert bad.detail.startswith("cannot read this file") and "\n" not in bad.detail


def test_csv_without_header_is_one_clear_error_for_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("".join(f"{T0 + k},water_pressure,wanzhou_s001,,{VALUE}\n" for k in range(5)))
    (tmp_path / "b.csv").write_text(f"ts,indicator,area,value\n{T0},water_pressure,wanzhou_s001,{VALUE}\n")
    items = _replay([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert sum(len(i.batch) for i in items) == 1
    [bad] = [r for i in items for r in i.rejections]
    assert bad.reason == "unreadable_file" and "no CSV header" in bad.detail
    assert bad.file == str(tmp_path / "a.csv")


def test_quoted_field_across_block_boundary_is_one_record(tmp_path: Path) -> None:
    note = '"' + "a long note,\n" * 40 + '"'
    rows = [f"{T0 + k},water_pressure,wanzhou_s001,s{k},{VALUE},{note if k % 7 == 3 else 'x'}\n" for k in range(400)]
    path = tmp_path / "notes.csv"
    path.write_text("ts,indicator,area,sensor,value,note\n" + "".join(rows))
    for block in (500, 1000, 4096):
        items = _replay([path], block_bytes=block)
        assert (sum(len(i.batch) for i in items), [r for i in items for r in i.rejections]) == (400, [])


def test_pretty_printed_json_across_block_boundary_is_one_reading(tmp_path: Path) -> None:
    records = [{"ts": T0 + k, "indicator": "water_pressure", "area": "wanzhou_s001", "value": VALUE}
               for k in range(300)]
    path = tmp_path / "pretty.jsonl"
    path.write_text("".join(json.dumps(r, indent=2 if k % 5 == 0 else None) + "\n" for k, r in enumerate(records)))
    for block in (300, 1000):
        items = _replay([path], block_bytes=block)
        assert (sum(len(i.batch) for i in items), [r for i in items for r in i.rejections]) == (300, [])


def _bad_lines(text: str, bad: set[int]) -> list[str]:
    """Lines of ``text`` (1-based numbers in ``bad`` replaced by a reading with an unknown area)."""
    lines = text.splitlines(keepends=True)
    for number in bad:
        lines[number - 1] = lines[number - 1].replace("wanzhou_s001", f"nowhere_{number}")
    return lines


@pytest.mark.parametrize("block", [300, 1000, 1 << 20])
def test_csv_parse_rejections_name_their_file_and_line(tmp_path: Path, block: int) -> None:
    note = '"two\nlines"'
    rows = [f"{T0 + k},water_pressure,wanzhou_s001,s{k},{VALUE},{note if k % 9 == 4 else 'x'}\n" for k in range(120)]
    text = "ts,indicator,area,sensor,value,note\n" + "".join(rows[:50]) + "\n" + "".join(rows[50:])  # a blank line
    # the file line each record starts on, counted on the text (the header is line 1; a note's second line
    # and the blank line start no record)
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(str(T0)[:3])]
    assert len(starts) == 120
    bad = {starts[3], starts[4], starts[77], starts[119]}  # starts[4] holds a line end in a quoted field
    path = tmp_path / "a.csv"
    path.write_text("".join(_bad_lines(text, bad)))
    items = _replay([path], block_bytes=block)
    got = sorted((r.file, r.line, r.row) for i in items for r in i.rejections)
    assert got == [(str(path), n, None) for n in sorted(bad)]
    assert all(r.raw.split(",")[2] == f"nowhere_{r.line}" for i in items for r in i.rejections)


@pytest.mark.parametrize("block", [300, 1 << 20])
def test_json_lines_parse_rejections_name_their_line_after_pretty_printed_objects(tmp_path: Path, block: int) -> None:
    records = [{"ts": T0 + k, "indicator": "water_pressure", "area": "wanzhou_s001", "value": VALUE}
               for k in range(60)]
    chunks = [json.dumps(r, indent=2 if k % 7 == 0 else None) + "\n" + ("\n" if k == 20 else "")
              for k, r in enumerate(records)]
    chunks[33] = '{"ts": 1717000033, "indicator": "water_pressure", "area": "wanzhou_s001", "value": oops}\n'
    chunks[41] = chunks[41].replace("wanzhou_s001", "nowhere")
    path = tmp_path / "b.jsonl"
    path.write_text("".join(chunks))
    expected = {33: 1 + sum(c.count("\n") for c in chunks[:33]), 41: 1 + sum(c.count("\n") for c in chunks[:41])}
    items = _replay([path], block_bytes=block)
    got = sorted((r.reason, r.file, r.line) for i in items for r in i.rejections)
    assert got == [("malformed", str(path), expected[33]), ("unknown_area", str(path), expected[41])]


def test_parquet_parse_rejections_name_their_row_and_a_resume_keeps_counting(tmp_path: Path) -> None:
    table = _table(250).to_pylist()
    for k in (7, 130, 249):
        table[k]["area"] = f"nowhere_{k}"
    pq.write_table(pa.Table.from_pylist(table), tmp_path / "c.parquet", row_group_size=100)
    items = _replay([tmp_path / "c.parquet"], block_rows=60)
    assert sorted((r.file, r.row, r.line) for i in items for r in i.rejections) == [
        (str(tmp_path / "c.parquet"), k, None) for k in (7, 130, 249)]


def test_a_resumed_text_file_counts_the_lines_before_its_position(tmp_path: Path) -> None:
    from vitals.sources.files import FilePosition

    rows = [f"{T0 + k},water_pressure,{'nowhere' if k == 70 else 'wanzhou_s001'},,{VALUE}\n" for k in range(80)]
    path = tmp_path / "a.csv"
    header = "ts,indicator,area,sensor,value\n"
    path.write_text(header + "".join(rows))
    offset = len(header) + sum(len(r) for r in rows[:40])  # where a snapshot stopped: after file line 41
    replay = FileReplay([path], ReadingParser(CATALOG), "file-0", position=FilePosition(0, offset, 3))
    rejections = []
    while (item := replay.read_next()) is not None:
        rejections += item.rejections
    assert [(r.line, r.raw) for r in rejections] == [(72, rows[70].rstrip("\n"))]


def test_a_quoted_csv_block_read_whole_by_arrow_is_one_record_a_line(tmp_path: Path) -> None:
    """A CSV with every field quoted (as pyarrow writes one): a late or duplicate reading names its own line,
    found without cutting the block with the csv module."""
    from vitals.readings.input_text import FileInput, InputText

    rows = [f'"{T0 + k}","water_pressure","wanzhou_s001","s{k}","{VALUE}"\n' for k in range(30)]
    block = ('"ts","indicator","area","sensor","value"\n' + "".join(rows[:10]) + "\n" + "".join(rows[10:])).encode()
    result = ReadingParser(CATALOG).parse_csv(block)
    assert isinstance(result.batch.raw_source, InputText) and result.batch.raw_source.kind == "csv"  # Arrow's path
    where = FileInput(result.batch.raw_source, "q.csv", "csv", block, 40)  # 41 line ends before the block
    places = where.positions([int(i) for i in result.batch.raw_index])
    assert [p.line for p in places if p is not None] == [42 + k + (k >= 10) for k in range(30)]
    assert where.many([12]) == [rows[12].rstrip("\n")]


@pytest.mark.parametrize("lead", ["", "\n\n", "\ufeff", "\ufeff\n \n"])
def test_a_json_lines_batch_keeps_one_copy_of_its_block_and_its_lines(tmp_path: Path, lead: str) -> None:
    """The parser strips a JSON lines block (blank lines, a byte order mark): the batch's input keeps that one
    copy, not the block as read beside it (a batch pickles its input when it crosses processes), and the lines
    it names count the stripped lines, after a pickle too."""
    import pickle

    rows = [json.dumps({"ts": T0 + k, "indicator": "water_pressure", "area": "wanzhou_s001", "value": VALUE})
            for k in range(40)]
    path = tmp_path / "a.jsonl"
    path.write_text(lead + "\n".join(rows) + "\n\n")
    (item,) = _replay([path])
    batch = item.batch
    assert batch.raw_source is not None and batch.raw_source.block is None
    size = len(pickle.dumps(batch.raw_source))
    assert size < 1.2 * sum(len(r) + 1 for r in rows)
    lines_before = lead.count("\n")
    for source in (batch, pickle.loads(pickle.dumps(batch))):
        places = source.input_positions(np.arange(len(batch)))
        assert [p.line for p in places] == [lines_before + 1 + k for k in range(40)]


def _rows(n: int, *, area: str = "wanzhou_s001", first: int = 0) -> list[str]:
    return [f"{T0 + first + k},water_pressure,{area},,{VALUE}" for k in range(n)]


@pytest.mark.parametrize("block", [64, 97, 1 << 20])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bare_carriage_returns_refuse_the_file_from_their_line_on(tmp_path: Path, block: int, fmt: str) -> None:
    """Before: line ends of bare CR (old Mac) were read silently wrong: a CSV as one header line (no reading and
    no rejection), JSON lines as one malformed reading, and line numbers of a mixed file counted LF only while
    the CSV parser cut at CR too. Now the lines before the first bare CR are read (their dead letters on the right
    lines) and the file is one unreadable_file rejection naming the CR's byte; the next file is read."""
    def line(row: str) -> str:
        if fmt == "csv":
            return row
        ts, indicator, area, _, value = row.split(",")
        return json.dumps({"ts": int(ts), "indicator": indicator, "area": area, "value": float(value)})

    head = "ts,indicator,area,sensor,value\r\n" if fmt == "csv" else ""
    good = _rows(6)
    good[2] = good[2].replace("wanzhou_s001", "nowhere")  # file line 3 (+1 after a CSV header)
    lf = "".join(line(r) + ("\r\n" if k % 2 else "\n") for k, r in enumerate(good))  # CRLF and LF mix: fine
    old_mac = "".join(line(r) + "\r" for r in _rows(5, first=100))
    path = tmp_path / f"a.{fmt}"
    path.write_bytes((head + lf + old_mac).encode())
    after = tmp_path / f"b.{fmt}"
    after.write_text(head.replace("\r", "") + "".join(line(r) + "\n" for r in _rows(4, first=200)))
    items = _replay([path, after], block_bytes=block)
    rejected = [r for i in items for r in i.rejections]
    header_lines = 1 if fmt == "csv" else 0
    assert [(r.reason, r.file, r.line) for r in rejected[:1]] == [("unknown_area", str(path), 3 + header_lines)]
    [refused] = rejected[1:]
    at = len((head + lf + line(_rows(1, first=100)[0])).encode())
    assert (refused.reason, refused.file, refused.raw) == ("unreadable_file", str(path), str(path))
    assert f"a bare carriage return at byte {at:,} (CR without LF" in refused.detail, refused.detail
    assert sum(len(i.batch) for i in items) == 5 + 4  # the good lines before it, and the next file


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_old_mac_file_is_one_rejection_at_its_first_line_end(tmp_path: Path, fmt: str) -> None:
    rows = _rows(3000)
    body = ("ts,indicator,area,sensor,value\r" if fmt == "csv" else "") + "\r".join(
        rows if fmt == "csv" else [json.dumps({"ts": r.split(",")[0], "value": 1}) for r in rows])
    path = tmp_path / f"mac.{fmt}"
    path.write_text(body, newline="")
    [item] = _replay([path], block_bytes=1000)
    [refused] = item.rejections
    at = 30 if fmt == "csv" else body.index("\r")
    assert refused.reason == "unreadable_file" and f"bare carriage return at byte {at}" in refused.detail
