"""No views nobody reads (issue 10): a run without a /metrics server and without an in-process reader builds no
periodic shard views, only each shard's final one; its final vitals and counts are those of a run whose views are
read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streaming_support import write_partitioned_readings

from pipelines.run import run_pipeline
from vitals.catalog import Catalog
from vitals.config import load_settings
from vitals.exporter import ExportHub
from vitals.runner import RunSummary
from vitals.stream.shard_step import ShardMemory, ShardProcessor, ShardPublish

SPEED = 2400.0  # one hour of event time in ~1.5 s of wall: three periods of the 0.5 s view timer
SHARDS = 2


def _run(catalog: Catalog, data: Path, out: Path, published: list[tuple[int, bool]],
         **readers: Any) -> RunSummary:
    settings = load_settings(None, {}, source="file", path=str(data), speed=SPEED, metrics_port=0, partitions=2,
                             shards=SHARDS, scoring=False, streets_total=catalog.n_streets,
                             dead_letter_path=str(out / "dead.jsonl"))
    published.clear()
    return run_pipeline(settings, catalog=catalog, final_vitals=out / "final.parquet", **readers)


def test_a_run_nobody_reads_builds_only_the_final_views(small_catalog: Catalog, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = write_partitioned_readings(small_catalog, tmp_path / "data", hours=1.0, parts=2)
    published: list[tuple[int, bool]] = []
    build = ShardProcessor.publish

    def counted(self: ShardProcessor, mem: ShardMemory, batch_seconds: list[float], generation: int = 0, *,
                final: bool = False) -> ShardPublish:  # the real view builder, its calls recorded
        published.append((mem.shard, final))
        return build(self, mem, batch_seconds, generation, final=final)

    monkeypatch.setattr(ShardProcessor, "publish", counted)
    # a reader (the caller's hub, as the demo's screen or a test's scrape): views every 0.5 s as before; the
    # first batch of each shard publishes at once, so this half holds on a loaded machine too
    read = _run(small_catalog, tmp_path / "data", tmp_path / "read", published, hub=ExportHub(small_catalog))
    assert sum(not final for _, final in published) >= SHARDS, published
    assert sorted(shard for shard, final in published if final) == list(range(SHARDS))
    # nobody reads: no /metrics server, no hub or on_publisher given; the same ~1.5 s of wall
    unread = _run(small_catalog, tmp_path / "data", tmp_path / "unread", published)
    assert sorted(published) == [(shard, True) for shard in range(SHARDS)]  # one final view per shard, nothing else
    assert unread.seconds >= 1.0  # the timer had time to fire (paced), had it been on
    assert (unread.inputs, unread.accepted, unread.rejected) == (read.inputs, read.accepted, read.rejected)
    assert unread.inputs == rows and unread.accepted > 0.9 * rows
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "unread" / "final.parquet"),
                                  pd.read_parquet(tmp_path / "read" / "final.parquet"), check_exact=True)
