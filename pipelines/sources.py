"""Source name -> Bytewax source. The built-in sources have their own connectors (``pipelines/connectors.py``);
any other source registered in :data:`vitals.sources.registry.SOURCES` is run by the generic
:class:`~pipelines.connectors.PartitionedSource` over what its settings' ``open(context)`` returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pipelines.connectors import FileReplaySource, KafkaSource, MqttSource, PartitionedSource, SimulatorSource
from pipelines.preflight import Checked
from vitals.catalog import Catalog
from vitals.config import Settings, min_time_of, pace_from_of
from vitals.readings import ReadingParser
from vitals.readings.validate import time_to_ns
from vitals.sources.base import AS_FAST_AS_POSSIBLE, Pacing
from vitals.sources.files import discover_files
from vitals.sources.registry import SourceContext

if TYPE_CHECKING:
    from vitals.simulator import CitySimulator


@dataclass(frozen=True)
class SourceWiring:
    """What a connector factory gets: the source's settings, the run's context, what preflight found and how a
    paced source paces its batches."""

    settings: Any
    context: SourceContext
    run: Settings
    checked: Checked
    simulator: CitySimulator | None = None
    pacing: Pacing = AS_FAST_AS_POSSIBLE


def parser_factory(catalog: Catalog, settings: Settings) -> Callable[[], ReadingParser]:
    """A parser per source partition, with the run's time rules (``max_future_s``)."""
    min_time = min_time_of(settings)
    return lambda: ReadingParser(catalog, max_future_s=settings.max_future_s, min_time=min_time)


def simulator_for(catalog: Catalog, settings: Settings, **overrides: Any) -> CitySimulator:
    """The simulated city for ``source=simulator``: live (speed > 0) it starts now and runs for 30 days (until
    stopped); as fast as possible it simulates one day from the simulator's fixed default start."""
    from vitals.simulator import CitySimulator, SimulatorConfig  # not in a file replay's process

    if settings.speed > 0:
        overrides = {"start": datetime.now(UTC).replace(second=0, microsecond=0),
                     "duration": timedelta(days=30), **overrides}
    config = SimulatorConfig(seed=settings.source_settings("simulator").seed, **overrides)
    return CitySimulator(catalog, config)


def _simulator(w: SourceWiring) -> Any:
    sim = w.simulator or simulator_for(w.context.catalog, w.run)
    return SimulatorSource(sim.batches, w.context.partitions, w.pacing)


def _file(w: SourceWiring) -> Any:
    files = w.checked.files if w.checked.files is not None else discover_files(w.settings.path or ".")
    return FileReplaySource(files, w.context.make_parser, w.context.partitions, pacing=w.pacing,
                            block_rows=w.context.batch_size * 10)


def _mqtt(w: SourceWiring) -> Any:
    s = w.settings
    return MqttSource(host=s.host, port=s.port, topic=s.topic, client_id=s.client_id,
                      make_parser=w.context.make_parser, security=w.checked.mqtt)


def _kafka(w: SourceWiring) -> Any:
    s = w.settings
    return KafkaSource(brokers=s.brokers, topic=s.topic, make_parser=w.context.make_parser,
                       batch_size=w.context.batch_size, stop_at_end=s.stop_at_end,
                       extra_config=s.consumer_settings(), linger_s=s.linger_ms / 1000)


CONNECTORS: dict[str, Callable[[SourceWiring], Any]] = {
    "simulator": _simulator, "file": _file, "mqtt": _mqtt, "kafka": _kafka,
}


def make_source(catalog: Catalog, settings: Settings, simulator: CitySimulator | None = None,
                checked: Checked | None = None) -> Any:
    """The Bytewax source (or input builder) for ``settings.source`` (``checked``: what preflight found)."""
    context = SourceContext(catalog, parser_factory(catalog, settings), partitions=settings.partitions,
                            speed=settings.speed, batch_size=settings.batch_size)
    section = settings.source_settings()
    connector = CONNECTORS.get(settings.source)
    if connector is None:  # a source of the library's own protocol (vitals.sources.registry.OpensInput)
        return PartitionedSource(section.open(context))
    return connector(SourceWiring(section, context, settings, checked or Checked(), simulator,
                                  pacing_of(settings)))


def pacing_of(settings: Settings) -> Pacing:
    """How a paced source of this run paces its batches: ``speed``, from the ``pace_from`` event time if set."""
    start = pace_from_of(settings)
    return Pacing(settings.speed, None if start is None else time_to_ns(start))
