"""One frozen settings object, built from defaults, an optional YAML file and ``VITALS_*`` environment
variables (in that order of precedence, lowest first), then command-line options. Nothing here reads the
environment or the disk at import time: call :func:`load_settings`.

Sources and sinks have their own sections, one frozen dataclass each, registered by name
(:data:`vitals.sources.registry.SOURCES`, :data:`vitals.stream.sinks.SINKS`)::

    source: mqtt
    sources:
      mqtt: {host: broker.city, port: 8883, ca_file: ca.crt}
    sinks:
      my_sink: {path: var/out.csv}      # a sink named in this section is on

A section key can also be given flat as ``<name>_<key>`` (``mqtt_host: ...`` in the file, ``VITALS_MQTT_HOST``,
``--mqtt-host``), which is how the command-line flags fill the sections; ``path`` and ``seed`` are the file
replay's and the simulator's. An unknown section or key is a one-line :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from vitals.errors import ConfigError
from vitals.plugins import Registry, coerce, field_names, section_from
from vitals.sources.registry import SOURCES
from vitals.stream.sinks import SINKS, sink_problems
from vitals.yaml_text import load_yaml, yaml_problem


@dataclass(frozen=True)
class Settings:
    # catalog
    catalog: str | None = None          # path of a catalog file; None = the shipped model city
    streets_total: int | None = None    # scale the generated streets (None = 1,031)
    # source
    source: str = "simulator"           # a name of vitals.sources.registry.SOURCES: simulator | file | mqtt | kafka
    # each source's own settings by name (section ``sources``), e.g. sources["mqtt"].host; a source without an
    # entry has its defaults (see source_settings)
    sources: Mapping[str, Any] = field(default_factory=dict)
    speed: float = 60.0                 # simulated/replayed seconds per wall second (0 = as fast as possible)
    # a paced replay or simulation (file, simulator) runs as fast as possible until this event time (ISO 8601 with a
    # time zone), then at ``speed``: the state warms up on the hours before a drill
    pace_from: str | None = None
    batch_size: int = 5000
    partitions: int = 4                 # source partitions (fixed at first start when recovery is on)
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
    # sinks by name (section ``sinks``), each on: the history (history_dir ...) and plug-ins
    sinks: Mapping[str, Any] = field(default_factory=dict)
    # modules imported before the sections are read: they register sources, sinks, detectors (docs/extending.md)
    plugins: tuple[str, ...] = field(default_factory=tuple)
    recovery_dir: str | None = None     # Bytewax recovery; None = no recovery
    snapshot_interval_s: float = 1.0    # epoch length with recovery on
    models_dir: str | None = None       # None: models/ next to the catalog (the shipped ones for the shipped catalog)
    scoring: bool = True                # anomaly scores, expected band and forecasts in the flow
    # planned works (YAML, vitals.planned_works): readings the anomaly detector does not learn from; followed live
    planned_works: str | None = None
    # cluster
    workers: int = 1
    process_id: int | None = None
    addresses: tuple[str, ...] = field(default_factory=tuple)

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given (non-None) changes, validated; section keys may be given flat
        (``mqtt_host=...``, ``path=...``)."""
        values: dict[str, Any] = {}
        raw: dict[str, dict[str, dict[str, Any]]] = {"sources": {}, "sinks": {}}
        for key, value in changes.items():
            if value is not None and not _put(values, raw, key, value):
                msg = f"unknown setting {key}"
                raise ConfigError(msg)
        merged = {kind: {**getattr(self, kind)} for kind in raw}
        for kind, by_name in raw.items():
            registry = _SECTIONS[kind]
            for name, items in by_name.items():
                old = merged[kind].get(name)
                current = dataclasses.asdict(old) if old is not None else {}
                merged[kind][name] = section_from(registry.get(name), {**current, **items}, f"{kind}.{name}")
        return validate(dataclasses.replace(self, **values, sources=merged["sources"], sinks=merged["sinks"]))

    def source_settings(self, name: str | None = None) -> Any:
        """The settings of source ``name`` (default: the selected source): its section, else its defaults."""
        name = name or self.source
        found = self.sources.get(name)
        return found if found is not None else SOURCES.get(name)()


