"""Dead letters: every rejected reading as one JSON line, written at least once, and a replayed batch's once.

Line: ``{"time", "reason", "detail", "partition", "seq", "stage", "raw", "i", "n"}``: write time (UTC),
reason, plain detail, the source batch (partition, seq), the pipeline step that rejected it (``check`` for
parsing, validation and late readings, ``dup<shard>`` for duplicates; ``parse`` by default), the raw input, and
the line's position ``i`` among the ``n`` lines of its group (one call for one (stage, partition, seq)). When the source
knows where the input sits in its partition, an ``"offset"`` follows: Kafka's is the offset of the message that
held the reading, for every reason (a late or duplicate reading too, not its batch's first offset, which is the
``seq``); the partition is then ``<topic>-<kafka partition>``. A replayed file's entries name ``"file"`` (its
path as found) and ``"line"`` (1-based, CSV and JSON lines; a CSV's header is line 1) or ``"row"`` (0-based,
Parquet) instead.

Idempotence: all rejections of one (stage, partition, seq) are written in a single call and a single
``write``, as one *group*; the groups already in the file are rebuilt when it is opened, and a group that is
present is not written again (Bytewax re-emits the last epoch after a resume). A group is its key *and its
content*: (stage, partition, seq) and a digest of its rejections' (reason, raw, offset or file place) in order. A batch
number alone does not say what the batch held: a Kafka partition resumed from an offset is cut into batches
by what each poll returns (a batch starting at the same offset can hold more messages than before the crash),
and an MQTT or file source that starts again numbers its batches from 0. Keyed by the number alone, such a
batch's rejections were taken for written and lost; now a replayed group with the same rejections is skipped
and any other is written. A rejection with an offset or a file place is also known on its own, whatever group
it came in: (stage, partition, offset or place, reason, raw, and which of identical ones of its message it is);
one already in the file is left out of a later group (so a re-cut Kafka batch writes only its rejections not
yet written). A rejection without one (MQTT) can appear twice in the file after a crash, never not at all. A
group cut short by a crash (fewer than ``n`` lines, or a torn last line) is removed on open, so the replay
writes it whole.

Bounded: at most ``max_entries`` lines and ``max_bytes`` bytes (defaults 100,000 and 50 MB; 0 = no limit) are
kept; past the limit rejections are still counted exactly (the pipeline counters come from the stream state,
not from this file) but not written, and the log says so once. A flood of one reason is summarized in the
log (at 1,000, 10,000, 100,000 ... of a reason, with an example), never one line per reading; ``close``
logs the totals per reason.

One writer per file: it is safe for several threads (Bytewax workers in one process), not for several
processes; give each process its own file (e.g. ``dead_letters-<process>.jsonl``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from vitals.batches import Rejection
from vitals.errors import ConfigError

log = logging.getLogger(__name__)

Key = tuple[str, str, int, str]  # (stage, partition, seq, digest of the group's rejections)
Where = int | tuple[str, int | None, int | None] | None  # a message's offset, (file, line, row), or not known
Item = tuple[str, str, Where]  # (reason, raw, where) of a rejection


DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
FLOOD_FIRST = 1_000  # a reason's count is logged at 1,000, 10,000, 100,000 ...


def _digest(items: Sequence[Item]) -> str:
    """The content of a group: a digest of its rejections' (reason, raw, offset or file place), in order (not the
    detail, which may name the arrival time)."""
    return hashlib.blake2b(orjson.dumps(items), digest_size=8).hexdigest()


def _positioned(stage: str, partition: str, items: Sequence[Item]) -> list[str | None]:
    """Each rejection's own key when it names its input (a message's offset, a file's line or row): a digest of
    (stage, partition, offset or place, reason, raw, occurrence), the occurrence counting identical rejections of
    one message before it in the group (a message can hold the same line twice); None for a rejection without
    one."""
    seen: dict[Item, int] = {}
    out: list[str | None] = []
    for item in items:
        if item[2] is None:
            out.append(None)
            continue
        k = seen.get(item, 0)
        seen[item] = k + 1
        out.append(hashlib.blake2b(orjson.dumps([stage, partition, item[2], item[0], item[1], k]),
                                   digest_size=8).hexdigest())
    return out


LINE_START = b'{"time":'  # every line this writer writes starts so (the dict's first key)


def _torn(line: bytes) -> bool:
    """Whether an unreadable line is the torn end of a write of this writer's: the file's last line, without its
    newline, and starting as every dead-letter line does (or a piece of that start)."""
    return not line.endswith(b"\n") and line[:len(LINE_START)] == LINE_START[:len(line)]


def _not_dead_letters(path: Path, lineno: int, start: int) -> ConfigError:
    msg = (f"dead-letter file {path}: line {lineno} (byte {start}) is not a dead-letter line: another kind of file, "
           "or a corrupt one; the run appends to this file and would cut it there: give --dead-letters a new file "
           "name, or move this file aside")
    return ConfigError(msg)


def check_dead_letter_file(path: str | os.PathLike[str]) -> None:
    """Raise the one-line :class:`ConfigError` the writer would raise on opening ``path``: an existing file that
    holds anything but dead-letter lines (and a torn last line, which the writer cuts)."""
    if Path(path).is_file():
        _scan(Path(path))


def _scan(path: Path) -> tuple[set[Key], set[str], int]:
    """Complete groups in the file, the own keys of their rejections that name their message
    (:func:`_positioned`), and the byte length of its intact prefix (everything before a cut group).

    The lines of a group are consecutive (one ``write`` each); a line that starts another group, or the end of
    the file, ends the one before. Only a torn last line (:func:`_torn`) is cut; any other line that is not a
    dead-letter line raises :class:`ConfigError` (a CSV, a readings file or a binary file given by mistake was
    cut to nothing before, without an error)."""
    # one entry per group in file order: [key without digest, offset of first line, expected, content]
    groups: list[tuple[tuple[str, str, int], int, int, list[Item]]] = []
    offset, intact = 0, 0
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, 1):
            start, offset = offset, offset + len(line)
            try:
                entry = orjson.loads(line) if line.endswith(b"\n") else None
                key = (str(entry["stage"]), str(entry["partition"]), int(entry["seq"]))  # type: ignore[index]
                expected, i = int(entry["n"]), int(entry["i"])  # type: ignore[index]
                item = (str(entry["reason"]), str(entry["raw"]), _where(entry))  # type: ignore[index, arg-type]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                if not _torn(line):
                    raise _not_dead_letters(path, lineno, start) from None
                log.warning("dead-letter file %s: unreadable line at byte %d; the file is cut there", path, start)
                break
            if i == 0 or not groups or groups[-1][0] != key or len(groups[-1][3]) >= groups[-1][2]:
                groups.append((key, start, expected, []))
            groups[-1][3].append(item)
            intact = offset
    cut = [first for _, first, expected, items in groups if len(items) < expected]
    intact = min([*cut, intact])
    whole = [(key, items) for key, first, _, items in groups if first < intact]
    own = {k for key, items in whole for k in _positioned(key[0], key[1], items) if k is not None}
    return {(*key, _digest(items)) for key, items in whole}, own, intact


def _where(entry: dict[str, Any]) -> Where:
    """The offset or file place of a line read back, as :attr:`Rejection.where` gives it."""
    if entry.get("offset") is not None:
        return int(entry["offset"])
    if entry.get("file") is None or (entry.get("line") is None and entry.get("row") is None):
        return None
    return str(entry["file"]), entry.get("line"), entry.get("row")


def _line(r: Rejection, key: Key, i: int, n: int, now: str) -> dict[str, Any]:
    line: dict[str, Any] = {"time": now, "reason": r.reason, "detail": r.detail, "partition": key[1], "seq": key[2],
                            "stage": key[0], "raw": r.raw, "i": i, "n": n}
    if r.offset is not None:
        line["offset"] = r.offset
    if r.file is not None:
        line["file"] = r.file
        if r.line is not None:
            line["line"] = r.line
        if r.row is not None:
            line["row"] = r.row
    return line


class DeadLetterWriter:
    """Append rejections to a JSON lines file, once per (stage, partition, seq) and content, and a rejection
    that names its message (an offset) once."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.seen: dict[str, int] = {}      # rejections given to this writer, per reason (this process)
        self.dropped: dict[str, int] = {}   # ... of which not written (over the limit)
        self._next_report: dict[str, int] = {}
        self._full_logged = False
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._written: set[Key] = set()
        self._own: set[str] = set()  # own keys of the rejections in the file that name their message
        if self.path.exists():
            self._written, self._own, intact = _scan(self.path)
            if intact < self.path.stat().st_size:
                log.warning("dead-letter file %s: removing %d bytes of an interrupted write",
                            self.path, self.path.stat().st_size - intact)
                os.truncate(self.path, intact)
        self.lines, self.bytes = 0, 0
        if self.path.exists():
            with self.path.open("rb") as handle:
                self.lines = sum(1 for _ in handle)
            self.bytes = self.path.stat().st_size
        self._file = self.path.open("ab")

    def already_written(self, partition: str, seq: int, stage: str = "parse",
                        rejections: Sequence[Rejection] | None = None) -> bool:
        """A group of this (stage, partition, seq) is in the file; with ``rejections``: a group of exactly
        these."""
        with self._lock:
            if rejections is not None:
                return self._key(stage, partition, seq, rejections) in self._written
            return any(k[:3] == (stage, str(partition), int(seq)) for k in self._written)

    @staticmethod
    def _key(stage: str, partition: str, seq: int, rejections: Sequence[Rejection]) -> Key:
        return stage, str(partition), int(seq), _digest([(r.reason, r.raw, r.where) for r in rejections])

    def write_batch(self, partition: str, seq: int, rejections: Sequence[Rejection], *, stage: str = "parse") -> int:
        """Write the rejections of one source batch; returns the lines written (0 when this group, the same
        rejections under the same (stage, partition, seq), is already in the file). A rejection that names its
        message (an offset) and is in the file already, in any group, is left out."""
        if not rejections:
            return 0
        key = self._key(stage, partition, seq, rejections)
        own = _positioned(stage, str(partition), [(r.reason, r.raw, r.where) for r in rejections])
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            if key in self._written:
                return 0
            fresh = [(r, k) for r, k in zip(rejections, own, strict=True) if k is None or k not in self._own]
            if not fresh:  # each one is in the file already, from a group cut otherwise (a re-cut Kafka batch)
                self._written.add(key)
                return 0
            rejections = [r for r, _ in fresh]
            self._count(rejections)
            kept = self._room(rejections)
            lines = [orjson.dumps(_line(r, key, i, len(kept), now)) + b"\n" for i, r in enumerate(kept)]
            lines = self._fit_bytes(lines)
            for r in rejections[len(lines):]:
                self.dropped[r.reason] = self.dropped.get(r.reason, 0) + 1
            self._own.update(k for _, k in fresh[:len(lines)] if k is not None)
            if len(lines) < len(kept):  # renumber: a group in the file is always whole (see _scan)
                lines = [orjson.dumps({**orjson.loads(line), "n": len(lines)}) + b"\n" for line in lines]
            if lines:
                payload = b"".join(lines)
                self._file.write(payload)
                self._file.flush()
                if self.fsync:
                    os.fsync(self._file.fileno())
                self.lines += len(lines)
                self.bytes += len(payload)
            self._written.add(key)
            if len(lines) < len(rejections):
                self._log_full()
        return len(lines)

    def _count(self, rejections: Sequence[Rejection]) -> None:
        """Count per reason; log a summary line when a reason passes 1,000, 10,000, 100,000 ..."""
        for r in rejections:
            n = self.seen.get(r.reason, 0) + 1
            self.seen[r.reason] = n
            if n >= self._next_report.get(r.reason, FLOOD_FIRST):
                self._next_report[r.reason] = n * 10
                log.warning("%s readings rejected as %s so far (e.g. %s); see %s and "
                            "vitals_readings_rejected_total", f"{n:,}", r.reason, r.detail[:200], self.path)

    def _room(self, rejections: Sequence[Rejection]) -> Sequence[Rejection]:
        if not self.max_entries:
            return rejections
        return rejections[:max(self.max_entries - self.lines, 0)]

    def _fit_bytes(self, lines: list[bytes]) -> list[bytes]:
        if not self.max_bytes:
            return lines
        room, kept = self.max_bytes - self.bytes, []
        for line in lines:
            room -= len(line)
            if room < 0:
                break
            kept.append(line)
        return kept

    def _log_full(self) -> None:
        if not self._full_logged:
            self._full_logged = True
            log.warning("dead-letter file %s is full (%s lines, %.1f MB; limits %s lines, %.0f MB): further "
                        "rejections are counted (vitals_readings_rejected_total) but not written",
                        self.path, f"{self.lines:,}", self.bytes / 1e6, f"{self.max_entries:,}", self.max_bytes / 1e6)

    def write(self, rejections: Sequence[Rejection], *, stage: str = "parse") -> int:
        """Write rejections grouped by their own (partition, seq); returns the lines written."""
        groups: dict[tuple[str, int], list[Rejection]] = {}
        for rejection in rejections:
            groups.setdefault((rejection.partition, rejection.seq), []).append(rejection)
        return sum(self.write_batch(p, s, group, stage=stage) for (p, s), group in groups.items())

    def close(self) -> None:
        with self._lock:
            self._file.close()
        if self.seen:
            summary = ", ".join(f"{reason} {n:,}" + (f" ({self.dropped[reason]:,} not written)"
                                                     if self.dropped.get(reason) else "")
                                for reason, n in sorted(self.seen.items(), key=lambda kv: -kv[1]))
            log.info("rejected readings: %s; dead letters in %s", summary, self.path)

    def __enter__(self) -> DeadLetterWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def read_dead_letters(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete line of a dead-letter file, as dicts (a torn last line is skipped)."""
    entries = []
    with Path(path).open("rb") as handle:
        for line in handle:
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                log.warning("dead-letter file %s: skipping an unreadable line", path)
    return entries
