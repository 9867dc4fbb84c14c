"""The input text of a parsed block, kept by reference so that a reading rejected after parsing (``late`` at the
watermark, ``duplicate`` in the series state) gets its input line in the dead letters, as a malformed one does.

A parser gives :func:`vitals.readings.parse_arrow.assemble` an :class:`InputText` of the block (the bytes or the
Arrow table it read, nothing copied); the accepted batch carries it with ``raw_index``, one int32 per reading: the
reading's item (line, CSV record, table row) in the block. The block is cut into items only when a reading of it
is rejected, once per block. It pickles (Bytewax sends batches between processes) without that cache.

Kinds: ``lines`` (a JSON lines block: its non-blank lines), ``csv`` (a CSV block: its records after the header,
or the table row as JSON when the records cannot be matched to the rows), ``items`` (the bytes of each item),
``texts`` (the text of each item), ``records`` (decoded JSON values: each rendered as JSON), ``table`` (an Arrow
table: a JSON rendering of the row as read).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vitals.batches import FilePlace, Position


class InputText:
    """Row ``i`` of a parsed block as input text: ``InputText(kind, data)(i)``."""

    __slots__ = ("_batch", "_items", "data", "has_header", "kind", "table")

    def __init__(self, kind: str, data: bytes | Sequence[bytes] | Sequence[str] | pa.Table, *,
                 has_header: bool = False, table: pa.Table | None = None) -> None:
        self.kind, self.has_header, self.table = kind, has_header, table
        self.data: Any = data
        self._items: list[str] | None = None
        self._batch: pa.RecordBatch | None = None

    @classmethod
    def of_table(cls, table: pa.Table) -> InputText:
        return cls("table", table)

    def __call__(self, row: int) -> str:
        if self.kind == "table":
            return self.many([row])[0]
        if self.kind == "items":
            return bytes(self.data[row]).decode("utf-8", errors="backslashreplace")
        if self.kind == "texts":
            return str(self.data[row])
        if self.kind == "records":
            try:
                return json.dumps(self.data[row], ensure_ascii=False, allow_nan=True, default=repr)
            except (TypeError, ValueError, RecursionError):
                return repr(self.data[row])
        items = self._split()
        if items is None:  # CSV records that do not match the table's rows: the row as read
            return _table_rows(_one_batch(self.table), [row])[0] if self.table is not None else ""
        return items[row]

    def many(self, rows: Sequence[int]) -> list[str]:
        """Several rows at once (a table renders them in one conversion)."""
        if self.kind == "table":
            if self._batch is None:
                self._batch = _one_batch(self.data)
            return _table_rows(self._batch, rows)
        return [self(row) for row in rows]

    def positions(self, rows: Sequence[int]) -> list[Position]:
        """Where the rows sit in their source partition: not known to a block alone (see :class:`MessageInput`)."""
        return [None] * len(rows)

    def _split(self) -> list[str] | None:
        if self._items is None:
            self._items = _cut(self.kind, self.data, self.has_header, self.table)
        return self._items or None

    def __getstate__(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": self.data, "has_header": self.has_header, "table": self.table}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.kind, self.data, self.has_header, self.table = (state["kind"], state["data"], state["has_header"],
                                                             state["table"])
        self._items, self._batch = None, None


class MessageInput:
    """The input of a batch of messages (Kafka): the items of ``inner`` (the parsed messages' input, numbered as
    the concatenated messages are read), and the offset of the message each item came from: message ``k`` has
    ``items[k]`` input items (0 for an empty message) and offset ``offsets[k]``.

    The readings carry nothing more than their ``raw_index``, and nothing is computed when a batch is read: the
    message of an item is looked up only for a reading rejected after parsing (late, duplicate)."""

    __slots__ = ("inner", "items", "offsets")

    def __init__(self, inner: Any, items: Sequence[int], offsets: Sequence[int]) -> None:
        self.inner, self.items, self.offsets = inner, items, offsets

    def __call__(self, row: int) -> str:
        return str(self.inner(row))

    def many(self, rows: Sequence[int]) -> list[str]:
        return list(self.inner.many(rows))

    def positions(self, rows: Sequence[int]) -> list[Position]:
        starts = np.cumsum(self.items) - np.asarray(self.items)  # the first item of each message
        message = np.searchsorted(starts, np.asarray(rows, dtype=np.int64), side="right") - 1
        return [int(self.offsets[k]) for k in message.tolist()]

    def __getstate__(self) -> tuple[Any, Sequence[int], Sequence[int]]:
        return self.inner, self.items, self.offsets

    def __setstate__(self, state: tuple[Any, Sequence[int], Sequence[int]]) -> None:
        self.inner, self.items, self.offsets = state


class FileInput:
    """The input of a block read from a replayed file (``inner``: its items' text, or None) and where each item
    sits in the file: ``kind`` ``csv`` or ``jsonl`` (``block``: the bytes the parser read, a CSV block with the
    file's header line first; item ``k`` starts on block line ``j``, file line ``base + j + 1``) or ``parquet``
    (item ``k`` is the file's row ``base + k``, 0-based).

    Nothing is computed when a block is read: the block is cut into lines once, for its first rejection."""

    __slots__ = ("_starts", "base", "block", "file", "inner", "kind")

    def __init__(self, inner: Any, file: str, kind: str, block: bytes | None, base: int) -> None:
        self.inner, self.file, self.kind, self.block, self.base = inner, file, kind, block, base
        self._starts: list[int] | None = None

    def __call__(self, row: int) -> str:
        return "" if self.inner is None else str(self.inner(row))

    def many(self, rows: Sequence[int]) -> list[str]:
        return [""] * len(rows) if self.inner is None else list(self.inner.many(rows))

    def positions(self, rows: Sequence[int]) -> list[Position]:
        if self.kind == "parquet":
            return [FilePlace(self.file, row=self.base + row) for row in rows]
        starts = self._lines()
        return [FilePlace(self.file, line=self.base + starts[row] + 1) if 0 <= row < len(starts)
                else FilePlace(self.file) for row in rows]

    def _lines(self) -> list[int]:
        if self._starts is None:
            block = self.block or b""
            if self.kind == "csv":
                from vitals.readings.parse_csv import record_lines

                fast = isinstance(self.inner, InputText) and self.inner.kind == "csv"  # Arrow read the block
                self._starts = record_lines(block, one_a_line=fast)[1:]  # the header line is no item
            else:
                from vitals.readings.parse_json import item_lines

                self._starts = item_lines(block)
        return self._starts

    def __getstate__(self) -> tuple[Any, str, str, bytes | None, int]:
        return self.inner, self.file, self.kind, self.block, self.base

    def __setstate__(self, state: tuple[Any, str, str, bytes | None, int]) -> None:
        self.inner, self.file, self.kind, self.block, self.base = state
        self._starts = None


def _cut(kind: str, data: bytes, has_header: bool, table: pa.Table | None) -> list[str]:
    if kind == "lines":
        from vitals.readings.parse_json import nonblank_lines

        return [line.decode("utf-8", errors="backslashreplace") for line in nonblank_lines(data)]
    if kind == "csv":
        from vitals.readings.parse_csv import record_texts

        rows = record_texts(data)[1 if has_header else 0:]
        return rows if table is None or len(rows) == table.num_rows else []
    msg = f"unknown input kind {kind!r}"
    raise ValueError(msg)


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    """The table as one record batch (a take on it is far cheaper than on a chunked, dictionary-encoded table)."""
    batches = table.combine_chunks().to_batches()
    return batches[0] if len(batches) == 1 else pa.RecordBatch.from_pylist(table.to_pylist(), schema=table.schema)


def _table_rows(batch: pa.RecordBatch, rows: Sequence[int]) -> list[str]:
    """Rows of a record batch as JSON objects of every column in file order, converted column by column:
    timestamps as ISO 8601 (UTC with ``Z`` when the column has a zone), dictionary values decoded."""
    index = pa.array(rows, type=pa.int64())
    columns = [_plain(batch.column(k).take(index)) for k in range(batch.num_columns)]
    names = batch.schema.names
    return [json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False, allow_nan=True, default=str)
            for values in zip(*columns, strict=True)]


def _plain(column: pa.Array) -> list[Any]:
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _plain(column.dictionary.take(column.indices))
    if pa.types.is_timestamp(kind):  # numpy gives the UTC instants of a zoned column
        stamps = np.datetime_as_string(column.to_numpy(zero_copy_only=False))
        suffix = "Z" if kind.tz else ""
        return [None if valid is False else f"{text}{suffix}"
                for text, valid in zip(stamps.tolist(), column.is_valid().to_pylist(), strict=True)]
    return column.to_pylist()