_FIELDS = {f.name: f for f in fields(Settings) if f.name not in ("sources", "sinks")}
_SECTIONS: dict[str, Registry[Any]] = {"sources": SOURCES, "sinks": SINKS}
# flat keys of a section that do not start with its name
_ALIASES = {"path": ("sources", "file", "path"), "seed": ("sources", "simulator", "seed")}
_SECONDS = ("speed", "allowed_lateness_s", "max_future_s", "snapshot_interval_s")


def _coerce(name: str, raw: Any) -> Any:
    """Convert a text or YAML value to the field's type, with a clear error."""
    return coerce(name, _hints()[name], raw)


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def validate(s: Settings) -> Settings:
    """Every problem of the settings in one :class:`ConfigError` (one line)."""
    problems = [*_source_problems(s), *_number_problems(s)]
    if problems:
        msg = "invalid settings: " + "; ".join(problems)
        raise ConfigError(msg)
    return s


def _source_problems(s: Settings) -> list[str]:
    problems = []
    if s.source not in SOURCES:
        problems.append(f"source={s.source!r} must be one of {', '.join(SOURCES.names())}")
    else:
        check = getattr(s.source_settings(), "problems", None)
        problems.extend(check() if check is not None else [])
    for name, sink in s.sinks.items():
        problems.extend(sink_problems(name, sink))
    for a in s.addresses:
        host, _, port = a.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            problems.append(f"address {a!r} must be host:port")
    if len(set(s.addresses)) < len(s.addresses):
        problems.append(f"addresses name one process twice ({';'.join(s.addresses)}): one host:port per process")
    if s.process_id is not None and not s.addresses:  # it ran alone over every partition: the input twice
        problems.append(f"process_id {s.process_id} needs addresses (-a H:P;H:P): every process of the cluster")
    if s.process_id is not None and s.addresses and not 0 <= s.process_id < len(s.addresses):
        problems.append(f"process_id must be between 0 and {len(s.addresses) - 1} (one per address), "
                        f"got {s.process_id}")
    problems.extend(_port_clashes(s))
    return problems


_ANY_HOST = frozenset({"", "0.0.0.0", "::", "[::]"})


def _port_clashes(s: Settings) -> list[str]:
    """Process ``j`` serves /metrics on ``metrics_port + j`` on its host, where the cluster address of a process
    ``k`` may hold the same port: one of the two would fail to listen once started (Timely with a traceback)."""
    if not s.metrics_port or not s.addresses:
        return []
    hosts = [a.rpartition(":")[0] for a in s.addresses]
    problems = []
    for k, address in enumerate(s.addresses):
        host, _, port = address.rpartition(":")
        for j, metrics_host_of in enumerate(hosts):
            same_place = metrics_host_of == host and (s.metrics_host in _ANY_HOST | {host} or host in _ANY_HOST)
            if port.isdigit() and s.metrics_port + j == int(port) and same_place:
                problems.append(f"metrics_port {s.metrics_port}: process {j} serves /metrics on port "
                                f"{s.metrics_port + j}, the port of process {k}'s cluster address {address}; "
                                "choose a metrics port outside the cluster's ports")
    return problems


MAX_PARTITIONS = 4096  # source partitions and series shards: a typo (100000) ran for ever before its first reading


