"""Message payloads (MQTT, Kafka): one JSON reading object (pretty-printed or not), a JSON array of readings,
or JSON lines. A payload is first read as one JSON value; an array of N elements is N inputs, and a broken
element (cut at the next ``,`` outside strings and brackets) costs only itself.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from vitals.batches import placed
from vitals.readings.input_text import InputText, MessageInput
from vitals.readings.parse_arrow import Context
from vitals.readings.parse_json import BROKEN, decode_item, loads, object_lines, parse_jsonl, parse_records
from vitals.readings.schema import BOM, ParseResult

log = logging.getLogger(__name__)


def parse_json_payload(ctx: Context, data: bytes, use_threads: bool = False) -> ParseResult:
    """One message (MQTT, Kafka): a JSON array of readings, one reading object (pretty-printed or not), or
    JSON lines. A payload is first read as one JSON value; only one that is not is read as JSON lines."""
    body = data.strip()
    if body.startswith(BOM):
        body = body[len(BOM):].lstrip()
    if body.startswith(b"["):
        return _parse_array(ctx, body)
    if body.startswith(b"{") and (b"\n" in body or b"\r" in body):  # maybe one pretty-printed object
        try:
            value = loads(body)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return parse_records(ctx, [value], raw=InputText("items", [body]))
    return parse_jsonl(ctx, body, use_threads)


def _parse_array(ctx: Context, body: bytes) -> ParseResult:
    """An array payload: N elements are N inputs, a broken element costs only itself."""
    try:
        decoded = loads(body)
    except (ValueError, RecursionError):
        elements = _array_elements(body.decode("utf-8", errors="surrogateescape"))
        texts = [text.encode("utf-8", errors="surrogateescape") for text in elements]
        broken: dict[int, str] = {}
        records = [decode_item(text, row, broken) if text else BROKEN for row, text in enumerate(texts)]
        for row, text in enumerate(texts):
            if not text:
                broken[row] = "the array is not closed: the payload ends inside it"
        return parse_records(ctx, records, raw=InputText("items", [text or body for text in texts]), malformed=broken)
    records = decoded if isinstance(decoded, list) else [decoded]
    return parse_records(ctx, records)


def _array_elements(text: str) -> list[str]:
    """The element texts of a JSON array that does not parse, cut at each ``,`` outside strings and brackets
    (blank elements dropped). An array that is not closed ends with its last element ("" when blank); text
    after the closing ``]`` is one more element."""
    elements: list[str] = []
    depth, start, in_text, escaped = 0, 1, False, False
    for at in range(1, len(text)):
        char = text[at]
        if in_text:
            in_text, escaped = (in_text, False) if escaped else (char != '"', char == "\\")
        elif char == '"':
            in_text = True
        elif char in "[{":
            depth += 1
        elif char in "]}" and depth > 0:
            depth -= 1
        elif depth == 0 and char in ",]":
            elements.append(text[start:at].strip())
            start = at + 1
            if char == "]":
                return [e for e in elements if e] + ([text[start:].strip()] if text[start:].strip() else [])
    return [*(e for e in elements if e), text[start:].strip()]


def parse_payloads(ctx: Context, payloads: list[bytes], use_threads: bool = False,
                   offsets: Sequence[int] | None = None) -> ParseResult:
    """Messages in order, each read as :func:`parse_json_payload` reads it. Runs of one-line objects (the
    usual message) and of JSON-lines messages whose every line is one object are joined into one block of JSON
    lines for the fast path (one Arrow read for the run, not one per message). Such a message (``\n`` line
    ends) of two or more lines is never one JSON value (after a closing ``}`` a value goes on with ``,``,
    ``]``, ``}`` or ends, never with ``{``), so :func:`parse_json_payload` reads it as JSON lines too.

    ``offsets`` (one per message, a Kafka message's offset): the batch's input then tells the offset of each
    accepted reading's message (:class:`MessageInput`; late and duplicate dead letters name it)."""
    results: list[ParseResult] = []
    run: list[bytes] = []
    items: list[int] = []  # input items of each message: a run's message has one per line
    for payload in payloads:
        body = payload.strip()
        lines = None
        if body.startswith(b"{") and b"\r" not in body:
            lines = 1 if b"\n" not in body else object_lines(body)
        if lines:
            run.append(body)
            items.append(lines)
            continue
        if run:
            results.append(parse_jsonl(ctx, b"\n".join(run), use_threads))
            run = []
        if body:
            results.append(parse_json_payload(ctx, body, use_threads))
            items.append(results[-1].n_input)
        else:
            items.append(0)
    if run or not results:
        results.append(parse_jsonl(ctx, b"\n".join(run), use_threads))
    result = ParseResult.concat(results)
    return result if offsets is None else _with_offsets(result, items, offsets)


def _with_offsets(result: ParseResult, items: list[int], offsets: Sequence[int]) -> ParseResult:
    """The result whose batch input maps each item to its message's offset (a run's message has one item per
    line), and whose parse rejections that know their item (:attr:`Rejection.item`) carry their message's offset.
    Should the messages' items ever not add up to the batch's input, nothing is placed (late and duplicate dead
    letters then name the batch only; the source places the parse rejections another way), never wrongly."""
    if len(items) != len(offsets):
        return result
    if sum(items) != result.n_input:
        log.warning("batch %s/%s: %d input items in %d messages, not %d: its readings' offsets are not kept",
                    result.batch.partition, result.batch.seq, result.n_input, len(items), sum(items))
        return result
    batch = result.batch
    source = MessageInput(batch.raw_source, items, offsets)  # by reference: nothing computed until a rejection
    if batch.raw_source is not None:
        batch = dataclasses.replace(batch, raw_source=source)
    return dataclasses.replace(result, batch=batch, rejections=placed(result.rejections, source))
