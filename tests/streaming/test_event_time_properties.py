"""Hypothesis: random interleavings of valid, invalid, duplicate and late readings streamed through the flow.

Every input is accounted for (accepted + rejected + late + duplicate == input, each rejection dead-lettered
with its reason), and the results equal a pandas oracle that applies the same rules: per-partition watermark
(a valid reading is late when it is older than the newest earlier valid reading of its partition minus the
allowed lateness), then exact duplicates (same series and time; the first arrival wins).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import given
from hypothesis import strategies as st

from pipelines.live import FlowOptions, FlowSinks, build_flow
from vitals.batches import ReadingBatch
from vitals.catalog import load_catalog
from vitals.sources.base import SourceBatch
from vitals.state.view import VitalsView
from vitals.stream.partition_check import CheckedBatch
from vitals.stream.shard_step import ShardPublish

CATALOG = load_catalog(streets_total=76)
IND = CATALOG.indicator_index["water_pressure"]  # valid range [0, 1.6]
STREETS = (0, 1, 2, 3)  # series k lives in partition k % 2 (one partition per series: a defined order)
NS = 1_000_000_000
T0 = 1_772_409_600 * NS  # 2026-03-02T00:00:00Z
STEP_S = 100              # 8 event times per series, 700 s apart at most: late readings happen with L = 300 s
LATENESS_S = 300.0
VALUES = [0.25 * k for k in range(1, 7)]  # exact in float32 (window min/max are float32)
INVALID = [5.0, -1.0, float("nan")]


reading = st.tuples(st.integers(0, len(STREETS) - 1), st.integers(0, 7),
                    st.one_of(st.sampled_from(VALUES), st.sampled_from(INVALID)))


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[tuple[int, int, float]], list[tuple[int, int]]]:
    """Readings in arrival order per partition (repeats of (series, time) are the duplicates), their cut
    into batches, and an interleaving of the two partitions' batches."""
    rows = draw(st.lists(reading, min_size=8, max_size=80))
    per_part = [[r for r in rows if r[0] % 2 == p] for p in (0, 1)]
    batches: list[tuple[int, int]] = []  # (partition, number of rows)
    for p, part_rows in enumerate(per_part):
        left = len(part_rows)
        while left:
            n = draw(st.integers(1, left))
            batches.append((p, n))
            left -= n
    order = draw(st.permutations(range(len(batches))))
    # keep each partition's batches in order, interleave the partitions as drawn
    queues = {p: [b for b in batches if b[0] == p] for p in (0, 1)}
    interleaved = [queues[batches[i][0]].pop(0) for i in order]
    return rows, interleaved


def _source_batches(rows: list[tuple[int, int, float]], cuts: list[tuple[int, int]]) -> list[SourceBatch]:
    per_part = {p: [r for r in rows if r[0] % 2 == p] for p in (0, 1)}
    taken = {0: 0, 1: 0}
    seqs = {0: 0, 1: 0}
    out = []
    for p, n in cuts:
        chunk = per_part[p][taken[p]:taken[p] + n]
        taken[p] += n
        batch = ReadingBatch(
            ts_ns=np.array([T0 + t * STEP_S * NS for _, t, _ in chunk], dtype=np.int64),
            indicator=np.full(len(chunk), IND, dtype=np.int16),
            street=np.array([STREETS[s] for s, _, _ in chunk], dtype=np.int32),
            value=np.array([v for _, _, v in chunk], dtype=np.float64),
            received_ns=T0 + 800 * NS, partition=f"p{p}", seq=seqs[p],
        )
        seqs[p] += 1
        out.append(SourceBatch(batch))
    return out


def _oracle(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    """Verdict of every reading with pandas: invalid, late, duplicate or accepted."""
    frame = pd.DataFrame(rows, columns=["series", "t", "value"])
    frame["partition"] = frame["series"] % 2
    frame["ts"] = frame["t"] * STEP_S
    frame["valid"] = frame["value"].between(0.0, 1.6)
    frame["verdict"] = np.where(frame["valid"], "", "invalid")
    for _, part in frame[frame["valid"]].groupby("partition", sort=False):
        newest_before = part["ts"].cummax().shift(1).fillna(part["ts"].iloc[0])
        late = part["ts"] < newest_before - LATENESS_S
        frame.loc[part.index[late.to_numpy()], "verdict"] = "late"
    on_time = frame["verdict"] == ""
    dup = frame[on_time].duplicated(["series", "ts"], keep="first")
    frame.loc[dup[dup].index, "verdict"] = "duplicate"
    frame.loc[frame["verdict"] == "", "verdict"] = "accepted"
    return frame


def _run(items: list[SourceBatch]) -> tuple[list[object], list[object]]:
    stats: list[object] = []
    dead: list[object] = []
    flow = build_flow(CATALOG, TestingSource(items), FlowSinks(TestingSink(stats), TestingSink(dead)),
                      FlowOptions(shards=2, allowed_lateness_s=LATENESS_S, recovery=False))
    run_main(flow)
    return stats, dead


def _final_view(stats: list[object]) -> VitalsView:
    last: dict[int, VitalsView] = {}
    for item in stats:
        if isinstance(item, ShardPublish):
            last[item.shard] = item.view
    return VitalsView.concat([last[k] for k in sorted(last)])


@given(streams())
def test_every_reading_is_accounted_for_and_results_match_the_oracle(stream):
    rows, cuts = stream
    stats, dead = _run(_source_batches(rows, cuts))
    oracle = _oracle(rows)
    expected = oracle["verdict"].value_counts().to_dict()

    inputs = {}
    for item in stats:
        if isinstance(item, CheckedBatch):
            inputs[item.batch.partition] = max(inputs.get(item.batch.partition, 0), item.inputs)
    reasons: dict[str, int] = {}
    for item in dead:
        for r in item.rejections:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    view = _final_view(stats)
    accepted = int(view.columns["readings"].sum()) if len(view) else 0
    invalid = sum(n for reason, n in reasons.items() if reason not in ("late", "duplicate"))

    assert sum(inputs.values()) == len(rows)
    assert accepted + invalid + reasons.get("late", 0) + reasons.get("duplicate", 0) == len(rows)
    assert accepted == expected.get("accepted", 0)
    assert invalid == expected.get("invalid", 0)
    assert reasons.get("late", 0) == expected.get("late", 0)
    assert reasons.get("duplicate", 0) == expected.get("duplicate", 0)

    kept = oracle[oracle["verdict"] == "accepted"]
    by_series = kept.sort_values("ts").groupby("series")
    want = pd.DataFrame({"readings": by_series.size(), "last": by_series["value"].last(),
                         "last_ts_s": by_series["ts"].max() + T0 / NS, "max_24h": by_series["value"].max(),
                         "min_24h": by_series["value"].min(), "count_24h": by_series.size()})
    want.index = [CATALOG.series_id(np.array([IND]), np.array([STREETS[s]]))[0] for s in want.index]
    want = want.sort_index().astype(float)
    if not len(view):
        assert want.empty
        return
    got = pd.DataFrame({k: view.columns[k] for k in want.columns}, index=view.series).sort_index()
    # values, not dtypes: VitalsView documents float64 columns, but window min/max may come as float32
    pd.testing.assert_frame_equal(got, want, check_names=False, check_index_type=False, check_dtype=False)