def _number_problems(s: Settings) -> list[str]:
    problems = []
    for name in ("batch_size", "partitions", "shards", "workers"):
        if getattr(s, name) < 1:
            problems.append(f"{name} must be >= 1, got {getattr(s, name)}")
    for name in ("partitions", "shards"):
        if getattr(s, name) > MAX_PARTITIONS:
            problems.append(f"{name} must be <= {MAX_PARTITIONS:,}, got {getattr(s, name):,} (each is a Bytewax "
                            "partition with its own state and its own work at every step: 1,024 shards already "
                            "replay the city ~10x slower than 4)")
    for name in _SECONDS:
        if not math.isfinite(getattr(s, name)):
            problems.append(f"{name} must be a finite number, got {getattr(s, name)}")
    if s.speed < 0:
        problems.append(f"speed must be >= 0 (0 = as fast as possible), got {s.speed}")
    if s.dead_letter_max_entries < 0 or s.dead_letter_max_mb < 0:
        problems.append("dead_letter_max_entries and dead_letter_max_mb must be >= 0 (0 = no limit)")
    for check in (min_time_of, pace_from_of):
        try:
            check(s)
        except ConfigError as exc:
            problems.append(str(exc))
    if s.pace_from is not None and (s.speed <= 0 or s.source not in {"file", "simulator"}):
        problems.append("pace_from applies to a paced replay or simulation (source file or simulator, speed > 0)")
    if s.allowed_lateness_s < 0 or s.max_future_s < 0:
        problems.append("allowed_lateness_s and max_future_s must be >= 0")
    if not s.snapshot_interval_s > 0:
        problems.append(f"snapshot_interval_s must be > 0 seconds, got {s.snapshot_interval_s}")
    if not 0 <= s.metrics_port < 65536:
        problems.append(f"metrics_port must be a TCP port (0-65535), got {s.metrics_port}")
    if s.metrics_port and s.addresses and s.metrics_port + len(s.addresses) - 1 > 65535:
        problems.append(f"metrics_port + process id must stay a TCP port (<= 65535) for {len(s.addresses)} processes")
    if s.streets_total is not None and s.streets_total < 1:
        problems.append(f"streets_total must be >= 1, got {s.streets_total}")
    if s.process_id is not None and s.process_id < 0:
        problems.append(f"process_id must be >= 0, got {s.process_id}")
    return problems


def min_time_of(s: Settings) -> datetime:
    """The ``min_time`` setting as an aware datetime (a time without a zone is an error: its instant is unknown)."""
    return _aware_time("min_time", s.min_time, "1990-01-01T00:00:00Z")


def pace_from_of(s: Settings) -> datetime | None:
    """The ``pace_from`` setting as an aware datetime (None: paced from the first reading)."""
    return None if s.pace_from is None else _aware_time("pace_from", s.pace_from, "2025-06-02T08:00:00+08:00")


