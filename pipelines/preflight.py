"""Everything a run would reject, checked before the first reading (and by ``--dry-run``): output paths, the
/metrics port and its web config, MQTT credentials and certificates, the input files, and whether the recovery
directory belongs to this run. Read-only: a failed check leaves nothing behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitals.catalog.loader import default_catalog_path
from vitals.config import Settings
from vitals.exporter.web_config import WebConfig, load_web_config
from vitals.history import final_vitals_format
from vitals.preflight import (
    check_cluster_address,
    check_cluster_process,
    check_distinct_files,
    check_input_file,
    check_output_dir,
    check_output_file,
    check_port_free,
)
from vitals.readings.dead_letters import check_dead_letter_file
from vitals.recovery import check_recovery_dir, describe_inputs, file_digest, run_identity
from vitals.registry.locate import models_dir
from vitals.sources.files import discover_files
from vitals.sources.kafka import kafka_partition_count
from vitals.sources.mqtt import MqttSecurity, mqtt_security, probe_broker
from vitals.sources.registry import source_identity as identity_of
from vitals.stream.outputs import vitals_every_s


@dataclass(frozen=True)
class Checked:
    """What the checks found, for the run: input files, web config, MQTT security, the recovery identity."""

    files: list[Path] | None = None
    web: WebConfig | None = None
    mqtt: MqttSecurity | None = None
    identity: dict[str, Any] | None = None
    init_recovery: bool = False


def process_metrics_port(settings: Settings) -> int:
    return settings.metrics_port + (settings.process_id or 0) if settings.metrics_port else 0


def per_process_path(settings: Settings, path: str | Path) -> Path:
    """``path`` for this process: unchanged in a single process, ``<stem>-p<id><suffix>`` in a cluster (every
    process writes its own dead-letter and final-vitals files)."""
    out = Path(path)
    if not settings.addresses:
        return out
    return out.with_name(f"{out.stem}-p{settings.process_id or 0}{out.suffix}")


def catalog_digest(settings: Settings) -> str:
    """SHA-256 of the catalog file and the street count: a changed catalog changes series codes and state."""
    path = Path(settings.catalog) if settings.catalog else default_catalog_path()
    h = hashlib.sha256(file_digest(path).encode())
    h.update(f"streets_total={settings.streets_total}".encode())
    return h.hexdigest()


def source_identity(settings: Settings, files: list[Path] | None,
                    kafka_partitions: Callable[[], int | None] | None = None) -> dict[str, Any]:
    """What the recovery directory is bound to: the input files, the Kafka topic's partitions, or the source's
    own identity (:func:`vitals.sources.registry.source_identity`)."""
    section = settings.source_settings()
    if settings.source == "file":
        return {"kind": "file", "inputs": describe_inputs(section.path or ".", files or [])}
    if settings.source == "kafka":
        count = kafka_partitions or (lambda: kafka_partition_count(section.brokers, section.topic,
                                                                   extra=section.consumer_settings()))
        return {"kind": "kafka", "topic": section.topic, "kafka_partitions": count()}
    return identity_of(settings.source, section)


def check_outputs(settings: Settings, *, final_vitals: str | Path | None, scrape_config: str | Path | None) -> None:
    history = settings.sinks.get("history")
    if history is not None:
        check_output_dir(history.dir, "the history", "--history-dir")
    dead_letters = per_process_path(settings, settings.dead_letter_path)
    check_output_file(dead_letters, "the dead-letter file", "--dead-letters")
    check_dead_letter_file(dead_letters)
    if final_vitals is not None:
        check_output_file(per_process_path(settings, final_vitals), "the final vitals", "--final-vitals")
    if scrape_config is not None:
        check_output_file(scrape_config, "the scrape config", "--scrape-config")
    if settings.recovery_dir:
        check_output_dir(settings.recovery_dir, "the recovery snapshots", "--recovery-dir")


def preflight(settings: Settings, *, final_vitals: str | Path | None = None, scrape_config: str | Path | None = None,
              probe: bool = True, kafka_partitions: Callable[[], int | None] | None = None) -> Checked:
    """Check everything before the run starts; raises a one-line :class:`~vitals.errors.VitalsError`."""
    check_cluster_process(settings.addresses, settings.process_id, scrape_config=scrape_config)
    section = settings.source_settings()
    files = discover_files(section.path or ".") if settings.source == "file" else None
    check_outputs(settings, final_vitals=final_vitals, scrape_config=scrape_config)
    final = None if final_vitals is None else per_process_path(settings, final_vitals)
    check_distinct_files([("--dead-letters", per_process_path(settings, settings.dead_letter_path)),
                          ("--final-vitals", final), ("--scrape-config", scrape_config)],
                         [("an input file of the replay", f) for f in files or []])
    if final_vitals is not None:
        final_vitals_format(final_vitals)
    if settings.scoring:  # a --models-dir that is missing or a file: refused before anything is written
        models_dir(settings.models_dir, settings.catalog, must_exist=True)
    if settings.planned_works:  # a works file that does not read: refused before anything is written
        from vitals.catalog import load_catalog
        from vitals.planned_works import load_planned_works

        load_planned_works(settings.planned_works, load_catalog(settings.catalog, streets_total=settings.streets_total))
    web = load_web_config(settings.web_config) if settings.web_config else None
    port = process_metrics_port(settings)
    if port and probe:
        check_port_free(settings.metrics_host, port, "--metrics-port")
    if probe:
        check_cluster_address(settings.addresses, settings.process_id)
    mqtt = None
    if settings.source == "mqtt":
        for name in ("ca_file", "cert_file", "key_file", "password_file"):
            if getattr(section, name):
                check_input_file(getattr(section, name), f"mqtt {name.replace('_', ' ')}",
                                 f"--mqtt-{name.replace('_', '-')}")
        mqtt = mqtt_security(section)
        if probe:
            probe_broker(section.host, section.port, section.client_id, mqtt)
    if not settings.recovery_dir:
        return Checked(files=files, web=web, mqtt=mqtt)
    history = settings.sinks.get("history")
    identity = run_identity(source=source_identity(settings, files, kafka_partitions), shards=settings.shards,
                            partitions=settings.partitions, catalog_sha256=catalog_digest(settings),
                            history_dir=history.dir if history is not None else None,
                            vitals_every_s=vitals_every_s(settings))
    fresh = check_recovery_dir(settings.recovery_dir, identity)
    return Checked(files=files, web=web, mqtt=mqtt, identity=identity, init_recovery=fresh)
