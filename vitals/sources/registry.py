"""Sources by name. ``SOURCES`` maps a source name (the ``source`` setting) to its settings class: a frozen
dataclass whose fields are the keys of its config section (``sources: {<name>: {...}}``), of its
``--<name>-<key>`` flags and of its ``VITALS_<NAME>_<KEY>`` variables (see :mod:`vitals.config`). Optional
methods of a settings class: ``problems() -> list[str]`` (validation, one phrase per problem) and
``identity() -> dict`` (what a recovery directory is bound to; default: the name and every setting).

``pipelines/sources.py`` turns the selected settings into a Bytewax source: the built-in sources have their own
connectors (``pipelines/connectors.py``); any other source's settings provide ``open(context)`` returning a
:class:`PartitionedInput`, which one generic connector runs (partitions, resume positions, polling, the stop
flag). So a new source is one module (settings + reader) and one registration, docs/extending.md::

    from vitals.sources.registry import SOURCES

    @SOURCES.register("sqlite")
    @dataclass(frozen=True)
    class SqliteSettings:
        database: str = "readings.db"

        def open(self, context: SourceContext) -> PartitionedInput: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vitals.plugins import Registry

if TYPE_CHECKING:  # the settings are read before anything heavy (numpy) is needed
    from vitals.catalog import Catalog
    from vitals.readings import ReadingParser
    from vitals.sources.base import SourceBatch

SOURCES: Registry[Any] = Registry("source", {
    "simulator": "vitals.sources.simulated:SimulatorSettings",
    "file": "vitals.sources.files:FileSettings",
    "mqtt": "vitals.sources.mqtt:MqttSettings",
    "kafka": "vitals.sources.kafka:KafkaSettings",
})


@dataclass(frozen=True)
class SourceContext:
    """What the run gives a source: the catalog, a parser factory (one parser per partition) and the run's
    source settings (``partitions`` for sources that deal their input, ``speed`` for paced replays,
    ``batch_size`` readings per batch)."""

    catalog: Catalog
    make_parser: Callable[[], ReadingParser]
    partitions: int = 1
    speed: float = 0.0
    batch_size: int = 5000


class PartitionReader(Protocol):
    """One partition of a source, read by one worker."""

    def read(self) -> SourceBatch | None:
        """The next batch (its ``batch.partition`` is this partition's name), or None when nothing is ready now
        (polled again shortly)."""

    def at_end(self) -> bool:
        """True once the input of this partition is over (the flow ends when every partition is)."""

    def position(self) -> Any:
        """Where to resume after the batches read so far (picklable; part of the recovery snapshots)."""

    def close(self) -> None: ...


class PartitionedInput(Protocol):
    """A source's fixed partitions (names stable across restarts) and a reader for each."""

    def partitions(self) -> list[str]: ...

    def open(self, partition: str, position: Any | None) -> PartitionReader:
        """A reader of ``partition`` from ``position`` (None: from the start)."""


class OpensInput(Protocol):
    """Settings of a source run by the generic connector."""

    def open(self, context: SourceContext) -> PartitionedInput: ...


def source_identity(name: str, settings: Any) -> dict[str, Any]:
    """The recovery identity of a source: its ``identity()``, else its name and every setting."""
    identity = getattr(settings, "identity", None)
    if identity is not None:
        return dict(identity())
    import dataclasses

    return {"kind": name, **dataclasses.asdict(settings)}
