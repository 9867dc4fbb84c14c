"""The history writer's cheaper steps against their plain numpy oracles (docs/history.md, "Encodings"): the readings'
row order by radix passes is ``np.lexsort``'s, and the vitals encodings' distinct-value count is ``np.unique``'s."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from history_fixture import fixture_catalog
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.batches import ReadingBatch
from vitals.history import (
    DICTIONARY_MAX,
    READINGS_SCHEMA,
    _few_distinct,
    _readings_order,
    vitals_encodings,
    write_readings,
)
from vitals.units import DAY_S, NS_PER_S

CATALOG = fixture_catalog()
START_NS = 1_780_000_000 * NS_PER_S


@st.composite
def batches(draw: st.DrawFn) -> ReadingBatch:
    n = draw(st.integers(1, 400))
    span_s = draw(st.sampled_from([60, 3 * DAY_S, 400 * DAY_S]))  # the last: too many days for 16 bits, lexsort
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ts = START_NS + rng.integers(0, span_s, n) * NS_PER_S // draw(st.sampled_from([1, 7]))  # ties when coarse
    if draw(st.booleans()):
        ts.sort()  # in time order, as readings mostly arrive, with a few late ones
        late = rng.random(n) < 0.05
        ts[late] -= rng.integers(0, 600, late.sum()) * NS_PER_S
    return ReadingBatch(ts_ns=ts.astype(np.int64),
                        indicator=rng.integers(0, CATALOG.n_indicators, n).astype(np.int16),
                        street=rng.integers(0, draw(st.sampled_from([2, CATALOG.n_streets])), n).astype(np.int32),
                        value=rng.random(n))


@settings(max_examples=200, deadline=None)
@given(batches())
def test_readings_order_is_the_lexsort(batch: ReadingBatch) -> None:
    key = (batch.ts_ns // (DAY_S * NS_PER_S)).astype(np.int64) * 64 + CATALOG.domain_code_array[batch.indicator]
    want = np.lexsort((batch.ts_ns, batch.street, batch.indicator, key))
    np.testing.assert_array_equal(_readings_order(CATALOG, batch, key), want)


SPECIAL = [np.nan, -0.0, 0.0, np.inf, -np.inf, 1.0, 2.5]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 600), st.integers(1, 80), st.integers(0, 2**32 - 1))
def test_few_distinct_counts_as_np_unique(rows: int, spread: int, seed: int) -> None:
    """NaNs count as one value (np.unique's equal_nan), -0.0 equals 0.0, per column of a block of columns."""
    rng = np.random.default_rng(seed)
    floats = {f"f{i}": np.where(rng.random(rows) < 0.3, rng.choice(SPECIAL, rows), rng.integers(0, spread, rows) / 4)
              for i in range(5)}
    ints = {f"i{i}": rng.integers(0, spread, rows) * (10**12 + 1) for i in range(3)}
    times = {"t": (START_NS + rng.integers(0, spread, rows) * NS_PER_S).astype("datetime64[ns]")}
    times["t"][rng.random(rows) < 0.2] = np.datetime64("NaT")
    for samples in (floats, ints, times):
        want = [n for n, a in samples.items() if len(np.unique(a)) <= DICTIONARY_MAX]
        assert _few_distinct(list(samples), samples) == want


@pytest.mark.parametrize("rows", [0, 1, 513, 5000])
def test_vitals_encodings_per_column(rows: int) -> None:
    rng = np.random.default_rng(rows)
    table = pa.table({
        "at": pa.array(np.full(rows, START_NS)).cast(pa.timestamp("ns", tz="UTC")),
        "area": pa.array(rng.choice(["a", "b"], rows)), "series": pa.array(np.arange(rows, dtype=np.int64)),
        "level": pa.array(rng.integers(0, 4, rows).astype(np.float64)), "mean_5m": pa.array(rng.random(rows)),
        "count_5m": pa.array(np.where(np.arange(rows) % 2, np.nan, rng.integers(0, 1000, rows)))})
    enc = vitals_encodings(table)
    many = rows > DICTIONARY_MAX
    assert enc["use_dictionary"] == ["at", "area", *(["series"] if not many else []), "level",
                                     *(["mean_5m", "count_5m"] if not many else [])]
    assert enc["column_encoding"] == ({"series": "DELTA_BINARY_PACKED", "mean_5m": "BYTE_STREAM_SPLIT",
                                       "count_5m": "BYTE_STREAM_SPLIT"} if many else {})
    assert enc["write_statistics"] == ["at", "area", "series"]


def test_readings_files_keep_statistics_of_the_key_columns_only(tmp_path) -> None:
    n = 50
    batch = ReadingBatch(ts_ns=START_NS + np.arange(n, dtype=np.int64) * NS_PER_S,
                         indicator=np.zeros(n, np.int16), street=np.arange(n, dtype=np.int32) % 7,
                         value=np.linspace(0, 1, n), sensor=np.array([f"s{i % 3}" for i in range(n)], dtype=object))
    (path,) = write_readings(tmp_path, CATALOG, batch, "chunk")
    group = pq.ParquetFile(path).metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).is_stats_set for i in range(group.num_columns)}
    assert stats == {"ts": True, "indicator": True, "area": True, "district": True, "sensor": False, "value": False}
    assert group.column(0).compression == "ZSTD"
    back = pq.read_table(path)
    assert back.schema.equals(READINGS_SCHEMA) and back.column("sensor").to_pylist()[:4] == ["s0", "s1", "s2", "s0"]
