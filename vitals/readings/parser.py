"""``ReadingParser``: one object per worker that turns raw input blocks into columnar batches + rejections.

Every method returns a :class:`ParseResult` and never raises for any input. The formats isolate bad readings
themselves; if a block still breaks the parser in a way nobody foresaw, the error is logged and the block is
parsed again in halves until each failure is one item (a line, a CSV record, a row, a record, a payload):
only that item is rejected as ``malformed`` (detail names the error), the rest keep their verdicts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.errors import ReadingError
from vitals.readings import parse_csv as csv_format
from vitals.readings import parse_json as json_format
from vitals.readings import parse_payload as payload_format
from vitals.readings.parse_arrow import Context, parse_table, table_raw
from vitals.readings.schema import ParseResult, clip_text, decode_line
from vitals.readings.validate import DEFAULT_MAX_FUTURE_S, DEFAULT_MIN_TIME, TimeRules, time_to_ns, validate

log = logging.getLogger(__name__)

Data = bytes | bytearray | memoryview | str


def _as_bytes(data: Data) -> bytes:
    if not isinstance(data, str):
        return bytes(data)
    try:
        return data.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte: kept as invalid UTF-8
        return data.encode("utf-8", errors="surrogatepass")


@dataclass(frozen=True)
class _Pieces:
    """A block cut into items (each one input), how to parse a list of them, and how to show one."""

    items: list[Any]
    parse: Callable[[list[Any]], ParseResult]
    show: Callable[[Any], str]


def _isolate(ctx: Context, pieces: _Pieces, items: list[Any], error: Exception) -> ParseResult:
    """``items`` (whose parse raised ``error``) parsed again in halves until each failure is a single item."""
    if len(items) == 1:
        why = f"the parser failed on this input ({type(error).__name__}: {error}); please report this input"
        try:
            raw = pieces.show(items[0])
        except Exception:
            raw = "<unprintable input>"
        return ParseResult(ReadingBatch.empty(ctx.partition, ctx.seq, ctx.rules.received_ns),
                           [Rejection("malformed", clip_text(raw), why.splitlines()[0], ctx.partition, ctx.seq,
                                      item=0)])
    mid = len(items) // 2
    results = []
    for part in (items[:mid], items[mid:]):
        try:
            results.append(pieces.parse(part))
        except Exception as exc:
            results.append(_isolate(ctx, pieces, part, exc))
    return ParseResult.concat(results)


class ReadingParser:
    """Parse readings for one catalog.

    ``max_future_s``: how far ahead of its arrival a reading's timestamp may be; ``min_time``: the earliest
    acceptable timestamp (aware); ``use_threads``: let Arrow use its thread pool (off by default: workers
    are processes and the cores are shared).
    """

    def __init__(self, catalog: Catalog, *, max_future_s: float = DEFAULT_MAX_FUTURE_S,
                 min_time: datetime = DEFAULT_MIN_TIME, use_threads: bool = False) -> None:
        self.catalog = catalog
        self.max_future_s = max_future_s
        self.min_time = min_time
        self.use_threads = use_threads
        self._min_time_ns = time_to_ns(min_time)

    def _context(self, partition: str, seq: int, received_ns: int | None) -> Context:
        arrival = time.time_ns() if received_ns is None else int(received_ns)
        return Context(self.catalog, str(partition), int(seq), TimeRules(arrival, self.max_future_s,
                                                                       self._min_time_ns))

    def _guarded(self, ctx: Context, parse: Callable[[], ParseResult], split: Callable[[], _Pieces]) -> ParseResult:
        try:
            return parse()
        except Exception as exc:  # the stream must go on: isolate the items that break the parser
            log.exception("parser failed on block %s/%s; parsing it again piece by piece", ctx.partition, ctx.seq)
            error = exc
        try:
            pieces = split()
        except Exception:  # even the split failed: keep the block as one item
            log.exception("cannot split block %s/%s into items", ctx.partition, ctx.seq)
            pieces = _Pieces(["<unprintable block>"], lambda _items: parse(), str)
        return _isolate(ctx, pieces, pieces.items, error)

    def parse_jsonl(self, data: Data, *, partition: str = "0", seq: int = 0,
                    received_ns: int | None = None) -> ParseResult:
        """A block of JSON lines, one reading object per line."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        return self._guarded(ctx, lambda: json_format.parse_jsonl(ctx, block, self.use_threads),
                             lambda: self._lines(ctx, block))

    def _lines(self, ctx: Context, block: bytes) -> _Pieces:
        return _Pieces(json_format.nonblank_lines(block) or [block],
                       lambda lines: json_format.parse_jsonl(ctx, b"\n".join(lines), self.use_threads), decode_line)

    def parse_json_payload(self, data: Data, *, partition: str = "0", seq: int = 0,
                           received_ns: int | None = None) -> ParseResult:
        """One message: a JSON array of readings, a single object, or JSON lines."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        return self._guarded(ctx, lambda: payload_format.parse_json_payload(ctx, block, self.use_threads),
                             lambda: _Pieces([block], lambda _items: payload_format.parse_json_payload(
                                 ctx, block, self.use_threads), decode_line))

    def parse_payloads(self, payloads: Sequence[Data], *, partition: str = "0", seq: int = 0,
                       received_ns: int | None = None, offsets: Sequence[int] | None = None) -> ParseResult:
        """Messages (MQTT, Kafka), each read as :meth:`parse_json_payload` reads it, as one batch in order.
        ``offsets``: each message's offset (Kafka), kept with the batch's input for late and duplicate dead
        letters (:meth:`vitals.batches.ReadingBatch.input_positions`)."""
        ctx, blocks = self._context(partition, seq, received_ns), [_as_bytes(p) for p in payloads]

        def some(part: list[int]) -> ParseResult:
            return payload_format.parse_payloads(ctx, [blocks[i] for i in part], self.use_threads,
                                                 None if offsets is None else [offsets[i] for i in part])

        return self._guarded(ctx, lambda: payload_format.parse_payloads(ctx, blocks, self.use_threads, offsets),
                             lambda: _Pieces(list(range(len(blocks))), some, lambda i: decode_line(blocks[i])))

    def parse_csv(self, data: Data, *, columns: Sequence[str] | None = None, partition: str = "0", seq: int = 0,
                  received_ns: int | None = None) -> ParseResult:
        """A CSV block with a header line, or without one when ``columns`` names its fields."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        names = None if columns is None else list(columns)
        return self._guarded(ctx, lambda: csv_format.parse_csv(ctx, block, names, self.use_threads),
                             lambda: self._records(ctx, block, names))

    def _records(self, ctx: Context, block: bytes, names: list[str] | None) -> _Pieces:
        header, records = csv_format.split_sources(block, names)
        fields = csv_format.header_names(header) if names is None else names
        return _Pieces(records or [block], lambda part: csv_format.parse_csv(
            ctx, b"\n".join(part), fields, self.use_threads), decode_line)

    def parse_table(self, table: pa.Table | pa.RecordBatch, *, partition: str = "0", seq: int = 0,
                    received_ns: int | None = None) -> ParseResult:
        """An Arrow table or record batch (e.g. read from Parquet) with the reading columns."""
        if not isinstance(table, pa.Table | pa.RecordBatch):
            msg = f"parse_table needs a pyarrow Table or RecordBatch, got {type(table).__name__}"
            raise ReadingError(msg)
        ctx = self._context(partition, seq, received_ns)
        whole = table if isinstance(table, pa.Table) else pa.Table.from_batches([table])
        return self._guarded(ctx, lambda: parse_table(ctx, whole), lambda: _Pieces(
            list(range(whole.num_rows)) or [0], lambda rows: parse_table(ctx, whole.take(rows)), table_raw(whole)))

    def parse_records(self, records: Sequence[object], *, partition: str = "0", seq: int = 0,
                      received_ns: int | None = None) -> ParseResult:
        """Readings already decoded from JSON (dicts), e.g. the items of an MQTT payload."""
        ctx = self._context(partition, seq, received_ns)
        items = records if isinstance(records, list | tuple) else [records]
        return self._guarded(ctx, lambda: json_format.parse_records(ctx, items), lambda: _Pieces(
            list(items) or [None], lambda part: json_format.parse_records(ctx, part), repr))

    def validate(self, batch: ReadingBatch, *, received_ns: int | None = None) -> tuple[ReadingBatch, list[Rejection]]:
        """Check an already coded batch (e.g. from the simulator) with this parser's time rules."""
        return validate(self.catalog, batch, received_ns=received_ns, max_future_s=self.max_future_s,
                        min_time=self.min_time)
