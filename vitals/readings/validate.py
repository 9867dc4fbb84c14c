"""Vectorized validation of coded readings: one reason code per reading, then plain details for the rejects.

Usable on any :class:`ReadingBatch` (the parsers call the same checks, the simulator's in-process batches
go through :func:`validate`). Checks, in :data:`vitals.batches.REJECT_REASONS` order (the first that fails
is the reason): indicator code in the catalog, street code in the catalog, value finite, value inside the
indicator's valid range (inclusive), timestamp not before ``min_time``, timestamp at most ``max_future_s``
ahead of the arrival time ``received_ns``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from vitals.batches import REJECT_REASONS, ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.readings.schema import (
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    NON_FINITE,
    OK,
    OUT_OF_RANGE,
    UNKNOWN_AREA,
    UNKNOWN_INDICATOR,
)
from vitals.readings.timestamps import format_ns
from vitals.units import DAY_S, NS_PER_S

DEFAULT_MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MAX_FUTURE_S = 300.0


def time_to_ns(moment: datetime) -> int:
    """An aware datetime as int64 ns since the epoch (naive datetimes are refused: their instant is unknown)."""
    if moment.tzinfo is None:
        msg = f"min_time {moment.isoformat()} has no timezone; pass an aware datetime such as 2000-01-01T00:00Z"
        raise ConfigError(msg)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * DAY_S + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


DEFAULT_MIN_TIME_NS = time_to_ns(DEFAULT_MIN_TIME)


@dataclass(frozen=True)
class TimeRules:
    """When a timestamp is acceptable: not before ``min_time_ns``, at most ``max_future_s`` after arrival."""

    received_ns: int
    max_future_s: float = DEFAULT_MAX_FUTURE_S
    min_time_ns: int = DEFAULT_MIN_TIME_NS


def reason_codes(catalog: Catalog, batch: ReadingBatch, rules: TimeRules) -> npt.NDArray[np.uint8]:
    """One code per reading of a coded batch: 0 accepted, else ``REJECT_REASONS.index(reason) + 1``."""
    ts_ns, indicator, street, value = batch.ts_ns, batch.indicator, batch.street, batch.value
    codes = np.full(len(ts_ns), OK, dtype=np.uint8)
    # Written from the lowest priority to the highest, so the first reason in REJECT_REASONS order wins.
    codes[ts_ns > rules.received_ns + int(rules.max_future_s * NS_PER_S)] = FUTURE_TIMESTAMP
    codes[ts_ns < rules.min_time_ns] = BAD_TIMESTAMP
    known_indicator = (indicator >= 0) & (indicator < catalog.n_indicators)
    code = np.where(known_indicator, indicator, 0)
    finite = np.isfinite(value)
    with np.errstate(invalid="ignore"):
        outside = (value < catalog.valid_min_array[code]) | (value > catalog.valid_max_array[code])
    codes[finite & known_indicator & outside] = OUT_OF_RANGE
    codes[~finite] = NON_FINITE
    codes[(street < 0) | (street >= catalog.n_streets)] = UNKNOWN_AREA
    codes[~known_indicator] = UNKNOWN_INDICATOR
    return codes


def detail(catalog: Catalog, batch: ReadingBatch, row: int, code: int, rules: TimeRules) -> str:
    """A one-line plain explanation of why reading ``row`` of a coded batch got ``code``."""
    ts_ns, indicator, value = int(batch.ts_ns[row]), int(batch.indicator[row]), float(batch.value[row])
    if code == UNKNOWN_INDICATOR:
        return f"indicator code {indicator} is not in the catalog ({catalog.n_indicators} indicators)"
    if code == UNKNOWN_AREA:
        return f"street code {int(batch.street[row])} is not in the catalog ({catalog.n_streets} streets)"
    ind = catalog.indicators[indicator]
    if code == NON_FINITE:
        return f"value {value} for {ind.id} is not a finite number"
    if code == OUT_OF_RANGE:
        return f"value {value:g} outside valid range [{ind.valid_min:g}, {ind.valid_max:g}] for {ind.id}"
    if code == BAD_TIMESTAMP:
        return f"timestamp {format_ns(ts_ns)} is before {format_ns(rules.min_time_ns)}"
    ahead = (ts_ns - rules.received_ns) / NS_PER_S
    return (f"timestamp {format_ns(ts_ns)} is {ahead:.0f} s ahead of its arrival at {format_ns(rules.received_ns)}"
            f" (at most {rules.max_future_s:g} s allowed)")


def render_raw(catalog: Catalog, batch: ReadingBatch, row: int) -> str:
    """A JSON line with catalog ids for reading ``row`` of a coded batch (the raw input of its rejection)."""
    indicator, street = int(batch.indicator[row]), int(batch.street[row])
    record: dict[str, object] = {
        "ts": format_ns(int(batch.ts_ns[row])),
        "indicator": catalog.indicators[indicator].id if 0 <= indicator < catalog.n_indicators else indicator,
        "area": catalog.streets[street].id if 0 <= street < catalog.n_streets else street,
        "value": float(batch.value[row]),
    }
    if batch.sensor is not None and batch.sensor[row] is not None:
        record["sensor"] = batch.sensor[row]
    return json.dumps(record, ensure_ascii=False, allow_nan=True, default=str)


def validate(
    catalog: Catalog,
    batch: ReadingBatch,
    *,
    received_ns: int | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    min_time: datetime = DEFAULT_MIN_TIME,
) -> tuple[ReadingBatch, list[Rejection]]:
    """Split a coded batch into valid readings and rejections (raw input rebuilt as JSON with catalog ids).

    ``received_ns`` defaults to the batch's own arrival time.
    """
    rules = TimeRules(batch.received_ns if received_ns is None else received_ns, max_future_s, time_to_ns(min_time))
    codes = reason_codes(catalog, batch, rules)
    bad_rows = np.flatnonzero(codes)
    if not len(bad_rows):
        return batch, []
    rejections = [
        Rejection(REJECT_REASONS[codes[row] - 1], render_raw(catalog, batch, int(row)),
                  detail(catalog, batch, int(row), int(codes[row]), rules), batch.partition, batch.seq).at(where)
        for row, where in zip(bad_rows, batch.input_positions(bad_rows), strict=True)
    ]
    return batch.take(codes == OK), rejections
