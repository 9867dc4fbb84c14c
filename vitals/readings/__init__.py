"""Readings in: parsing (JSON lines, JSON payloads, decoded records, CSV, Arrow/Parquet), validation,
per-partition watermarks, dead letters and rejection counts. See ``docs/readings.md``."""

from vitals.readings.counts import RejectionCounts
from vitals.readings.dead_letters import DeadLetterWriter, read_dead_letters
from vitals.readings.parser import ReadingParser
from vitals.readings.schema import FIELDS, REQUIRED_FIELDS, ParseResult
from vitals.readings.timestamps import format_ns, seconds_to_ns
from vitals.readings.validate import DEFAULT_MAX_FUTURE_S, DEFAULT_MIN_TIME, reason_codes, validate
from vitals.readings.watermark import PartitionWatermark

__all__ = [
    "DEFAULT_MAX_FUTURE_S", "DEFAULT_MIN_TIME", "FIELDS", "REQUIRED_FIELDS", "DeadLetterWriter", "ParseResult",
    "PartitionWatermark", "ReadingParser", "RejectionCounts", "format_ns", "read_dead_letters", "reason_codes",
    "seconds_to_ns", "validate",
]
