"""Sinks by name: where the flow's outputs go besides /metrics and the dead-letter file (the run's own outputs,
wired in ``pipelines/run.py``). ``SINKS`` maps a sink name to its settings class, a frozen dataclass whose
fields are the keys of its config section; a sink is on when its section is in the config file
(``sinks: {<name>: {...}}``) or one of its keys is given flat (``history_dir``, ``--history-dir``). The built-in
sinks are ``history``, the Parquet history (:class:`vitals.stream.outputs.HistorySettings`), and the optional
Kafka outputs ``kafka_changes`` and ``kafka_vitals`` (:mod:`vitals.stream.kafka_sinks`, docs/kafka.md). The
settings class says which output it takes (:data:`OUTPUTS`) and opens its writer once per process::

    from vitals.stream.sinks import SINKS

    @SINKS.register("vitals_csv")
    @dataclass(frozen=True)
    class VitalsCsvSettings:
        output: ClassVar[str] = "published"
        path: str = "var/vitals.csv"

        def open(self, context: SinkContext) -> SinkWriter: ...

``pipelines/run.py`` opens every configured sink and ``pipelines/live.py`` attaches it to its output; the writer
is called with each batch of items on the worker that produced them (so from several threads with ``-w N``),
and closed at the end of the run. Bytewax re-emits the outputs of the epoch being replayed after a crash, so a
sink that must be exact is idempotent (see docs/sources.md, crash recovery). docs/extending.md has a worked
example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vitals.plugins import Registry

if TYPE_CHECKING:
    from vitals.catalog import Catalog

SINKS: Registry[Any] = Registry("sink", {
    "history": "vitals.stream.outputs:HistorySettings",
    "kafka_changes": "vitals.stream.kafka_sinks:KafkaChangesSettings",
    "kafka_vitals": "vitals.stream.kafka_sinks:KafkaVitalsSettings",
})

# output name -> the items a sink of it receives (types of vitals.stream.shard_step)
OUTPUTS = {
    "published": "ShardPublish: a shard's latest VitalsView and its counts (what /metrics shows)",
    "rejected": "ShardRejections: rejected readings of one source batch (what the dead-letter file gets)",
    "history": "HistoryChunk (accepted readings) and VitalsChunk (vitals every 5 minutes of event time)",
}


@dataclass(frozen=True)
class SinkContext:
    """What the run gives a sink: the catalog and this process's index in a cluster (0 alone)."""

    catalog: Catalog
    process_id: int = 0


class SinkWriter(Protocol):
    def __call__(self, items: list[Any]) -> None: ...


def sink_problems(name: str, settings: Any) -> list[str]:
    """What is wrong with a configured sink: an output that is not one of :data:`OUTPUTS`, and its own
    ``problems()``."""
    output = getattr(settings, "output", None)
    out = [] if output in OUTPUTS else [f"sink {name} must name an output ({', '.join(OUTPUTS)}), got {output!r}"]
    check = getattr(settings, "problems", None)
    return out + [f"sink {name}: {p}" for p in (check() if check is not None else [])]


def close_sink(writer: SinkWriter) -> None:
    """Close a writer that has a ``close`` (at the end of the run)."""
    close = getattr(writer, "close", None)
    if close is not None:
        close()
