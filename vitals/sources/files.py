"""File replay: a file or a directory of CSV, JSON lines or Parquet, read in blocks from a resumable
position (file index, byte or row offset), partitioned across workers by file.

A file is a unit of failure: one that cannot be read (corrupt, empty or truncated Parquet, an I/O error, a
CSV without its header line) becomes one ``unreadable_file`` rejection (raw and file: its path, detail: why) and the
replay goes on with the next file; what was read from it before the failure stays accepted. Text blocks are
cut between records: after the ~1 MiB block and the rest of its last line, a CSV block takes further lines
while a quoted field is open (up to another block's worth), a JSON lines block takes the indented lines that
go on a pretty-printed object.

Each file keeps its own event-time watermark (the batches carry their file as ``origin``; see
:mod:`vitals.stream.partition_check`): files dealt to one partition are read one after the other, and one
station's file starting years before the previous one ended loses nothing. Within a file, readings more
than the allowed lateness behind a newer one of the same file are ``late`` (and the file gets a warning).

Post-incident review replays a day as fast as possible or paced by event time (see
:class:`vitals.sources.base.EventTimePacer`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.batches import FilePlace, ReadingBatch, Rejection, placed
from vitals.errors import SourceError
from vitals.readings.input_text import FileInput
from vitals.readings.parse_csv import header_names, missing_header
from vitals.sources.base import SourceBatch, now_ns

log = logging.getLogger(__name__)
_CR, _LF = ord("\r"), ord("\n")


@dataclass(frozen=True)
class FileSettings:
    """``source: file`` (what `vitals replay` runs): config section ``sources: {file: {path: ...}}``, flag
    ``--path`` (or replay's argument), variable ``VITALS_PATH``."""

    path: str | None = None  # a readings file or a directory of them

    def problems(self) -> list[str]:
        return [] if self.path else ["source=file needs path (a file or a directory of readings)"]

FORMATS: dict[str, str] = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
}


class _Unreadable(Exception):
    """This file cannot be read (any further): it is rejected as a whole and the replay moves on."""


def _continues_json(line: bytes) -> bool:
    return line[:1] in (b" ", b"\t", b"}", b"]")


def _complete_block(f: Any, data: bytes, fmt: str, limit: int) -> bytes:
    """The lines after a full block that still belong to its last record (at most ``limit`` bytes)."""
    extra = b""
    if fmt == "csv":
        open_quote = data.count(b'"') % 2 == 1  # blocks start between records: odd means inside a quoted field
        while open_quote and len(extra) < limit:
            line = f.readline()
            if not line:
                break
            extra += line
            open_quote ^= line.count(b'"') % 2 == 1
        return extra
    while len(extra) < limit:
        at = f.tell()
        line = f.readline()
        if not line or not _continues_json(line):
            f.seek(at)
            break
        extra += line
    return extra


class BlockParser(Protocol):
    """What file replay needs from :class:`vitals.readings.ReadingParser`."""

    def parse_jsonl(self, data: bytes, *, partition: str, seq: int, received_ns: int) -> Any: ...
    def parse_csv(self, data: bytes, *, partition: str, seq: int, received_ns: int) -> Any: ...
    def parse_table(self, table: Any, *, partition: str, seq: int, received_ns: int) -> Any: ...


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"{path}: unknown file type {path.suffix!r}; use .jsonl, .csv or .parquet"
        raise SourceError(msg)
    return fmt


def discover_files(path: str | Path) -> list[Path]:
    """The readings files at ``path`` (a file, or every known file type under a directory, sorted)."""
    root = Path(path)
    if root.is_file():
        file_format(root)
        return [root]
    if root.exists() and not root.is_dir():  # was "does not exist"
        msg = (f"{root} is not a regular file (a FIFO, socket or device): a replay reads files it can seek in; "
               "write the readings to a file, or send a stream through MQTT or Kafka")
        raise SourceError(msg)
    if not root.is_dir():
        msg = f"{root} does not exist; pass a readings file or a directory of them"
        raise SourceError(msg)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
    if not files:
        msg = f"{root} holds no .jsonl, .csv or .parquet files"
        raise SourceError(msg)
    return files


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def files_for_partition(files: list[Path], partition: int, n_partitions: int) -> list[Path]:
    """Files are dealt to partitions round-robin in sorted order: each file is read by one partition."""
    return files[partition::n_partitions]


@dataclass(frozen=True)
class FilePosition:
    """Where a partition's replay stands: next file, byte (text) or row (Parquet) offset, next batch seq; and, for
    a paced replay that stopped inside a block, how many of that block's rows were already emitted."""

    file_index: int = 0
    offset: int = 0
    seq: int = 0
    skip_rows: int = 0


