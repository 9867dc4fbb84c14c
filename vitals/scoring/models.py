"""The models the flow uses, from the registry, hot-reloaded: one holder per process, shared by its shards."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from vitals.registry import ModelRegistry, RegistryWatcher

log = logging.getLogger(__name__)

FORECASTER = "forecaster"
WINDOW_MODEL = "window_model"


class RegistryModels:
    """Polls the registry's promoted pointers (at most every ``poll_s``; a missing root is no pointer, looked for
    again at the next poll) and hands out the loaded models.

    Not part of any Bytewax snapshot: after a restart the first poll loads the promoted versions again.
    ``on_change(family, version)`` is called after a newly promoted version was loaded (for model info).
    """

    def __init__(self, root: str | Path, *, poll_s: float = 5.0, families: tuple[str, ...] = (FORECASTER, WINDOW_MODEL),
                 on_change: Any = None, on_error: Any = None) -> None:
        self.root = Path(root)
        # the flow only scores: array forms where current (no scikit-learn, scipy or skops to import)
        self.watcher = RegistryWatcher(ModelRegistry(self.root), families, min_interval_s=poll_s, on_error=on_error,
                                       arrays=True)
        self.on_change = on_change
        self._lock = threading.Lock()

    def poll(self) -> None:
        with self._lock:  # the watcher keeps to ``poll_s`` itself; a missing root stats as no pointer
            changed = self.watcher.poll()
        for family, version in changed.items():
            log.info("using %s %s from %s", family, version, self.root)
            if self.on_change is not None:
                self.on_change(family, version)

    def forecaster(self) -> Any | None:
        self.poll()
        return self.watcher.model(FORECASTER)

    def window_model(self) -> Any | None:
        self.poll()
        return self.watcher.model(WINDOW_MODEL)

    def model_info(self) -> dict[str, str]:
        return self.watcher.model_info()
