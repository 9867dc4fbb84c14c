"""Hot reload: the running pipeline polls the promoted pointers and picks up a newly promoted model.

:meth:`RegistryWatcher.poll` costs one ``stat`` per family (cheap enough for every window close); only when a
pointer file changed (mtime, inode or size: the registry replaces it atomically) is the promoted artifact
loaded. A version that fails to load is logged, reported to ``on_error(family, version, error)`` (the exporter's
``vitals_model_load_failed``) and skipped; the model in use stays. The watcher pickles
(for Bytewax recovery snapshots) without its models: after a restore the next poll loads them again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vitals.errors import RegistryError
from vitals.metric_names import MODEL_INFO
from vitals.registry.store import ModelRegistry

log = logging.getLogger(__name__)

LoadErrorHook = Callable[[str, str, Exception], None]

StatKey = tuple[int, int, int]


class RegistryWatcher:
    """Keeps the promoted model of each watched family loaded, reloading when the pointer changes."""

    def __init__(self, registry: ModelRegistry, families: Iterable[str], min_interval_s: float = 0.0,
                 on_error: LoadErrorHook | None = None, *, arrays: bool = False) -> None:
        self.registry = registry
        self.arrays = arrays  # load array forms where current (scoring only: vitals.registry.arrays)
        self.on_error = on_error
        self.families = tuple(families)
        self.min_interval_s = min_interval_s
        self._models: dict[str, Any] = {}
        self._versions: dict[str, str] = {}
        self._seen: dict[str, StatKey | None] = {}
        self._last_poll = float("-inf")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_models={}, _versions={}, _seen={}, _last_poll=float("-inf"), on_error=None)
        return state

    def _stat(self, family: str) -> StatKey | None:
        try:
            st = self.registry.pointer_path(family).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def poll(self) -> dict[str, str]:
        """Reload families whose promoted pointer changed; returns {family: newly loaded version}."""
        now = time.monotonic()
        if now - self._last_poll < self.min_interval_s:
            return {}
        self._last_poll = now
        changed: dict[str, str] = {}
        for family in self.families:
            key = self._stat(family)
            if family in self._seen and key == self._seen[family]:
                continue
            self._seen[family] = key
            version = self.registry.promoted(family) if key is not None else None
            if version is None or version == self._versions.get(family):
                continue
            try:
                model = self.registry.load(family, version, arrays=getattr(self, "arrays", False))
            except RegistryError as exc:
                log.error("keeping %s %s: cannot load promoted %s: %s",
                          family, self._versions.get(family, "(none)"), version, exc)
                if self.on_error is not None:
                    self.on_error(family, version, exc)
                continue
            self._models[family], self._versions[family] = model, version
            changed[family] = version
            log.info("loaded %s %s", family, version)
        return changed

    def model(self, family: str) -> Any | None:
        """The loaded promoted model of ``family`` (None before one is promoted and polled)."""
        return self._models.get(family)

    def version(self, family: str) -> str | None:
        return self._versions.get(family)

    def model_info(self) -> dict[str, str]:
        """{family: version in use} for ``vitals_model_info{family,version}``."""
        return dict(self._versions)


class ModelInfoCollector(Collector):
    """Renders ``vitals_model_info{family,version} 1`` for the models a watcher has in use."""

    def __init__(self, watcher: RegistryWatcher) -> None:
        self.watcher = watcher

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(MODEL_INFO, "Model version in use per model family (1 = in use)",
                              labels=["family", "version"])
        for family, version in sorted(self.watcher.model_info().items()):
            g.add_metric([family, version], 1.0)
        yield g
