"""``ReadingParser``: one object per worker that turns raw input blocks into columnar batches + rejections.

Every method returns a :class:`ParseResult` and never raises for any input: if a block breaks the parser
in a way nobody foresaw, each of its items is rejected as ``malformed`` (detail names the error) and the
error is logged, so the stream moves on and the input stays in the dead letters for a bug report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import pyarrow as pa

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.errors import ReadingError
from vitals.readings import parse_csv as csv_format
from vitals.readings import parse_json as json_format
from vitals.readings.parse_arrow import Context, parse_table, table_raw
from vitals.readings.schema import ParseResult, clip_text, decode_line
from vitals.readings.validate import DEFAULT_MAX_FUTURE_S, DEFAULT_MIN_TIME, TimeRules, time_to_ns, validate

log = logging.getLogger(__name__)

Data = bytes | bytearray | memoryview | str


def _as_bytes(data: Data) -> bytes:
    return data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else bytes(data)


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

    def _guarded(self, ctx: Context, parse: Callable[[], ParseResult], items: Callable[[], list[str]]) -> ParseResult:
        try:
            return parse()
        except Exception as exc:  # the stream must go on; the input is kept in the dead letters
            log.exception("parser failed on block %s/%s; rejecting it as malformed", ctx.partition, ctx.seq)
            why = f"the parser failed on this block ({type(exc).__name__}: {exc}); please report this input"
            try:
                raws = items()
            except Exception:  # even the fallback split failed: keep the block as one item
                log.exception("cannot split block %s/%s into items", ctx.partition, ctx.seq)
                raws = ["<unprintable block>"]
            return ParseResult(
                batch=ReadingBatch.empty(ctx.partition, ctx.seq, ctx.rules.received_ns),
                rejections=[Rejection("malformed", clip_text(raw), why, ctx.partition, ctx.seq) for raw in raws],
            )

    def parse_jsonl(self, data: Data, *, partition: str = "0", seq: int = 0,
                    received_ns: int | None = None) -> ParseResult:
        """A block of JSON lines, one reading object per line."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        return self._guarded(ctx, lambda: json_format.parse_jsonl(ctx, block, self.use_threads),
                             lambda: [decode_line(line) for line in json_format.nonblank_lines(block)])

    def parse_json_payload(self, data: Data, *, partition: str = "0", seq: int = 0,
                           received_ns: int | None = None) -> ParseResult:
        """One message: a JSON array of readings, a single object, or JSON lines."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        return self._guarded(ctx, lambda: json_format.parse_json_payload(ctx, block, self.use_threads),
                             lambda: [decode_line(block)])

    def parse_csv(self, data: Data, *, columns: Sequence[str] | None = None, partition: str = "0", seq: int = 0,
                  received_ns: int | None = None) -> ParseResult:
        """A CSV block with a header line, or without one when ``columns`` names its fields."""
        ctx, block = self._context(partition, seq, received_ns), _as_bytes(data)
        names = None if columns is None else list(columns)
        def rows() -> list[str]:
            lines = [decode_line(line) for line in block.splitlines() if line]
            return lines[1:] if names is None else lines  # without the header line

        return self._guarded(ctx, lambda: csv_format.parse_csv(ctx, block, names, self.use_threads), rows)

    def parse_table(self, table: pa.Table | pa.RecordBatch, *, partition: str = "0", seq: int = 0,
                    received_ns: int | None = None) -> ParseResult:
        """An Arrow table or record batch (e.g. read from Parquet) with the reading columns."""
        if not isinstance(table, pa.Table | pa.RecordBatch):
            msg = f"parse_table needs a pyarrow Table or RecordBatch, got {type(table).__name__}"
            raise ReadingError(msg)
        ctx = self._context(partition, seq, received_ns)
        whole = table if isinstance(table, pa.Table) else pa.Table.from_batches([table])
        return self._guarded(ctx, lambda: parse_table(ctx, whole),
                             lambda: [table_raw(whole)(row) for row in range(whole.num_rows)])

    def parse_records(self, records: Sequence[object], *, partition: str = "0", seq: int = 0,
                      received_ns: int | None = None) -> ParseResult:
        """Readings already decoded from JSON (dicts), e.g. the items of an MQTT payload."""
        ctx = self._context(partition, seq, received_ns)
        items = records if isinstance(records, list | tuple) else [records]
        return self._guarded(ctx, lambda: json_format.parse_records(ctx, items),
                             lambda: [repr(item) for item in items])

    def validate(self, batch: ReadingBatch, *, received_ns: int | None = None) -> tuple[ReadingBatch, list[Rejection]]:
        """Check an already coded batch (e.g. from the simulator) with this parser's time rules."""
        return validate(self.catalog, batch, received_ns=received_ns, max_future_s=self.max_future_s,
                        min_time=self.min_time)
