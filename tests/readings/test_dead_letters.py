"""Dead letters: one line per rejection, idempotent per group (stage, partition, seq and the rejections themselves),
across reopen and torn writes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vitals.batches import Rejection
from vitals.errors import ConfigError
from vitals.readings import DeadLetterWriter, read_dead_letters
from vitals.readings.dead_letters import check_dead_letter_file


def _rejections(partition: str, seq: int, n: int) -> list[Rejection]:
    return [Rejection("malformed", f"raw {partition}/{seq}/{i}", f"detail {i}", partition, seq) for i in range(n)]


def _two_groups(path: Path, first: int, second: int) -> list[bytes]:
    """Write groups (p0, 1) and (p0, 2) of ``first`` and ``second`` lines; the file's lines."""
    with DeadLetterWriter(path) as writer:
        writer.write(_rejections("p0", 1, first))
        writer.write(_rejections("p0", 2, second))
    return path.read_bytes().splitlines(keepends=True)


def test_lines_have_every_field(tmp_path: Path) -> None:
    path = tmp_path / "dl" / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        assert writer.write(_rejections("p0", 1, 2) + _rejections("p1", 1, 1)) == 3
    entries = read_dead_letters(path)
    assert [(e["partition"], e["seq"], e["raw"], e["i"], e["n"]) for e in entries] == [
        ("p0", 1, "raw p0/1/0", 0, 2), ("p0", 1, "raw p0/1/1", 1, 2), ("p1", 1, "raw p1/1/0", 0, 1)]
    assert {e["reason"] for e in entries} == {"malformed"} and entries[0]["detail"] == "detail 0"
    assert entries[0]["stage"] == "parse" and entries[0]["time"].endswith("+00:00")


def test_replay_after_reopen_writes_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        writer.write(_rejections("p0", 1, 3))
        assert writer.write(_rejections("p0", 1, 3)) == 0
    with DeadLetterWriter(path) as writer:  # reopen an intact file
        assert writer.already_written("p0", 1)
        assert writer.write(_rejections("p0", 1, 3)) == 0
        assert writer.write(_rejections("p0", 1, 2), stage="watermark") == 2  # another step, same batch
        assert writer.write(_rejections("p0", 2, 1)) == 1
    assert len(read_dead_letters(path)) == 6


def test_a_batch_numbered_like_a_written_one_with_other_rejections_is_written(tmp_path: Path) -> None:
    """A Kafka partition resumed from offset 10 may read 10..59 where the crashed run read 10..19 (both seq 10); a
    restarted MQTT or file source numbers its batches from 0 again. Their rejections are not the ones written."""
    path = tmp_path / "dead.jsonl"
    crashed = [Rejection("duplicate", "raw 12", "d", "k-0", 10)]
    resumed = [*crashed, Rejection("duplicate", "raw 41", "d", "k-0", 10)]
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("k-0", 10, crashed, stage="dup2") == 1
        assert writer.write_batch("k-0", 10, resumed, stage="dup2") == 2
        assert writer.write_batch("k-0", 10, resumed, stage="dup2") == 0  # a replay of the same group
    with DeadLetterWriter(path) as writer:  # reopened: the groups are rebuilt from the lines
        assert writer.already_written("k-0", 10, "dup2", crashed) and writer.already_written("k-0", 10, "dup2")
        assert writer.write_batch("k-0", 10, crashed, stage="dup2") == 0
        assert writer.write_batch("k-0", 10, resumed, stage="dup2") == 0
        assert not writer.already_written("k-0", 10, "dup2", resumed[1:])
        # the detail may differ in a replay (a future timestamp's names the arrival time): the same group
        assert writer.write_batch("k-0", 10, [Rejection("duplicate", "raw 12", "other", "k-0", 10)], stage="dup2") == 0
        # the offset of a message is part of the rejection
        assert writer.write_batch("k-0", 10, [Rejection("duplicate", "raw 12", "d", "k-0", 10, 12)], stage="dup2") == 1
    assert [e["raw"] for e in read_dead_letters(path)] == ["raw 12", "raw 12", "raw 41", "raw 12"]


def _kafka(stage_seq: int, *offsets: int, reason: str = "duplicate") -> list[Rejection]:
    """Rejections of the messages at ``offsets`` of Kafka partition k-0 (raw: the message's line), batch
    ``stage_seq``."""
    return [Rejection(reason, f"line of {o}", "d", "k-0", stage_seq, o) for o in offsets]


