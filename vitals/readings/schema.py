"""The reading schema shared by every input format, reason codes, and small text helpers.

One reading is ``{ts, indicator, area, sensor (optional), value}``:

- ``ts``: ISO 8601 text with a timezone (``Z`` or an offset such as ``+08:00``), a number of Unix seconds
  (JSON number, numeric text, an integer or float column), or an Arrow timestamp column with a timezone.
- ``indicator``: an indicator id of the catalog (text).
- ``area``: a street id of the catalog (text).
- ``sensor``: optional text id; absent, null or empty means no sensor.
- ``value``: a number (JSON number, numeric text in CSV, a numeric column).

When a reading breaks several rules, its reason is the first one in :data:`vitals.batches.REJECT_REASONS`
order (malformed, unknown_indicator, unknown_area, non_finite, out_of_range, bad_timestamp, future_timestamp).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pyarrow as pa

from vitals.batches import REJECT_REASONS, ReadingBatch, Rejection

FIELDS: tuple[str, ...] = ("ts", "indicator", "area", "sensor", "value")
REQUIRED_FIELDS: tuple[str, ...] = ("ts", "indicator", "area", "value")

REASON_CODE: dict[str, int] = {reason: code for code, reason in enumerate(REJECT_REASONS, start=1)}
"""Reason name -> code (1-based; 0 means accepted). Lower codes win when a reading breaks several rules."""
OK = 0
MALFORMED = REASON_CODE["malformed"]
UNKNOWN_INDICATOR = REASON_CODE["unknown_indicator"]
UNKNOWN_AREA = REASON_CODE["unknown_area"]
NON_FINITE = REASON_CODE["non_finite"]
OUT_OF_RANGE = REASON_CODE["out_of_range"]
BAD_TIMESTAMP = REASON_CODE["bad_timestamp"]
FUTURE_TIMESTAMP = REASON_CODE["future_timestamp"]
MISSING = REASON_CODE["missing"]
GAP_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none"})
"""Texts that mean "no value" where a number is expected (compared stripped and lower-cased): a gap, rejected as
``missing``. A NaN *number* (a float column, a JSON ``NaN``) stays ``non_finite``."""


def is_gap(text: object) -> bool:
    return isinstance(text, str) and text.strip().lower() in GAP_MARKERS
NO_REASON = 255  # "not decided yet" while combining reasons with np.minimum

MAX_RAW_CHARS = 65_536
"""Raw input kept in a rejection is cut to this many characters (a marker says how much was cut)."""
MAX_SENSOR_CHARS = 256
"""A longer sensor id is rejected as ``malformed`` (it would otherwise be stored in every history row)."""
BOM = b"\xef\xbb\xbf"

JSON_SCHEMA_TEXT_TS = pa.schema([
    ("ts", pa.string()), ("indicator", pa.string()), ("area", pa.string()), ("sensor", pa.string()),
    ("value", pa.float64()),
])
JSON_SCHEMA_NUMBER_TS = JSON_SCHEMA_TEXT_TS.set(0, pa.field("ts", pa.float64()))


@dataclass(frozen=True, eq=False)
class ParseResult:
    """What a parser returns: the accepted readings as one batch, and every rejected reading."""

    batch: ReadingBatch
    rejections: list[Rejection]

    @property
    def n_input(self) -> int:
        """Readings seen: accepted + rejected."""
        return len(self.batch) + len(self.rejections)

    @classmethod
    def concat(cls, results: list[ParseResult]) -> ParseResult:
        """Results of consecutive pieces of one block, in order."""
        if len(results) == 1:
            return results[0]
        rejections: list[Rejection] = []
        start = 0
        for r in results:  # each rejection's item numbered as in the concatenated input (rejections only)
            rejections.extend(rejection if rejection.item is None or not start
                              else dataclasses.replace(rejection, item=rejection.item + start)
                              for rejection in r.rejections)
            start += r.n_input
        return cls(batch=ReadingBatch.concat([r.batch for r in results], [r.n_input for r in results]),
                   rejections=rejections)


def clip_text(text: str, limit: int = MAX_RAW_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how many were cut; lone surrogates (from a
    JSON escape such as ``\\ud800``) are kept as ``\\udNNN`` escapes so the text can be written as UTF-8."""
    if len(text) > limit:
        text = f"{text[:limit]}...[{len(text) - limit} more characters cut]"
    return text if is_unicode(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_unicode(text: str) -> bool:
    """False when ``text`` holds a lone surrogate, which no UTF-8 output (Arrow, Parquet, files) can take."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def show(value: object, limit: int = 80) -> str:
    """A short, one-line rendering of an input value for a rejection detail."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def decode_line(line: bytes) -> str:
    """Raw bytes as text; bytes that are not UTF-8 are kept as ``\\xNN`` escapes."""
    return line.decode("utf-8", errors="backslashreplace")
