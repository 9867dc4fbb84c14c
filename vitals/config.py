"""One frozen settings object, built from defaults, an optional YAML file and ``VITALS_*`` environment
variables (in that order of precedence, lowest first), then command-line options. Nothing here reads the
environment or the disk at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from vitals.errors import ConfigError

DEFAULT_MQTT_TOPIC = "city/#"


@dataclass(frozen=True)
class Settings:
    # catalog
    catalog: str | None = None          # path of a catalog file; None = the shipped model city
    streets_total: int | None = None    # scale the generated streets (None = 1,031)
    # source
    source: str = "simulator"           # simulator | file | mqtt | kafka
    path: str | None = None             # file or directory for source=file
    speed: float = 60.0                 # simulated/replayed seconds per wall second (0 = as fast as possible)
    seed: int = 42
    batch_size: int = 5000
    partitions: int = 4                 # source partitions (fixed at first start when recovery is on)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_topic: str = DEFAULT_MQTT_TOPIC  # every topic under city/ (docs/sources.md)
    mqtt_client_id: str = "city-vitals"
    mqtt_username: str | None = None     # MQTT login (the password comes from mqtt_password_file or the
    mqtt_password_file: str | None = None  # VITALS_MQTT_PASSWORD environment variable, never the command line)
    mqtt_tls: bool = False               # TLS to the broker (port 8883 by convention)
    mqtt_ca_file: str | None = None      # CA bundle that signed the broker's certificate (default: system CAs)
    mqtt_cert_file: str | None = None    # client certificate and key, for brokers that require them
    mqtt_key_file: str | None = None
    kafka_brokers: str = "127.0.0.1:9092"
    kafka_topic: str = "city-readings"
    kafka_stop_at_end: bool = False     # end the input at the end of every Kafka partition (backfills, drills)
    # event time
    allowed_lateness_s: float = 300.0   # readings older than watermark - lateness are dead-lettered as late
    max_future_s: float = 300.0         # readings further ahead of arrival time are rejected
    min_time: str = "2000-01-01T00:00:00Z"  # readings before are bad_timestamp (ISO 8601 with a time zone)
    # state
    shards: int = 4                     # series shards (state partitions); fixed for a recovery dir
    # outputs
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108            # each process serves metrics_port + process id
    web_config: str | None = None       # exporter-toolkit web config (TLS, basic auth) for /metrics
    dead_letter_path: str = "var/dead_letters.jsonl"
    dead_letter_max_entries: int = 100_000  # dead-letter lines kept in the file (0 = no limit); counts stay exact
    dead_letter_max_mb: float = 50.0    # size limit of the dead-letter file (0 = no limit)
    history_dir: str | None = None      # Parquet history root; None = no history
    history_chunk_rows: int = 200_000   # readings per history file per (shard, source partition)
    recovery_dir: str | None = None     # Bytewax recovery; None = no recovery
    snapshot_interval_s: float = 1.0    # epoch length with recovery on
    models_dir: str | None = None       # None: models/ next to the catalog (the shipped ones for the shipped catalog)
    scoring: bool = True                # anomaly scores, expected band and forecasts in the flow
    # cluster
    workers: int = 1
    process_id: int | None = None
    addresses: tuple[str, ...] = field(default_factory=tuple)

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given (non-None) changes, validated."""
        clean = {k: v for k, v in changes.items() if v is not None}
        return validate(dataclasses.replace(self, **clean))


