"""Dead letters: every rejected reading as one JSON line, written so that a replay never writes it twice.

Line: ``{"time", "reason", "detail", "partition", "seq", "stage", "raw", "i", "n"}``: write time (UTC),
reason, plain detail, the source batch (partition, seq), the pipeline step that rejected it (``parse`` for
parsing and validation, ``watermark`` for late readings, ``state`` for duplicates ...), the raw input, and
the line's position ``i`` among the ``n`` lines written for that (stage, partition, seq). When the source
knows where the input sits in its partition, an ``"offset"`` follows (Kafka: the message's offset; the
partition is then ``<topic>-<kafka partition>``).

Idempotence: all rejections of one (stage, partition, seq) are written in a single call and a single
``write``; the keys already in the file are rebuilt when it is opened, and a key that is present is not
written again (Bytewax re-emits the last epoch after a resume). A group cut short by a crash (fewer than
``n`` lines, or a torn last line) is removed on open, so the replay writes it whole.

One writer per file: it is safe for several threads (Bytewax workers in one process), not for several
processes; give each process its own file (e.g. ``dead_letters-<process>.jsonl``).
"""

from __future__ import annotations

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

log = logging.getLogger(__name__)

Key = tuple[str, str, int]


def _scan(path: Path) -> tuple[set[Key], int]:
    """Complete keys in the file, and the byte length of its intact prefix (everything before a cut group)."""
    groups: dict[Key, list[int]] = {}  # key -> [offset of first line, lines seen, lines expected]
    offset, intact = 0, 0
    with path.open("rb") as handle:
        for line in handle:
            start, offset = offset, offset + len(line)
            try:
                entry = orjson.loads(line) if line.endswith(b"\n") else None
                key = (str(entry["stage"]), str(entry["partition"]), int(entry["seq"]))  # type: ignore[index]
                expected = int(entry["n"])  # type: ignore[index]
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("dead-letter file %s: unreadable line at byte %d; the file is cut there", path, start)
                break
            group = groups.setdefault(key, [start, 0, expected])
            group[1] += 1
            intact = offset
    complete = {key for key, (_, seen, expected) in groups.items() if seen >= expected}
    cut = [first for key, (first, _, _) in groups.items() if key not in complete]
    intact = min([*cut, intact])
    return {key for key in complete if groups[key][0] < intact}, intact


def _line(r: Rejection, key: Key, i: int, n: int, now: str) -> dict[str, Any]:
    line: dict[str, Any] = {"time": now, "reason": r.reason, "detail": r.detail, "partition": key[1], "seq": key[2],
                            "stage": key[0], "raw": r.raw, "i": i, "n": n}
    if r.offset is not None:
        line["offset"] = r.offset
    return line


class DeadLetterWriter:
    """Append rejections to a JSON lines file, once per (stage, partition, seq)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._written: set[Key] = set()
        if self.path.exists():
            self._written, intact = _scan(self.path)
            if intact < self.path.stat().st_size:
                log.warning("dead-letter file %s: removing %d bytes of an interrupted write",
                            self.path, self.path.stat().st_size - intact)
                os.truncate(self.path, intact)
        self._file = self.path.open("ab")

    def already_written(self, partition: str, seq: int, stage: str = "parse") -> bool:
        with self._lock:
            return (stage, str(partition), int(seq)) in self._written

    def write_batch(self, partition: str, seq: int, rejections: Sequence[Rejection], *, stage: str = "parse") -> int:
        """Write the rejections of one source batch; returns the lines written (0 when already written)."""
        key = (stage, str(partition), int(seq))
        if not rejections:
            return 0
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        payload = b"".join(orjson.dumps(_line(r, key, i, len(rejections), now)) + b"\n"
                           for i, r in enumerate(rejections))
        with self._lock:
            if key in self._written:
                return 0
            self._file.write(payload)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self._written.add(key)
        return len(rejections)

    def write(self, rejections: Sequence[Rejection], *, stage: str = "parse") -> int:
        """Write rejections grouped by their own (partition, seq); returns the lines written."""
        groups: dict[tuple[str, int], list[Rejection]] = {}
        for rejection in rejections:
            groups.setdefault((rejection.partition, rejection.seq), []).append(rejection)
        return sum(self.write_batch(p, s, group, stage=stage) for (p, s), group in groups.items())

    def close(self) -> None:
        with self._lock:
            self._file.close()

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
