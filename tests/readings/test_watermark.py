"""Watermark: the lateness rule against a pure-Python oracle, independent of batch cuts, picklable."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.readings import PartitionWatermark

S = 10**9


def _batch(ts: list[int], seq: int = 0) -> ReadingBatch:
    n = len(ts)
    return ReadingBatch(ts_ns=np.array(ts, dtype=np.int64), indicator=np.zeros(n, dtype=np.int16),
                        street=np.arange(n, dtype=np.int32), value=np.arange(n, dtype=np.float64),
                        partition="p7", seq=seq)


def oracle_late(ts: list[int], lateness_ns: int) -> list[bool]:
    newest: int | None = None
    late = []
    for t in ts:
        late.append(newest is not None and t < newest - lateness_ns)
        newest = t if newest is None else max(newest, t)
    return late


def test_rule_by_example(catalog: Catalog) -> None:
    mark = PartitionWatermark(allowed_lateness_s=10)
    assert mark.watermark_ns is None
    on_time, late = mark.split_late(_batch([100 * S, 95 * S, 120 * S, 110 * S, 109 * S, 130 * S]), catalog)
    assert on_time.ts_ns.tolist() == [100 * S, 95 * S, 120 * S, 110 * S, 130 * S]
    assert [r.reason for r in late] == ["late"]
    assert "is 11 s behind" in late[0].detail and "allowed lateness 10 s" in late[0].detail
    assert json.loads(late[0].raw)["indicator"] == catalog.indicators[0].id
    assert (late[0].partition, late[0].seq) == ("p7", 0)
    assert mark.watermark_ns == 120 * S
    _, again = mark.split_late(_batch([119 * S, 121 * S]))
    assert [json.loads(r.raw)["indicator_code"] for r in again] == [0]


@given(st.lists(st.integers(0, 200), max_size=60), st.integers(0, 30), st.data())
def test_late_verdicts_do_not_depend_on_batch_cuts(seconds: list[int], lateness: int, data: st.DataObject) -> None:
    ts = [s * S for s in seconds]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ts)), max_size=6)))
    mark = PartitionWatermark(lateness)
    late: list[bool] = []
    for start, stop in zip([0, *cuts], [*cuts, len(ts)], strict=True):
        mark = pickle.loads(pickle.dumps(mark))  # as if restored from a recovery snapshot between batches
        mask, _ = mark.late_mask(np.array(ts[start:stop], dtype=np.int64))
        late.extend(mask.tolist())
    assert late == oracle_late(ts, lateness * S)
    whole = PartitionWatermark(lateness)
    whole.late_mask(np.array(ts, dtype=np.int64))
    assert whole == mark


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_lateness_must_be_a_finite_non_negative_number(bad: float) -> None:
    with pytest.raises(ConfigError):
        PartitionWatermark(bad)
