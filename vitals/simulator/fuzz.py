"""Mixed inputs with known verdicts: valid readings with bad elements inserted at random, in every input shape
(JSON lines, CSV, Arrow tables, MQTT/Kafka payloads). Each bad element knows how many inputs it is and why
it is rejected, so a parser can be checked exactly: accepted = the valid readings, every rejection with its
expected reason. Used by the isolation property tests and ``benchmarks/bench_fuzz.py``.

Everything is drawn from a ``random.Random``, so a seed gives the same case (and Hypothesis can drive it).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from vitals.catalog import Catalog
from vitals.units import NS_PER_S

START = datetime(2026, 3, 2, tzinfo=UTC)
RECEIVED_NS = int((START + timedelta(days=30)).timestamp()) * NS_PER_S
"""Arrival time to parse the cases with: after every valid timestamp, the 'future' ones are beyond it."""
SHAPES: tuple[str, ...] = ("jsonl", "csv", "table", "payloads")
CSV_HEADER = b"ts,indicator,area,sensor,value\n"

Record = dict[str, Any]
Bad = Callable[[random.Random, Record], tuple[Any, str]]  # (the element, its reason)


@dataclass
class Case:
    """One parser input: ``data`` holds ``valid`` valid readings among ``inputs`` inputs."""

    shape: str
    data: Any = None
    valid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def inputs(self) -> int:
        return self.valid + sum(self.reasons.values())


def valid_record(rng: random.Random, catalog: Catalog, k: int) -> Record:
    indicator = rng.choice(catalog.indicators)
    moment = START + timedelta(seconds=k, microseconds=rng.randrange(0, 1_000_000, 1000))
    record: Record = {"ts": moment.isoformat().replace("+00:00", "Z"), "indicator": indicator.id,
                      "area": rng.choice(catalog.streets).id,
                      "value": round(rng.uniform(indicator.valid_min, indicator.valid_max), 6)}
    if rng.random() < 0.5:
        record["sensor"] = f"s-{rng.randrange(10_000)}"
    return record


def _with(record: Record, **fields: Any) -> Record:
    return {**record, **fields}


def _garbage(rng: random.Random) -> bytes:
    """Random bytes on one line that open no JSON object and are no blank line."""
    while True:
        data = rng.randbytes(rng.randint(1, 40)).replace(b"\n", b"").replace(b"\r", b"")
        if data.strip() and data[:1] not in b" \t\x0b\x0c{}]":
            return data


def _pretty_broken(rng: random.Random, r: Record) -> tuple[bytes, str]:
    return json.dumps(r, indent=rng.choice([1, 2, 4])).replace('"indicator"', "indicator").encode(), "malformed"


def _truncated(rng: random.Random, r: Record) -> tuple[bytes, str]:
    line = json.dumps(r).encode()
    return line[: rng.randint(2, len(line) - 1)], "malformed"


def _json(record: Record) -> bytes:
    return json.dumps(record).encode()


# one-line JSON elements: usable as JSON lines, as messages and as array elements
JSON_ELEMENTS: tuple[Bad, ...] = (
    lambda rng, r: (_json(_with(r, ts="\ud800")), "malformed"),  # a lone surrogate escape
    lambda rng, r: (_json(_with(r, sensor="\udc80")), "malformed"),
    lambda rng, r: (_json(_with(r, value=float("nan"))), "non_finite"),
    lambda rng, r: (_json(_with(r, value=rng.choice([None, "NA", "", " nan "]))), "missing"),  # gaps
    lambda rng, r: (_json(_with(r, sensor="s" * rng.randint(257, 3000))), "malformed"),
    lambda rng, r: (_json(_with(r, indicator="no_such_indicator")), "unknown_indicator"),
    lambda rng, r: (_json(_with(r, area="no_such_street")), "unknown_area"),
    lambda rng, r: (_json(_with(r, ts=r["ts"].rstrip("Z"))), "bad_timestamp"),
    lambda rng, r: (_json(_with(r, ts="2099-01-01T00:00:00Z")), "future_timestamp"),
    lambda rng, r: (_json(_with(r, value=str(r["value"]))), "malformed"),
    lambda rng, r: (rng.choice([b"null", b"5", b'"text"', b"true", b"[1]"]), "malformed"),
    lambda rng, r: (rng.choice([b'{"ts": 1,, }', b'{"value": }', b"tru", b'{"a" 1}']), "malformed"),
)
# lines of JSON lines text (and whole messages) besides those
JSON_LINES_ONLY: tuple[Bad, ...] = (
    _truncated, _pretty_broken,
    lambda rng, r: (json.dumps(_with(r, area="no_such_street"), indent=2).encode(), "unknown_area"),
    lambda rng, r: (_garbage(rng), "malformed"),
)


def _csv_row(r: Record, **fields: Any) -> bytes:
    r = {**r, **fields}
    sensor = str(r.get("sensor") or "")
    if "," in sensor:
        sensor = f'"{sensor}"'
    return f"{r['ts']},{r['indicator']},{r['area']},{sensor},{r['value']}".encode()


CSV_BAD: tuple[Bad, ...] = (
    lambda rng, r: (b'"' + _csv_row(r), "malformed"),  # a stray quote
    lambda rng, r: (_csv_row(r) + b",extra", "malformed"),
    lambda rng, r: (_csv_row(r, value="lots"), "malformed"),
    lambda rng, r: (b"\xff\xfe" + _csv_row(r), "malformed"),
    lambda rng, r: (_csv_row(r, sensor="s" * rng.randint(257, 3000)), "malformed"),
    lambda rng, r: (_csv_row(r, indicator="no_such_indicator"), "unknown_indicator"),
    lambda rng, r: (_csv_row(r, value=rng.choice(["nan", "", "NA", "N/A", "null"])), "missing"),  # gaps
    lambda rng, r: (_csv_row(r, ts=r["ts"].rstrip("Z")), "bad_timestamp"),
    lambda rng, r: (b"only,three,fields", "malformed"),
)
TABLE_BAD: tuple[Bad, ...] = (
    lambda rng, r: (_with(r, ts=None), "malformed"),
    lambda rng, r: (_with(r, value=None), "missing"),
    lambda rng, r: (_with(r, value=float("inf")), "non_finite"),
    lambda rng, r: (_with(r, indicator="no_such_indicator"), "unknown_indicator"),
    lambda rng, r: (_with(r, sensor="s" * rng.randint(257, 3000)), "malformed"),
    lambda rng, r: (_with(r, ts="yesterday"), "bad_timestamp"),
)


def _mix(rng: random.Random, catalog: Catalog, n_valid: int, n_bad: int, *, bad: tuple[Bad, ...],
         valid: Callable[[Record], Any], case: Case) -> list[Any]:
    """Valid elements in order with ``n_bad`` bad ones inserted at random places."""
    records = [valid_record(rng, catalog, k) for k in range(n_valid)]
    out = [valid(r) for r in records]
    case.valid += n_valid
    for _ in range(n_bad):
        element, reason = rng.choice(bad)(rng, valid_record(rng, catalog, rng.randrange(10_000)))
        out.insert(rng.randint(0, len(out)), element)
        case.reasons[reason] += 1
    return out


def make_case(rng: random.Random, catalog: Catalog, shape: str, n_valid: int, n_bad: int) -> Case:
    """A case of ``shape`` with ``n_valid`` valid readings and ``n_bad`` bad elements (for payloads: messages)."""
    case = Case(shape)
    if shape == "jsonl":
        lines = _mix(rng, catalog, n_valid, n_bad, bad=JSON_ELEMENTS + JSON_LINES_ONLY, valid=_json, case=case)
        bom = b"\xef\xbb\xbf" if rng.random() < 0.2 else b""
        case.data = bom + b"\n".join(lines) + b"\n"
    elif shape == "csv":
        rows = _mix(rng, catalog, n_valid, n_bad, bad=CSV_BAD, valid=_csv_row, case=case)
        case.data = CSV_HEADER + b"\n".join(rows) + b"\n"
    elif shape == "table":
        records = _mix(rng, catalog, n_valid, n_bad, bad=TABLE_BAD, valid=dict, case=case)
        case.data = pa.table({name: pa.array([row.get(name) for row in records], type=kind) for name, kind in (
            ("ts", pa.string()), ("indicator", pa.string()), ("area", pa.string()), ("sensor", pa.string()),
            ("value", pa.float64()))})
    else:
        case.data = _messages(rng, catalog, n_valid, n_bad, case)
    return case


def _messages(rng: random.Random, catalog: Catalog, n_valid: int, n_bad: int, case: Case) -> list[bytes]:
    """MQTT/Kafka messages: one-line objects, pretty-printed objects, arrays (with bad elements), JSON lines."""
    messages = _mix(rng, catalog, n_valid, n_bad, bad=JSON_ELEMENTS + JSON_LINES_ONLY, valid=_json, case=case)
    for _ in range(rng.randint(0, 3)):  # arrays and JSON lines payloads holding some bad elements
        sub = Case("payload")
        elements = _mix(rng, catalog, rng.randint(0, 12), rng.randint(0, 3), bad=JSON_ELEMENTS, valid=_json,
                        case=sub)
        as_array = rng.random() < 0.7
        message = b"[" + b",\n".join(elements) + b"]" if as_array else b"\n".join(elements)
        if message.strip():
            messages.insert(rng.randint(0, len(messages)), message)
            case.valid += sub.valid
            case.reasons.update(sub.reasons)
    for at, message in enumerate(messages):
        if rng.random() < 0.05 and message.startswith(b"{") and b"\n" not in message:
            try:
                messages[at] = json.dumps(json.loads(message), indent=2).encode()  # pretty-printed, same verdict
            except ValueError:
                continue
    return messages


def parse_case(parser: Any, case: Case) -> Any:
    """The case parsed by a :class:`vitals.readings.ReadingParser` the way its source would."""
    if case.shape == "jsonl":
        return parser.parse_jsonl(case.data, received_ns=RECEIVED_NS)
    if case.shape == "csv":
        return parser.parse_csv(case.data, received_ns=RECEIVED_NS)
    if case.shape == "table":
        return parser.parse_table(case.data, received_ns=RECEIVED_NS)
    return parser.parse_payloads(case.data, received_ns=RECEIVED_NS)
