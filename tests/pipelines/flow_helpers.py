"""Run the flow in-process with Bytewax's testing sink and collect what it published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bytewax.testing import TestingSink, cluster_main, run_main

from pipelines.live import FlowOptions, FlowSinks, build_flow
from vitals.catalog import Catalog
from vitals.state.view import VitalsView
from vitals.stream.partition_check import CheckedBatch
from vitals.stream.shard_step import ShardPublish, ShardRejections


@dataclass
class FlowResult:
    stats: list[Any] = field(default_factory=list)
    dead: list[ShardRejections] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)

    def final_view(self) -> VitalsView:
        """The last published view of every shard, concatenated and sorted by series id."""
        last: dict[int, VitalsView] = {}
        for item in self.stats:
            if isinstance(item, ShardPublish):
                last[item.shard] = item.view
        view = VitalsView.concat([last[k] for k in sorted(last)])
        order = np.argsort(view.series, kind="stable")
        return VitalsView(view.series[order], view.indicator[order], view.street[order],
                          {k: v[order] for k, v in view.columns.items()}, view.now_s)

    def inputs(self) -> int:
        last: dict[str, int] = {}
        for item in self.stats:
            if isinstance(item, CheckedBatch):
                last[item.batch.partition] = max(last.get(item.batch.partition, 0), item.inputs)
        return sum(last.values())

    def rejections_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.dead:
            for r in item.rejections:
                out[r.reason] = out.get(r.reason, 0) + 1
        return out

    def accepted(self) -> int:
        last: dict[int, int] = {}
        for item in self.stats:
            if isinstance(item, ShardPublish):
                last[item.shard] = item.accepted
        return sum(last.values())


def run_flow(catalog: Catalog, source: Any, options: FlowOptions, *, workers: int = 1, history: bool = False
             ) -> FlowResult:
    result = FlowResult()
    sinks = FlowSinks(TestingSink(result.stats), TestingSink(result.dead),
                      (("history", "history", TestingSink(result.history)),) if history else ())
    flow = build_flow(catalog, source, sinks, options)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return result


def assert_views_equal(a: VitalsView, b: VitalsView) -> None:
    np.testing.assert_array_equal(a.series, b.series)
    assert set(a.columns) == set(b.columns)
    for name in a.columns:
        np.testing.assert_array_equal(a.columns[name], b.columns[name], err_msg=name)
