"""What the flow's sinks do with its outputs: history files and dead letters (idempotent on replay)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vitals.catalog import Catalog
from vitals.history import write_readings, write_vitals
from vitals.readings import DeadLetterWriter
from vitals.stream.shard_step import HistoryChunk, ShardRejections, VitalsChunk

log = logging.getLogger(__name__)


class HistoryWriter:
    """Writes :class:`HistoryChunk` and :class:`VitalsChunk` items under ``root``."""

    def __init__(self, root: str | Path, catalog: Catalog) -> None:
        self.root = Path(root)
        self.catalog = catalog

    def __call__(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, HistoryChunk):
                write_readings(self.root, self.catalog, item.batch, item.name)
            elif isinstance(item, VitalsChunk):
                write_vitals(self.root, self.catalog, item.snapshots, item.name)


class DeadLetters:
    """Writes :class:`ShardRejections` items; one already written (a replay) is not written again."""

    def __init__(self, writer: DeadLetterWriter) -> None:
        self.writer = writer

    def __call__(self, items: list[ShardRejections]) -> None:
        for item in items:
            self.writer.write_batch(item.partition, item.seq, item.rejections, stage=item.stage)
