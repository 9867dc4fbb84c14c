"""What the flow's sinks do with its outputs: history files and dead letters (idempotent on replay)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vitals.catalog import Catalog
from vitals.history import write_readings, write_vitals
from vitals.readings import DeadLetterWriter
from vitals.stream.shard_step import VITALS_EVERY_S, HistoryChunk, ShardRejections, VitalsChunk, vitals_every_problems

if TYPE_CHECKING:
    from vitals.config import Settings
    from vitals.stream.sinks import SinkContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistorySettings:
    """The Parquet history (docs/history.md), the built-in sink ``history``: config section
    ``sinks: {history: {dir: var/history, chunk_rows: 200000, vitals_every_s: 300}}``, or flat ``history_dir``
    (``--history-dir``, ``VITALS_HISTORY_DIR``), ``history_chunk_rows`` and ``history_vitals_every_s``
    (``--history-vitals-every``)."""

    output: ClassVar[str] = "history"
    dir: str | None = None      # the Parquet history root
    chunk_rows: int = 200_000   # readings per history file per (shard, source partition); the shards cut them
    # seconds of event time between vitals snapshots (a divisor of a day, >= 60): 300 keeps 5-minute detail; 900
    # cuts the snapshots' disk by ~2/3 and a city replay's CPU by ~30 % (docs/history.md, "Snapshot cadence")
    vitals_every_s: float = VITALS_EVERY_S

    def problems(self) -> list[str]:
        out = [] if self.dir else ["needs a directory (dir, --history-dir)"]
        if self.chunk_rows < 1:
            out.append(f"history_chunk_rows must be >= 1, got {self.chunk_rows}")
        out.extend(vitals_every_problems(self.vitals_every_s))
        return out

    def open(self, context: SinkContext) -> HistoryWriter:
        return HistoryWriter(self.dir or ".", context.catalog)


def vitals_every_s(settings: Settings) -> float:
    """Event seconds between vitals snapshots: the history sink's cadence, else the default (the snapshots still
    feed the ``history`` output's other sinks, e.g. ``kafka_vitals``)."""
    history = settings.sinks.get("history")
    return float(history.vitals_every_s) if history is not None else VITALS_EVERY_S


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