_FIELDS = {f.name: f for f in fields(Settings)}
_OPTIONAL_TEXT = ("catalog", "path", "history_dir", "recovery_dir", "models_dir", "web_config", "mqtt_username",
                  "mqtt_password_file", "mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
_SECONDS = ("speed", "allowed_lateness_s", "max_future_s", "snapshot_interval_s")


def _coerce(name: str, raw: Any) -> Any:
    """Convert a text or YAML value to the field's type, with a clear error."""
    default = _FIELDS[name].default
    kind = type(default) if default is not None and default is not dataclasses.MISSING else None
    if name == "addresses":
        if isinstance(raw, str):
            return tuple(a for a in raw.replace(",", ";").split(";") if a)
        return tuple(str(a) for a in raw)
    if name in ("streets_total", "process_id"):
        kind = int
    if name in _OPTIONAL_TEXT:
        kind = str
    if raw is None or kind is None:
        return raw
    try:
        if kind is bool:
            return str(raw).lower() in ("1", "true", "yes", "on")
        return kind(raw)
    except (TypeError, ValueError) as exc:
        msg = f"setting {name}={raw!r} is not a valid {kind.__name__}"
        raise ConfigError(msg) from exc


def validate(s: Settings) -> Settings:
    """Every problem of the settings in one :class:`ConfigError` (one line)."""
    problems = [*_source_problems(s), *_number_problems(s)]
    if problems:
        msg = "invalid settings: " + "; ".join(problems)
        raise ConfigError(msg)
    return s


def _source_problems(s: Settings) -> list[str]:
    problems = []
    if s.source not in ("simulator", "file", "mqtt", "kafka"):
        problems.append(f"source={s.source!r} must be simulator, file, mqtt or kafka")
    if s.source == "kafka" and not s.kafka_topic.strip():
        problems.append("source=kafka needs kafka_topic")
    if s.source == "kafka" and not [b for b in s.kafka_brokers.split(",") if b.strip()]:
        problems.append("source=kafka needs kafka_brokers (host:port[,host:port...])")
    if s.source == "file" and not s.path:
        problems.append("source=file needs path (a file or a directory of readings)")
    if (s.mqtt_cert_file is None) != (s.mqtt_key_file is None):
        problems.append("mqtt_cert_file and mqtt_key_file go together (a client certificate and its key)")
    if s.mqtt_password_file and not s.mqtt_username:
        problems.append("mqtt_password_file needs mqtt_username")
    for a in s.addresses:
        host, _, port = a.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"address {a!r} must be host:port")
    if s.process_id is not None and s.addresses and not 0 <= s.process_id < len(s.addresses):
        problems.append(f"process_id must be between 0 and {len(s.addresses) - 1} (one per address), "
                        f"got {s.process_id}")
    return problems


def _number_problems(s: Settings) -> list[str]:
    problems = []
    for name in ("batch_size", "partitions", "shards", "workers", "history_chunk_rows"):
        if getattr(s, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(s, name)}")
    for name in _SECONDS:
        if not math.isfinite(getattr(s, name)):
            problems.append(f"{name} must be a finite number, got {getattr(s, name)}")
    if s.speed < 0:
        problems.append(f"speed must be >= 0 (0 = as fast as possible), got {s.speed}")
    if s.dead_letter_max_entries < 0 or s.dead_letter_max_mb < 0:
        problems.append("dead_letter_max_entries and dead_letter_max_mb must be >= 0 (0 = no limit)")
    try:
        min_time_of(s)
    except ConfigError as exc:
        problems.append(str(exc))
    if s.allowed_lateness_s < 0 or s.max_future_s < 0:
        problems.append("allowed_lateness_s and max_future_s must be >= 0")
    if not s.snapshot_interval_s > 0:
        problems.append(f"snapshot_interval_s must be > 0 seconds, got {s.snapshot_interval_s}")
    if not 0 <= s.metrics_port < 65536:
        problems.append(f"metrics_port must be a TCP port (0-65535), got {s.metrics_port}")
    if s.metrics_port and s.addresses and s.metrics_port + len(s.addresses) - 1 > 65535:
        problems.append(f"metrics_port + process id must stay a TCP port (<= 65535) for {len(s.addresses)} processes")
    if not 0 < s.mqtt_port < 65536:
        problems.append(f"mqtt_port must be a TCP port (1-65535), got {s.mqtt_port}")
    if s.streets_total is not None and s.streets_total < 1:
        problems.append(f"streets_total must be >= 1, got {s.streets_total}")
    if s.process_id is not None and s.process_id < 0:
        problems.append(f"process_id must be >= 0, got {s.process_id}")
    return problems


def min_time_of(s: Settings) -> datetime:
    """The ``min_time`` setting as an aware datetime (a time without a zone is an error: its instant is unknown)."""
    try:
        moment = datetime.fromisoformat(s.min_time.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = f"min_time {s.min_time!r} must be an ISO 8601 time with a time zone, e.g. 1990-01-01T00:00:00Z"
        raise ConfigError(msg)
    return moment


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    /,
    **overrides: Any,
) -> Settings:
    """Defaults < YAML file < ``VITALS_<FIELD>`` environment < explicit overrides (None means unset)."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            msg = f"cannot read config file {path}: {exc}"
            raise ConfigError(msg) from exc
        if not isinstance(data, Mapping):
            msg = f"config file {path} must be a mapping of setting: value"
            raise ConfigError(msg)
        unknown = sorted(set(map(str, data)) - set(_FIELDS))
        if unknown:
            msg = f"config file {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}"
            raise ConfigError(msg)
        values.update({k: _coerce(k, v) for k, v in data.items()})
    env = os.environ if environ is None else environ
    for name in _FIELDS:
        key = f"VITALS_{name.upper()}"
        if key in env:
            values[name] = _coerce(name, env[key])
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    return validate(Settings(**values))