def test_rejections_that_name_their_message_are_written_once_however_the_batch_was_cut(tmp_path: Path) -> None:
    """A Kafka partition resumed after a kill -9 reads 10..59 in one batch where the crashed run read 10..12 (both
    seq 10): the resumed group's rejections of messages 10..12 are in the file already and are left out; the
    others are written. Each names its own message (offset), so that holds across batches and reopens."""
    path = tmp_path / "dead.jsonl"
    crashed, resumed = _kafka(10, 11, 12), _kafka(10, 11, 12, 41, 50)
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("k-0", 10, crashed, stage="dup2") == 2
        assert writer.write_batch("k-0", 10, crashed, stage="dup2") == 0  # a replayed identical group
    with DeadLetterWriter(path) as writer:  # reopened after the crash
        assert writer.write_batch("k-0", 10, crashed, stage="dup2") == 0  # the group, rebuilt from the lines
        assert writer.write_batch("k-0", 10, resumed, stage="dup2") == 2  # only 41 and 50
        assert writer.write_batch("k-0", 40, _kafka(40, 41, 55), stage="dup2") == 1  # cut another way again: 55
        assert writer.write_batch("k-0", 10, resumed, stage="dup2") == 0
        # not the same rejection: another stage, reason, partition or line of the message
        assert writer.write_batch("k-0", 10, _kafka(10, 11), stage="dup0") == 1
        assert writer.write_batch("k-0", 10, _kafka(10, 11, reason="late"), stage="dup2") == 1
        assert writer.write_batch("k-1", 10, [Rejection("duplicate", "line of 11", "d", "k-1", 10, 11)],
                                  stage="dup2") == 1
        assert writer.write_batch("k-0", 10, [Rejection("duplicate", "other line", "d", "k-0", 10, 11)],
                                  stage="dup2") == 1
    with DeadLetterWriter(path) as writer:  # every own key rebuilt from the file, the subsets' included
        for seq, group in ((10, resumed), (12, _kafka(12, 12, 41, 50, 55))):
            assert writer.write_batch("k-0", seq, group, stage="dup2") == 0
    entries = read_dead_letters(path)
    assert [(e["seq"], e["offset"], e["i"], e["n"]) for e in entries[:5]] == [
        (10, 11, 0, 2), (10, 12, 1, 2), (10, 41, 0, 2), (10, 50, 1, 2), (40, 55, 0, 1)]
    assert len(entries) == 9


def test_identical_lines_of_one_message_are_each_written_once(tmp_path: Path) -> None:
    """A JSON-lines message can hold the same line twice (both duplicates): two rejections, written once each."""
    path = tmp_path / "dead.jsonl"
    twice = _kafka(7, 7, 7, 8)
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("k-0", 7, twice, stage="dup1") == 3
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("k-0", 5, _kafka(5, 5, 7, 7, 8), stage="dup1") == 1  # re-cut: only 5's
        assert writer.write_batch("k-0", 7, _kafka(7, 7, 7, 7), stage="dup1") == 1  # a third one is another
    assert [e["offset"] for e in read_dead_letters(path)] == [7, 7, 8, 5, 7]


def test_a_cut_group_of_rejections_with_offsets_is_written_whole_again(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        writer.write_batch("k-0", 1, _kafka(1, 1, 2), stage="check")
        writer.write_batch("k-0", 3, _kafka(3, 3, 4, 5), stage="check")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:4]))  # the crash cut batch 3's group after 2 of its 3 lines
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("k-0", 3, _kafka(3, 3, 4, 5), stage="check") == 3
    assert [e["offset"] for e in read_dead_letters(path)] == [1, 2, 3, 4, 5]


def test_groups_of_one_key_written_one_after_the_other_are_told_apart_on_reopen(tmp_path: Path) -> None:
    """Two groups of one (stage, partition, seq) in a row, the second cut by a crash: the first stays, the cut one
    is removed and written whole again."""
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        writer.write(_rejections("p0", 1, 2))
        writer.write(_rejections("p0", 1, 3)[1:] + _rejections("p0", 2, 1)[:1])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]))  # the second group of (p0, 1) has 1 of its 2 lines
    with DeadLetterWriter(path) as writer:
        assert writer.already_written("p0", 1, rejections=_rejections("p0", 1, 2))
        assert not writer.already_written("p0", 1, rejections=_rejections("p0", 1, 3)[1:])
        assert writer.write(_rejections("p0", 1, 3)[1:]) == 2
    assert [(e["raw"], e["i"], e["n"]) for e in read_dead_letters(path)] == [
        ("raw p0/1/0", 0, 2), ("raw p0/1/1", 1, 2), ("raw p0/1/1", 0, 2), ("raw p0/1/2", 1, 2)]


