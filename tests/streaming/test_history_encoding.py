"""The history writer's cheaper steps against their plain numpy oracles (docs/history.md, "Encodings"): the readings'
row order by radix passes is ``np.lexsort``'s, the vitals encodings' distinct-value count is ``np.unique``'s, the
readings files (times as deltas) read back as the rows in that order, and the vitals files' id columns reused for a
recurring series set are the ones made afresh."""

from __future__ import annotations

import shutil

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
    _Ids,
    _readings_order,
    read_vitals,
    vitals_encodings,
    write_readings,
    write_vitals,
)
from vitals.state.view import VitalsView
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
    # snappy for the strings and the columns of many values, none for the dictionaries of few values
    assert enc["compression"] == {"at": "none", "area": "snappy", "series": "snappy" if many else "none",
                                  "level": "none", "mean_5m": "snappy" if many else "none",
                                  "count_5m": "snappy" if many else "none"}


def test_readings_files_statistics_and_codecs_per_column(tmp_path) -> None:
    n = 50
    batch = ReadingBatch(ts_ns=START_NS + np.arange(n, dtype=np.int64) * NS_PER_S,
                         indicator=np.zeros(n, np.int16), street=np.arange(n, dtype=np.int32) % 7,
                         value=np.linspace(0, 1, n), sensor=np.array([f"s{i % 3}" for i in range(n)], dtype=object))
    (path,) = write_readings(tmp_path, CATALOG, batch, "chunk")
    group = pq.ParquetFile(path).metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).is_stats_set for i in range(group.num_columns)}
    assert stats == {"ts": True, "indicator": True, "area": True, "district": True, "sensor": False, "value": False}
    codecs = {group.column(i).path_in_schema: group.column(i).compression for i in range(group.num_columns)}
    assert codecs == {"ts": "SNAPPY", "indicator": "UNCOMPRESSED", "area": "SNAPPY", "district": "UNCOMPRESSED",
                      "sensor": "SNAPPY", "value": "SNAPPY"}
    back = pq.read_table(path)
    assert back.schema.equals(READINGS_SCHEMA) and back.column("sensor").to_pylist()[:4] == ["s0", "s1", "s2", "s0"]


@settings(max_examples=50, deadline=None)
@given(batches(), st.booleans(), st.integers(0, 2**32 - 1))
def test_readings_files_read_back_as_the_rows_in_order(tmp_path_factory, batch: ReadingBatch, sensors: bool,
                                                       seed: int) -> None:
    """Every row once, in (date, domain, indicator, area, ts) order, the values bit for bit: the oracle builds the
    rows with numpy and Python from the batch (np.lexsort, the catalog's ids), independent of the writer."""
    rng = np.random.default_rng(seed)
    if sensors:  # a few sensor ids, some rows without one
        pool = np.array([None, "s-1", "s-2", "水-3"], dtype=object)
        batch = ReadingBatch(batch.ts_ns, batch.indicator, batch.street, batch.value,
                             sensor=pool[rng.integers(0, len(pool), len(batch))])
    root = tmp_path_factory.mktemp("readings")
    files = write_readings(root, CATALOG, batch, "chunk")
    day = batch.ts_ns // (DAY_S * NS_PER_S)
    key = day * 64 + CATALOG.domain_code_array[batch.indicator]
    order = np.lexsort((batch.ts_ns, batch.street, batch.indicator, key))
    back = pa.concat_tables([pq.read_table(f) for f in files])  # files in the writer's (date, domain) order
    assert back.schema.equals(READINGS_SCHEMA)
    np.testing.assert_array_equal(back.column("ts").cast(pa.int64()).to_numpy(), batch.ts_ns[order])
    assert back.column("indicator").to_pylist() == [CATALOG.indicators[i].id for i in batch.indicator[order]]
    assert back.column("area").to_pylist() == [CATALOG.streets[s].id for s in batch.street[order]]
    assert back.column("district").to_pylist() == [
        CATALOG.districts[CATALOG.street_district_array[s]].id for s in batch.street[order]]
    want_sensor = [None] * len(batch) if batch.sensor is None else list(batch.sensor[order])
    assert back.column("sensor").to_pylist() == want_sensor
    np.testing.assert_array_equal(back.column("value").to_numpy().view(np.int64), batch.value[order].view(np.int64))
    assert len(files) == len(np.unique(key))
    group = pq.ParquetFile(files[0]).metadata.row_group(0)
    assert "DELTA_BINARY_PACKED" in group.column(0).encodings  # ts


def _view(indicator: list[int], street: list[int], value: float) -> VitalsView:
    ind, st_ = np.array(indicator, dtype=np.int16), np.array(street, dtype=np.int32)
    series = CATALOG.series_id(ind, st_).astype(np.int64)
    return VitalsView(series, ind, st_, {"last": np.full(len(ind), value)}, 0.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=4), min_size=1,
                max_size=12))
def test_recurring_id_columns_are_the_fresh_ones(sets: list[list[tuple[int, int]]]) -> None:
    """Series sets drawn from a small pool (repeats, equal lengths with other ids, reorderings): the reused id
    columns always equal the ones :meth:`_Ids.columns` makes afresh."""
    ids = _Ids(CATALOG)
    for pairs in sets:
        ind = np.array([p[0] for p in pairs], dtype=np.int16)
        street = np.array([p[1] for p in pairs], dtype=np.int32)
        got, fresh = ids.recurring_columns(ind, street), ids.columns(ind, street)
        assert {k: v.to_pylist() for k, v in got.items()} == {k: v.to_pylist() for k, v in fresh.items()}


def test_vitals_files_of_changing_series_sets_hold_their_own_ids(tmp_path) -> None:
    """Consecutive files of one shard with the same number of series but other series (and a directory removed
    between two writes: it is made again) read back with each file's own ids."""
    views = [_view([0, 1], [0, 1], 1.0), _view([0, 1], [0, 1], 2.0), _view([1, 2], [2, 3], 3.0),
             _view([0, 1], [0, 1], 4.0)]
    at = [START_NS + k * 300 * NS_PER_S for k in range(len(views))]
    for k, (t, view) in enumerate(zip(at, views, strict=True)):
        if k == 2:
            shutil.rmtree(tmp_path / "vitals")
        write_vitals(tmp_path, CATALOG, [(t, view)], f"shard000-{t}")
    back = read_vitals(tmp_path).sort_values(["at", "series"]).reset_index(drop=True)
    assert back["last"].tolist() == [3.0, 3.0, 4.0, 4.0]  # the first two files went with the directory
    assert back["indicator"].astype(str).tolist() == [CATALOG.indicators[i].id for i in (1, 2, 0, 1)]
    assert back["area"].astype(str).tolist() == [CATALOG.streets[s].id for s in (2, 3, 0, 1)]


def test_vitals_encodings_follow_each_tables_values() -> None:
    """The column set's classification is remembered, the distinct-value count is not: a column with few values
    in one table and many in the next (same columns) is a dictionary in the first only."""
    few = pa.table({"series": pa.array(np.arange(600, dtype=np.int64)), "level": pa.array(np.zeros(600))})
    many = pa.table({"series": pa.array(np.arange(600, dtype=np.int64)), "level": pa.array(np.arange(600.0))})
    assert vitals_encodings(few)["use_dictionary"] == ["level"]
    assert vitals_encodings(many)["use_dictionary"] == []
    assert vitals_encodings(many)["column_encoding"] == {"series": "DELTA_BINARY_PACKED", "level": "BYTE_STREAM_SPLIT"}
    assert vitals_encodings(few)["column_encoding"] == {"series": "DELTA_BINARY_PACKED"}
