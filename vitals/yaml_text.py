"""Reading the YAML files people write (settings, catalogs): safe, strict about repeated keys, errors in one line.

PyYAML keeps the last of two equal keys in a mapping without a word, so a setting written twice in a config
file (``batch_size: 100`` near the top, ``batch_size: 20`` added at the bottom) or a second ``thresholds:`` line
in a catalog entry silently replaced the first. :func:`load_yaml` refuses a repeated key and names both lines;
:func:`yaml_problem` turns PyYAML's multi-line error (with a source excerpt and caret) into one line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

_MERGE = "tag:yaml.org,2002:merge"


def _check_keys(loader: Any, node: MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: PyYAML refuses it itself
            continue
        if first is not None:
            msg = f"found the key {key!r} a second time (first at line {first + 1})"
            raise ConstructorError(None, None, msg, key_node.start_mark)
        seen[key] = key_node.start_mark.line


def _mapping(loader: Any, node: MappingNode) -> dict[Any, Any]:
    _check_keys(loader, node)
    return loader.construct_mapping(node)


class _Strict(yaml.SafeLoader):
    """The pure-Python safe loader, refusing repeated keys (its errors carry the line and column)."""


_Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

if hasattr(yaml, "CSafeLoader"):
    class _StrictC(yaml.CSafeLoader):
        """libyaml's parser (8x faster on the shipped catalog), refusing repeated keys."""

    _StrictC.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _FAST: type[Any] = _StrictC
else:  # pragma: no cover - PyYAML without libyaml
    _FAST = _Strict


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses a key repeated in one mapping. libyaml's parser when PyYAML has it; a
    document it refuses is parsed again by the pure-Python one, whose error (line and column) is raised."""
    try:
        return yaml.load(text, Loader=_FAST)  # a safe loader (SafeConstructor)
    except yaml.YAMLError:
        if _FAST is _Strict:  # pragma: no cover - PyYAML without libyaml
            raise
    return yaml.load(text, Loader=_Strict)  # a safe loader (SafeConstructor)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: what is wrong and where (line and column, 1-based), without the excerpt."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return " ".join(str(exc).split())
    parts = [p for p in (exc.context, exc.problem) if p]
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(": ".join(parts).split()) + where