def test_interrupted_write_is_removed_and_rewritten_whole(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    lines = _two_groups(path, 2, 3)
    path.write_bytes(b"".join(lines[:3]) + lines[3][:10])  # crash: batch 2 has 1 line and a torn one
    with DeadLetterWriter(path) as writer:
        assert not writer.already_written("p0", 2)
        assert writer.write(_rejections("p0", 2, 3)) == 3
    entries = read_dead_letters(path)
    assert [(e["seq"], e["i"]) for e in entries] == [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]


def test_threads_write_each_batch_once(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        def work() -> None:
            for seq in range(50):
                writer.write(_rejections("p0", seq, 2))
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    entries = read_dead_letters(path)
    assert sorted((e["seq"], e["i"]) for e in entries) == [(s, i) for s in range(50) for i in range(2)]


def test_the_file_is_bounded_and_a_flood_is_summarized(tmp_path: Path, caplog) -> None:
    import logging

    path = tmp_path / "dead.jsonl"
    late = [Rejection("late", f"raw {i}", "3 years behind", "p0", 1) for i in range(2_500)]
    with caplog.at_level(logging.INFO), DeadLetterWriter(path, max_entries=1_000) as writer:
        assert writer.write(late[:600]) == 600
        assert writer.write([Rejection("late", r.raw, r.detail, "p0", 2) for r in late[600:]]) == 400
        assert writer.write(_rejections("p1", 1, 3)) == 0
        assert writer.seen == {"late": 2_500, "malformed": 3}
        assert writer.dropped == {"late": 1_500, "malformed": 3}
    entries = read_dead_letters(path)
    assert len(entries) == 1_000 and entries[-1]["n"] == 400  # a group cut at the limit stays whole
    assert "1,000 readings rejected as late so far (e.g. 3 years behind)" in caplog.text
    assert caplog.text.count("rejected as late so far") == 1  # 2,500: not again before 10,000
    assert caplog.text.count("is full") == 1 and "late 2,500 (1,500 not written)" in caplog.text
    with DeadLetterWriter(path, max_entries=1_000) as writer:  # reopened: the lines already there count
        assert writer.lines == 1_000 and writer.write(_rejections("p9", 1, 1)) == 0
    with DeadLetterWriter(path, max_entries=0, max_bytes=path.stat().st_size + 200) as writer:
        assert writer.write(_rejections("p9", 2, 5)) in (1, 2)  # the byte limit


@pytest.mark.parametrize("content", [
    b"time,reason\n2026-03-02,malformed\n",                                    # a CSV given by mistake
    b'{"ts": "2026-03-02T00:00:00Z", "indicator": "pm25", "area": "a", "value": 1.0}\n',  # a readings file
    bytes(range(256)) * 4,                                                     # binary, newlines inside
    b"not a dead letter",                                                      # one torn-looking line, alien
], ids=["csv", "readings", "binary", "alien-no-newline"])
def test_a_file_of_another_kind_is_refused_in_one_line_and_kept(tmp_path: Path, content: bytes) -> None:
    """Before, the unreadable first line was taken for a torn write and the file was cut to nothing."""
    path = tmp_path / "given-by-mistake"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"line 1 \(byte 0\) is not a dead-letter line") as caught:
        DeadLetterWriter(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(ConfigError, match="is not a dead-letter line"):
        check_dead_letter_file(path)
    assert path.read_bytes() == content


def test_a_corrupt_line_between_groups_is_refused_not_cut(tmp_path: Path) -> None:
    """A corrupt line followed by more lines is no torn write: cutting there dropped the groups after it."""
    path = tmp_path / "dead.jsonl"
    lines = _two_groups(path, 2, 1)
    content = lines[0] + lines[1] + b"\x00" * 40 + b"\n" + lines[2]
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"line 3 \(byte \d+\) is not a dead-letter line"):
        DeadLetterWriter(path)
    assert path.read_bytes() == content
    check_dead_letter_file(tmp_path / "absent.jsonl")  # no file yet: nothing to check


def _placed(seq: int, *lines: int, file: str = "in/a.csv") -> list[Rejection]:
    return [Rejection("late", f"line {n}", f"detail of {seq}", "file-0", seq, None, file, n) for n in lines]


def test_rejections_that_name_their_file_line_are_written_once_however_the_replay_was_cut(tmp_path: Path) -> None:
    """A file replay resumed after a crash numbers its batches again: a rejection that names its file and line
    is in the file once, whatever group it comes in, across reopens; another file's same line is another one."""
    path = tmp_path / "dead.jsonl"
    with DeadLetterWriter(path) as writer:
        assert writer.write_batch("file-0", 3, _placed(3, 7, 9)) == 2
    with DeadLetterWriter(path) as writer:  # reopened: the places rebuilt from the lines
        assert writer.write_batch("file-0", 1, _placed(1, 7, 9, 12)) == 1  # only line 12
        assert writer.write_batch("file-0", 1, _placed(1, 7, file="in/b.csv")) == 1
        parquet = [Rejection("duplicate", "row", "d", "file-0", 2, None, "c.parquet", None, 7)]
        assert writer.write_batch("file-0", 2, parquet) == 1
        assert writer.write_batch("file-0", 5, parquet) == 0
        unplaced = [Rejection("malformed", "row", "d", "file-0", 6, None, "c.parquet")]  # the file alone
        assert writer.write_batch("file-0", 6, unplaced) == 1
        assert writer.write_batch("file-0", 7, unplaced) == 1  # not known on its own: another group, written
    entries = read_dead_letters(path)
    assert [(e["file"], e.get("line"), e.get("row")) for e in entries] == [
        ("in/a.csv", 7, None), ("in/a.csv", 9, None), ("in/a.csv", 12, None), ("in/b.csv", 7, None),
        ("c.parquet", None, 7), ("c.parquet", None, None), ("c.parquet", None, None)]
    assert all("offset" not in e for e in entries)