def _aware_time(name: str, text: str, example: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        msg = f"{name} {text!r} must be an ISO 8601 time with a time zone, e.g. {example}"
        raise ConfigError(msg)
    return moment


def _flat(key: str) -> tuple[str, str, str] | None:
    """(section kind, name, key) of a flat section key such as ``mqtt_host``; None if it is none."""
    if key in _ALIASES:
        return _ALIASES[key]
    for kind, registry in _SECTIONS.items():
        for name in sorted(registry.names(), key=len, reverse=True):
            if key.startswith(name + "_"):
                return kind, name, key[len(name) + 1:]
    return None


def _put(values: dict[str, Any], raw: dict[str, dict[str, dict[str, Any]]], key: str, value: Any) -> bool:
    """File the value of a top-level or flat section key; False if the key is neither."""
    if key in _FIELDS:
        values[key] = _coerce(key, value)
        return True
    hit = _flat(key)
    if hit is None:
        return False
    kind, name, inner = hit
    raw[kind].setdefault(name, {})[inner] = value
    return True


def _load_file(path: str | Path) -> Mapping[str, Any]:
    try:
        data = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        msg = f"cannot read config file {path}: {exc}"
        raise ConfigError(msg) from exc
    except yaml.YAMLError as exc:
        msg = f"config file {path} is not valid YAML: {yaml_problem(exc)}"
        raise ConfigError(msg) from exc
    if not isinstance(data, Mapping):
        msg = f"config file {path} must be a mapping of setting: value"
        raise ConfigError(msg)
    return data


def import_plugins(modules: list[str]) -> None:
    """Import the plug-in modules (each registers its sources, sinks or detectors when imported)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            msg = f"plugin {module}: cannot import it ({exc}); is it on PYTHONPATH?"
            raise ConfigError(msg) from exc


def _read_file(path: str | Path, data: Mapping[str, Any], values: dict[str, Any],
               raw: dict[str, dict[str, dict[str, Any]]]) -> None:
    unknown = []
    for key, value in data.items():
        if key in _SECTIONS:
            for name, items in _section_items(path, str(key), value):
                raw[str(key)].setdefault(name, {}).update(items)
        elif not _put(values, raw, str(key), value):
            unknown.append(str(key))
    if unknown:
        known = [*_FIELDS, *_SECTIONS]
        msg = f"config file {path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        raise ConfigError(msg)
    for kind, by_name in raw.items():  # unknown keys of a section: named with the file
        for name, items in by_name.items():
            section_from(_SECTIONS[kind].get(name), items, f"config file {path}: {kind}.{name}")


def _section_items(path: str | Path, kind: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
    registry = _SECTIONS[kind]
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping | None) for v in value.values()):
        msg = f"config file {path}: {kind} must map a name ({', '.join(registry.names())}) to its settings"
        raise ConfigError(msg)
    for name in value:
        if name not in registry:
            msg = f"config file {path}: {kind}: unknown {registry.kind} {name!r}; known: {', '.join(registry.names())}"
            raise ConfigError(msg)
    return [(str(name), dict(items or {})) for name, items in value.items()]


def _read_environ(env: Mapping[str, str], values: dict[str, Any], raw: dict[str, dict[str, dict[str, Any]]]) -> None:
    """``VITALS_<FIELD>``, ``VITALS_PATH``/``VITALS_SEED`` and ``VITALS_<NAME>_<KEY>`` for the keys a source
    or sink has (other variables, e.g. ``VITALS_MQTT_PASSWORD``, are not settings); a settings class is imported
    only when a variable names it."""
    for name in [*_FIELDS, *_ALIASES]:
        key = f"VITALS_{name.upper()}"
        if key in env:
            _put(values, raw, name, env[key])
    for kind, registry in _SECTIONS.items():
        for name in registry.names():
            prefix = f"VITALS_{name.upper()}_"
            present = [k for k in env if k.startswith(prefix)]
            if present:
                keys = set(field_names(registry.get(name)))
                for k in present:
                    inner = k[len(prefix):].lower()
                    if inner in keys:
                        raw[kind].setdefault(name, {})[inner] = env[k]


def load_settings(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    /,
    *,
    defaults: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults < ``defaults`` (a command's own, e.g. ``vitals replay``'s speed 0) < YAML file <
    ``VITALS_<FIELD>`` environment < explicit overrides (None means unset)."""
    values: dict[str, Any] = {}
    raw: dict[str, dict[str, dict[str, Any]]] = {"sources": {}, "sinks": {}}
    for key, value in (defaults or {}).items():
        _put(values, raw, key, value)
    env = os.environ if environ is None else environ
    data = _load_file(path) if path is not None else {}
    plugins = [data.get("plugins"), env.get("VITALS_PLUGINS"), overrides.get("plugins")]
    import_plugins([m for given in plugins if given for m in _coerce("plugins", given)])
    if path is not None:
        _read_file(path, data, values, raw)
    _read_environ(env, values, raw)
    for key, value in overrides.items():
        if value is not None and not _put(values, raw, key, value):
            msg = f"unknown setting {key}"
            raise ConfigError(msg)
    sections = {kind: {name: section_from(_SECTIONS[kind].get(name), items, f"{kind}.{name}")
                       for name, items in by_name.items()} for kind, by_name in raw.items()}
    return validate(Settings(**values, sources=sections["sources"], sinks=sections["sinks"]))
