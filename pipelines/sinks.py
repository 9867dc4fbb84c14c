"""Bytewax sinks that hand each batch of items to a library callback (exporter hub, dead letters, history)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition


class _CallbackPartition(StatelessSinkPartition[Any]):
    def __init__(self, callback: Callable[[list[Any]], None]) -> None:
        self._callback = callback

    def write_batch(self, items: list[Any]) -> None:
        if items:
            self._callback(items)


class CallbackSink(DynamicSink[Any]):
    """Calls ``callback(items)`` on the worker that produced the items (no exchange between workers)."""

    def __init__(self, callback: Callable[[list[Any]], None]) -> None:
        self.callback = callback

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CallbackPartition:
        return _CallbackPartition(self.callback)
