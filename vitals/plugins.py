"""Extension points by name, and their settings sections.

A :class:`Registry` maps a short name to ``"module:attribute"``; the module is imported only when the name is
used, so listing names costs nothing and registering creates no import cycle. A plug-in adds its own entry with
:meth:`Registry.register` (a decorator or a call) before it is used. The registries: detectors, calibrators,
trainers and window models (:mod:`vitals.detectors.registry`), sources (:mod:`vitals.sources.registry`) and
sinks (:mod:`vitals.stream.sinks`); docs/extending.md walks through adding one of each.

Sources and sinks are registered by their settings class, a frozen dataclass whose fields are the keys of
their section in the config file (``sources: {mqtt: {host: ...}}``); :func:`section_from` reads such a
section with the field types, and names an unknown key in one line.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from vitals.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> factories (classes), resolved lazily from ``"module:attribute"`` paths."""

    def __init__(self, kind: str, builtins: dict[str, str]) -> None:
        self.kind = kind
        self._paths: dict[str, str] = dict(builtins)
        self._loaded: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T] | None = None) -> Any:
        """Register ``factory`` under ``name``; without ``factory`` returns a decorator."""
        def add(f: Callable[..., T]) -> Callable[..., T]:
            if name in self._paths or name in self._loaded:
                msg = f"{self.kind} {name!r} is already registered; choose another name"
                raise ConfigError(msg)
            self._loaded[name] = f
            return f
        return add if factory is None else add(factory)

    def unregister(self, name: str) -> None:
        """Forget a name added with :meth:`register` (tests, notebooks); built-ins stay."""
        if name not in self._paths:
            self._loaded.pop(name, None)

    def names(self) -> list[str]:
        return sorted({*self._paths, *self._loaded})

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name`` (imports its module on first use)."""
        if name not in self._loaded:
            if name not in self._paths:
                msg = f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}"
                raise ConfigError(msg)
            module, _, attribute = self._paths[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]

    def create(self, name: str, **params: Any) -> T:
        """A new instance: ``get(name)(**params)``."""
        return self.get(name)(**params)

    def __contains__(self, name: object) -> bool:
        return name in self._paths or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def field_names(cls: Any) -> list[str]:
    """The keys of a settings section: the fields of its frozen dataclass."""
    return [f.name for f in dataclasses.fields(cls)]


def coerce(name: str, hint: Any, raw: Any) -> Any:
    """A text (environment, command line) or YAML value converted to the field type ``hint`` (str, int, float,
    bool, tuple[str, ...], or one of them | None), with a one-line error."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if raw is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if raw is None:
        return raw
    try:
        if hint is bool:
            return _bool(raw)
        if typing.get_origin(hint) is tuple:
            items = raw.replace(",", ";").split(";") if isinstance(raw, str) else list(raw)
            return tuple(str(a).strip() for a in items if str(a).strip())
        if hint in (int, float, str):
            if hint is int and isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            return hint(raw)
    except (TypeError, ValueError) as exc:
        msg = f"setting {name}={raw!r} is not a valid {getattr(hint, '__name__', hint)}"
        if hint is bool:
            msg += " (true/false, yes/no, on/off or 1/0)"
        raise ConfigError(msg) from exc
    return raw


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _bool(raw: Any) -> bool:
    """A switch: true/yes/on/1 or false/no/off/0 (any case); anything else (``ture``, ``3``, ``maybe``) is an
    error, not off: a mistyped ``scoring: ture`` turned scoring off without a word."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(raw)


def section_from(cls: Any, values: Mapping[str, Any], where: str) -> Any:
    """An instance of the settings dataclass ``cls`` from ``values`` (a config-file section, environment or
    command-line values); ``where`` names the section in errors (e.g. ``sources.mqtt``)."""
    hints = typing.get_type_hints(cls)
    known = field_names(cls)
    unknown = sorted(set(map(str, values)) - set(known))
    if unknown:
        msg = f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
        raise ConfigError(msg)
    return cls(**{k: coerce(f"{where}.{k}", hints[k], v) for k, v in values.items()})
