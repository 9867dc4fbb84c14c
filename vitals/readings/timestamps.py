"""Event times from any input representation to int64 nanoseconds since the Unix epoch, UTC.

Accepted: ISO 8601 text with a timezone (``2024-05-01T08:00:00+08:00``, ``...Z``, fractions up to ns),
Unix seconds (numbers, numeric text, integer or float columns), and Arrow timestamp columns with a timezone.
Naive text or naive timestamp columns are bad timestamps: the reading's instant is unknown.

Text columns are converted by Arrow in one vectorized cast. A column that does not convert as a whole is
bisected: each half is converted on its own, down to single values, so one bad timestamp costs a few extra
casts and every value gets exactly the verdict the vectorized cast would give it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vitals.readings.schema import show
from vitals.units import NS_PER_S

_UTC_NS = pa.timestamp("ns", "UTC")
_NAIVE_NS = pa.timestamp("ns")
MAX_ABS_SECONDS = 9_223_372_035.0
"""Unix seconds must stay within this magnitude to fit int64 nanoseconds (years 1678-2261)."""
_UNIT_NS = {"s": NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass
class TsColumn:
    """Converted event times: ``ns`` per row (0 where bad or null) and the bad rows with a detail each."""

    ns: npt.NDArray[np.int64]
    bad: dict[int, str] = field(default_factory=dict)


def seconds_to_ns(seconds: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Unix seconds to ns; also the mask of values that are not finite or too big.

    Whole seconds are exact; fractions are rounded to the microsecond, because a float64 holds only about
    0.2 us of precision at today's epoch (so ``1700000000.123`` means .123000000, not .122999907)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(seconds) & (np.abs(seconds) < MAX_ABS_SECONDS)
    safe = np.where(ok, seconds, 0.0)
    whole = np.floor(safe)
    ns = whole.astype(np.int64) * NS_PER_S + np.rint((safe - whole) * 1e6).astype(np.int64) * 1_000
    return ns, ~ok


def format_ns(ns: int) -> str:
    """ISO 8601 UTC rendering of an int64 ns time (fraction only as long as needed), e.g. ``2024-05-01T08:00:00Z``."""
    whole, _, fraction = str(np.datetime64(int(ns), "ns")).partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


_SMALLER_UNITS = (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9))
_YEAR_2000_S = 946_684_800.0


def _seconds_detail(value: float) -> str:
    """Why Unix seconds are refused; a value that is a time of this era in a smaller unit says which (a source that
    sends epoch milliseconds or nanoseconds, as many do)."""
    detail = f"Unix seconds {show(value)} are not a finite time within the years 1678-2261"
    if not math.isfinite(value):
        return detail
    for unit, per_s in _SMALLER_UNITS:
        if _YEAR_2000_S <= value / per_s < MAX_ABS_SECONDS:
            at = format_ns(int(value / per_s * NS_PER_S))
            return f"{detail}; as Unix {unit} it would be {at}: send seconds (or ISO 8601 text)"
    return detail


def _from_seconds(seconds: npt.NDArray[np.float64], rows: npt.NDArray[np.intp], out: TsColumn) -> None:
    ns, bad = seconds_to_ns(seconds)
    out.ns[rows] = ns
    for i in np.flatnonzero(bad):
        out.bad[int(rows[i])] = _seconds_detail(float(seconds[i]))


def _text_detail(text: str) -> str:
    try:
        pa.array([text]).cast(_NAIVE_NS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return (f"cannot read timestamp {show(text)}: expected ISO 8601 with a timezone "
                "(years 1678-2261) or Unix seconds")
    return f"timestamp {show(text)} has no timezone: add Z or an offset such as +08:00"


def _convert_text(chunk: pa.Array, rows: npt.NDArray[np.intp], out: TsColumn) -> None:
    """Convert non-null text ``chunk`` (rows ``rows`` of the column) into ``out``, bisecting on failure."""
    try:
        out.ns[rows] = chunk.cast(_UTC_NS).to_numpy(zero_copy_only=False).view(np.int64)
        return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        seconds = chunk.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        _from_seconds(seconds, rows, out)
        return
    if len(chunk) == 1:
        out.bad[int(rows[0])] = _text_detail(chunk[0].as_py())
        return
    mid = len(chunk) // 2
    _convert_text(chunk.slice(0, mid), rows[:mid], out)
    _convert_text(chunk.slice(mid), rows[mid:], out)


def _convert_timestamps(column: pa.Array, rows: npt.NDArray[np.intp], out: TsColumn) -> None:
    unit = column.type.unit
    if column.type.tz is None:
        for row in rows:
            out.bad[int(row)] = f"timestamp column of type {column.type} has no timezone"
        return
    raw = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    limit = MAX_ABS_SECONDS * NS_PER_S / _UNIT_NS[unit]
    ok = np.abs(raw.astype(np.float64)) < limit
    out.ns[rows] = np.where(ok, raw, 0) * _UNIT_NS[unit]
    for i in np.flatnonzero(~ok):
        out.bad[int(rows[i])] = f"timestamp {int(raw[i])} {unit} is outside the years 1678-2261"


def column_to_ns(column: pa.Array) -> TsColumn | str:
    """Convert a ts column; null rows are left at 0 (the caller rejects them as missing).

    Returns a detail string instead when the column's type cannot hold timestamps at all.
    """
    out = TsColumn(ns=np.zeros(len(column), dtype=np.int64))
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    rows = np.flatnonzero(~column.is_null().to_numpy(zero_copy_only=False))
    present = column.drop_null()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if len(present):
            _convert_text(present.cast(pa.string()), rows, out)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        _from_seconds(present.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), rows, out)
    elif pa.types.is_timestamp(kind):
        _convert_timestamps(present, rows, out)
    elif pa.types.is_date(kind):
        for row in rows:
            out.bad[int(row)] = f"ts column of type {kind} is a date without time or timezone"
    else:
        return f"ts column has type {kind}; expected text, Unix seconds or a timestamp with timezone"
    return out


def mixed_to_ns(n: int, texts: dict[int, str], numbers: dict[int, float]) -> TsColumn:
    """Event times of n rows given as text for some rows and as Unix seconds for others (the rest stay 0)."""
    out = TsColumn(ns=np.zeros(n, dtype=np.int64))
    if texts:
        text_rows = np.fromiter(texts, dtype=np.intp, count=len(texts))
        _convert_text(pa.array(list(texts.values()), type=pa.string()), text_rows, out)
    if numbers:
        number_rows = np.fromiter(numbers, dtype=np.intp, count=len(numbers))
        _from_seconds(np.fromiter(numbers.values(), dtype=np.float64, count=len(numbers)), number_rows, out)
    return out


def history_ts_ns(values: object, source: str, *, first_row: int | None = None) -> npt.NDArray[np.int64]:
    """The ts column of a history or training frame (a pandas Series, Arrow or numpy array) as int64 ns, read
    exactly as the readings parser reads a ts column (:func:`column_to_ns`): numbers are Unix seconds, text is
    ISO 8601 with a timezone, timestamps need a timezone. A value that the parser would reject makes the whole
    read fail in one line (:class:`~vitals.errors.HistoryError` naming ``source`` and the first bad row): a
    training or backtest run on times read another way would be silently wrong (before, `pd.to_datetime` took
    an integer column for nanoseconds where a replay takes it for seconds). ``first_row``: where ``values`` is a
    part of ``source`` (a batch of a file), the row number of its first value (rows are numbered in ``source``)."""
    from vitals.errors import HistoryError

    column = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    out = column_to_ns(column)
    if isinstance(out, str):
        msg = f"{source}: {out}"
        raise HistoryError(msg)
    nulls = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
    bad = sorted({*out.bad, *(int(r) for r in nulls)})
    if bad:
        first = bad[0]
        why = out.bad.get(first, "no time (null)")
        offset = first_row or 0
        where = "" if first_row is None else f" in rows {offset}..{offset + len(column) - 1}"
        msg = (f"{source}: {len(bad):,} ts value(s){where} are not times a replay would accept; "
               f"row {first + offset}: {why}")
        raise HistoryError(msg)
    return out.ns