def bare_cr(data: bytes) -> int | None:
    """Where the first carriage return without a line feed after it sits in ``data`` (old Mac line ends), or
    None. Refused in a text replay file, even inside a quoted CSV field: the CSV parser cuts lines there
    (``bytes.splitlines``, Arrow), the JSON lines parser does not, and the file's line count (dead letters' line
    numbers, what ``sed -n Np`` prints) counts line feeds; read anyway, an old Mac CSV was one header line (no
    reading, no rejection) and a JSON lines file one malformed reading. The last byte is not judged (its line
    feed can be the next byte read)."""
    if data.find(b"\r", 0, len(data) - 1) < 0:  # memchr: nearly free for LF files (CRLF: ~0.4 ms a MiB)
        return None
    a = np.frombuffer(data, dtype=np.uint8)
    cr = np.flatnonzero(a[:-1] == _CR)
    found = cr[a[cr + 1] != _LF]
    return int(found[0]) if found.size else None


def _bare_cr_problem(at: int) -> str:
    return (f"a bare carriage return at byte {at:,} (CR without LF: old Mac line ends); line ends must be LF or "
            "CRLF: convert the file (e.g. tr '\\r' '\\n' < old > new)")


def _line_ends(data: bytes) -> int:
    """The ``\n`` bytes of ``data`` (numpy: ~0.1 ms a MiB, a tenth of ``bytes.count``)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == _LF))


def _placed(result: Any, where: FileInput) -> SourceBatch:
    """A parsed block as a batch whose input knows each item's file and line or row (by reference: looked up
    only for a reading rejected later, late or duplicate), and its parse rejections placed the same way."""
    batch = result.batch
    if batch.raw_source is not None:
        batch = dataclasses.replace(batch, raw_source=where)
    rejections = placed(list(result.rejections), where, FilePlace(where.file))
    return SourceBatch(batch, rejections, origin=where.file, validated=True)


class FileReplay:
    """Reads one partition's files block by block. ``read_next()`` returns None at the end."""

    def __init__(
        self, files: list[Path], parser: BlockParser, partition: str, *, position: FilePosition | None = None,
        block_bytes: int = 1 << 20, block_rows: int = 50_000,
    ) -> None:
        self.files = files
        self.parser = parser
        self.partition = partition
        self.position = position or FilePosition()
        self.item_position = self.position  # where the block read_next returned last was read
        self.block_bytes = block_bytes
        self.block_rows = block_rows
        self._header: dict[int, bytes] = {}
        self._pq_iter: Any = None
        self._pq_key: tuple[int, int] | None = None
        self._sizes = [_file_size(p) for p in files]
        self._rows: dict[int, int] = {}
        self._line_mark: tuple[int, int, int] = (-1, 0, 0)  # (file index, byte offset, line ends before it)

    @property
    def total_bytes(self) -> int:
        return sum(self._sizes)

    def bytes_done(self) -> int:
        """Bytes of this partition's files replayed so far (a Parquet file counts its rows' share of its size).
        Read from another thread (progress bars): only reads the immutable position."""
        pos = self.position
        done = sum(self._sizes[:pos.file_index])
        if pos.file_index >= len(self.files) or not pos.offset:
            return done
        size = self._sizes[pos.file_index]
        if file_format(self.files[pos.file_index]) != "parquet":
            return done + min(pos.offset, size)
        rows = self._rows.get(pos.file_index) or 1
        return done + min(size, size * pos.offset // rows)

    @property
    def done(self) -> bool:
        return self.position.file_index >= len(self.files)

    def read_next(self) -> SourceBatch | None:
        while not self.done:
            pos = self.position
            path = self.files[pos.file_index]
            fmt = file_format(path)
            try:
                if fmt == "parquet":
                    item, new_offset = self._read_parquet(path, pos)
                else:
                    item, new_offset = self._read_text(path, fmt, pos)
            except _Unreadable as exc:
                self._pq_iter = None
                self.position, self.item_position = FilePosition(pos.file_index + 1, 0, pos.seq + 1), pos
                return self._unreadable(path, pos, str(exc))
            if item is None:  # this file is finished
                self.position = FilePosition(pos.file_index + 1, 0, pos.seq)
                continue
            self.position, self.item_position = FilePosition(pos.file_index, new_offset, pos.seq + 1), pos
            return item
        return None

    def _unreadable(self, path: Path, pos: FilePosition, why: str) -> SourceBatch:
        log.warning("skipping unreadable file %s: %s", path, why)
        detail = " ".join(why.split())[:500]
        where = f" after {pos.offset:,} {'rows' if file_format(path) == 'parquet' else 'bytes'}" if pos.offset else ""
        rejection = Rejection("unreadable_file", str(path), f"cannot read this file{where}: {detail}",
                              self.partition, pos.seq, file=str(path))  # "file" as every file-replay dead letter
        return SourceBatch(ReadingBatch.empty(self.partition, pos.seq, now_ns()), [rejection], validated=True)

    def _read_text(self, path: Path, fmt: str, pos: FilePosition) -> tuple[SourceBatch | None, int]:
        try:
            with path.open("rb") as f:
                header = b""
                start = pos.offset
                if fmt == "csv":
                    header = self._csv_header(pos.file_index, f)
                    start = max(start, len(header))
                before = self._lines_before(pos.file_index, start, f)
                f.seek(start)
                data = f.read(self.block_bytes)
                if not data:
                    return None, start
                at = bare_cr(data)  # before completing: an old Mac file is one "line" to its end
                if at is None and len(data) == self.block_bytes:
                    data += f.readline()  # complete the last line, then the last record
                    data += _complete_block(f, data, fmt, self.block_bytes)
                    more = bare_cr(data[self.block_bytes - 1:])  # the completion (and the block's last byte)
                    at = None if more is None else self.block_bytes - 1 + more
                if at is not None:  # read the lines before it; the file is refused at the line that holds it
                    cut = data.rfind(b"\n", 0, at) + 1
                    if cut == 0 or (fmt == "csv" and data.count(b'"', 0, cut) % 2):
                        raise _Unreadable(_bare_cr_problem(start + at))
                    data = data[:cut]
        except OSError as exc:
            raise _Unreadable(str(exc)) from exc
        self._line_mark = (pos.file_index, start + len(data), before + _line_ends(data))  # one count a block
        parse = self.parser.parse_csv if fmt == "csv" else self.parser.parse_jsonl
        block = header + data
        result = parse(block, partition=self.partition, seq=pos.seq, received_ns=now_ns())
        # block line 0 is the header of a CSV block (file line 1), the block's first line of a JSON lines one
        where = FileInput(result.batch.raw_source, str(path), fmt, block, before - 1 if fmt == "csv" else before)
        return _placed(result, where), start + len(data)

    def _lines_before(self, index: int, start: int, f: Any) -> int:
        """Line ends in the file before byte ``start``: carried from the block before, else counted (a resume
        inside the file, the header of a CSV)."""
        mark_index, mark_offset, lines = self._line_mark
        if (mark_index, mark_offset) == (index, start):
            return lines
        f.seek(0)
        lines, left = 0, start
        while left > 0:
            chunk = f.read(min(left, 1 << 22))
            if not chunk:
                break
            lines, left = lines + _line_ends(chunk), left - len(chunk)
        return lines

    def _csv_header(self, index: int, f: Any) -> bytes:
        if index not in self._header:
            f.seek(0)
            header = f.readline(self.block_bytes)  # not the whole of an old Mac file (one "line")
            at = bare_cr(header)
            if at is not None:
                raise _Unreadable(_bare_cr_problem(at))
            if len(header) == self.block_bytes and not header.endswith(b"\n"):
                header += f.readline()
            why = missing_header(header_names(header)) if header.strip() else ""
            if why:
                raise _Unreadable(f"{why} (first line of the file)")
            self._header[index] = header
        return self._header[index]

    def _read_parquet(self, path: Path, pos: FilePosition) -> tuple[SourceBatch | None, int]:
        try:
            rb = self._next_record_batch(path, pos)
        except Exception as exc:  # corrupt, empty, truncated: Arrow raises OSError, ArrowInvalid and others
            raise _Unreadable(f"{type(exc).__name__}: {exc}") from exc
        if rb is None:
            return None, pos.offset
        table = pa.Table.from_batches([rb])
        result = self.parser.parse_table(table, partition=self.partition, seq=pos.seq, received_ns=now_ns())
        return _placed(result, FileInput(result.batch.raw_source, str(path), "parquet", None, pos.offset)), \
            pos.offset + table.num_rows

    def _next_record_batch(self, path: Path, pos: FilePosition) -> pa.RecordBatch | None:
        """The record batch at ``pos``; keeps the file's iterator open between calls (reopened on resume)."""
        key = (pos.file_index, pos.offset)
        if self._pq_key != key or self._pq_iter is None:
            parquet = pq.ParquetFile(path)
            self._rows[pos.file_index] = parquet.metadata.num_rows
            self._pq_iter = iter(parquet.iter_batches(batch_size=self.block_rows))
            skipped = 0
            while skipped < pos.offset:  # resume: skip whole batches, then slice the partial one
                rb = next(self._pq_iter, None)
                if rb is None:
                    return None
                if skipped + rb.num_rows > pos.offset:
                    rest = rb.slice(pos.offset - skipped)
                    self._pq_key = (pos.file_index, pos.offset + rest.num_rows)
                    return rest
                skipped += rb.num_rows
        rb = next(self._pq_iter, None)
        if rb is None:
            self._pq_iter = None
            return None
        self._pq_key = (pos.file_index, pos.offset + rb.num_rows)
        return rb
