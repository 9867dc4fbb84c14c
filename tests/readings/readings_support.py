"""A pure-Python oracle for the reading rules, encoders to every input format, and Hypothesis strategies."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

from vitals.batches import REJECT_REASONS, ReadingBatch
from vitals.catalog import Catalog

RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)
RECEIVED_NS = int(RECEIVED.timestamp()) * 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEADER = ["ts", "indicator", "area", "sensor", "value"]


def ns_of(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@dataclass(frozen=True)
class Verdict:
    reason: str | None  # None: accepted
    ts_ns: int = 0
    indicator: int = -1
    street: int = -1
    value: float = math.nan
    sensor: str | None = None


def oracle_ts(ts: object) -> int | None:
    """ns of a ts field, or None when it is not a valid time (naive text, garbage)."""
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        if not math.isfinite(ts) or abs(ts) >= 9_223_372_035:
            return None
        if isinstance(ts, int):
            return ts * 1_000_000_000
        return int((Decimal(repr(ts)) * 1_000_000).quantize(Decimal(1))) * 1_000
    try:
        moment = datetime.fromisoformat(str(ts))
    except ValueError:
        return None
    return None if moment.tzinfo is None else ns_of(moment)


def oracle(catalog: Catalog, record: dict[str, Any], received_ns: int = RECEIVED_NS, *,
           as_text: bool = False) -> Verdict:
    """The verdict on one well-typed record, rule by rule in REJECT_REASONS order. ``as_text``: the record went
    through a text format (CSV), where a NaN value is written as the gap marker ``nan`` (docs/readings.md:
    ``missing``, ranked after the unknown series, before every other reason)."""
    ind = catalog.indicator_index.get(record["indicator"], -1)
    street = catalog.street_index.get(record["area"], -1)
    value = float(record["value"])
    ts = oracle_ts(record["ts"])
    if ind < 0:
        return Verdict("unknown_indicator")
    if street < 0:
        return Verdict("unknown_area")
    if as_text and math.isnan(value):
        return Verdict("missing")
    if not math.isfinite(value):
        return Verdict("non_finite")
    spec = catalog.indicators[ind]
    if not spec.valid_min <= value <= spec.valid_max:
        return Verdict("out_of_range")
    if ts is None or ts < ns_of(datetime(2000, 1, 1, tzinfo=UTC)):
        return Verdict("bad_timestamp")
    if ts > received_ns + 300 * 1_000_000_000:
        return Verdict("future_timestamp")
    return Verdict(None, ts, ind, street, value, record.get("sensor") or None)


def assert_matches(batch: ReadingBatch, reasons: list[str], verdicts: list[Verdict]) -> None:
    accepted = [v for v in verdicts if v.reason is None]
    assert [v.reason for v in verdicts if v.reason is not None] == reasons
    assert batch.ts_ns.tolist() == [v.ts_ns for v in accepted]
    assert batch.indicator.tolist() == [v.indicator for v in accepted]
    assert batch.street.tolist() == [v.street for v in accepted]
    assert batch.value.tolist() == [v.value for v in accepted]
    sensors = [v.sensor for v in accepted]
    if batch.sensor is None:
        assert all(s is None for s in sensors)
    else:
        assert batch.sensor.tolist() == sensors


# ---- encoders ------------------------------------------------------------------------------------------
def to_jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def to_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for r in records:
        writer.writerow([r["ts"], r["indicator"], r["area"], r.get("sensor") or "", repr(float(r["value"]))])
    return out.getvalue().encode()


def to_table(records: list[dict[str, Any]]) -> pa.Table:
    """ts as text (mixed ISO and numbers are written as text, as a CSV column would be)."""
    return pa.table({
        "ts": pa.array([str(r["ts"]) for r in records], type=pa.string()),
        "indicator": pa.array([r["indicator"] for r in records], type=pa.string()).dictionary_encode(),
        "area": pa.array([r["area"] for r in records], type=pa.string()),
        "sensor": pa.array([r.get("sensor") or None for r in records], type=pa.string()),
        "value": pa.array([float(r["value"]) for r in records], type=pa.float64()),
    })


# ---- strategies ----------------------------------------------------------------------------------------
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2030, 1, 1), timezones=offsets)
naive_moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2030, 1, 1))
timestamps = st.one_of(
    moments.map(lambda m: m.isoformat()),
    moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
    naive_moments.map(lambda m: m.isoformat()),
    st.integers(800_000_000, 1_900_000_000),
    st.builds(lambda s, us: s + us / 1_000_000, st.integers(800_000_000, 1_900_000_000), st.integers(0, 999_999)),
    st.sampled_from(["yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "1e400", "NaN",
                     "1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z", "2000-01-01T08:00:00+08:00",
                     "2024-06-01T00:05:00Z", "2024-06-01T00:05:00.000001Z", 946_684_800, 946_684_799.999999]),
)


def readings(catalog: Catalog, *, numeric_ts: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Well-typed records, valid or breaking one or more value rules."""
    indicator_ids = [i.id for i in catalog.indicators]
    street_ids = [s.id for s in catalog.streets]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        ind = draw(st.sampled_from([*indicator_ids, "no_such_indicator"]))
        spec = catalog.indicator(ind) if ind in catalog.indicator_index else catalog.indicators[0]
        value = draw(st.one_of(
            st.floats(spec.valid_min, spec.valid_max),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([spec.valid_min, spec.valid_max, spec.valid_max * 10 + 1, 1e308, -0.0]),
        ))
        ts = draw(timestamps if numeric_ts else timestamps.filter(lambda t: isinstance(t, str)))
        return {
            "ts": ts, "indicator": ind,
            "area": draw(st.sampled_from([*street_ids[:50], "no_such_street", "yuzhong"])),
            "sensor": draw(st.one_of(st.none(), st.text("abc-_ 19,\"'", min_size=0, max_size=6))),
            "value": value,
        }
    return build()


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def reject_reasons_ok(reasons: list[str]) -> bool:
    return all(reason in REJECT_REASONS for reason in reasons)


def assert_valid_batch(catalog: Catalog, batch: ReadingBatch, received_ns: int = RECEIVED_NS) -> None:
    """Everything accepted obeys every rule."""
    assert np.isfinite(batch.value).all()
    assert (batch.value >= catalog.valid_min_array[batch.indicator]).all()
    assert (batch.value <= catalog.valid_max_array[batch.indicator]).all()
    assert (batch.ts_ns >= ns_of(datetime(2000, 1, 1, tzinfo=UTC))).all()
    assert (batch.ts_ns <= received_ns + 300 * 1_000_000_000).all()
    assert ((batch.street >= 0) & (batch.street < catalog.n_streets)).all()
