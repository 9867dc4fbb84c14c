"""Extension points by name: detectors, calibrators, trainers and window models.

* ``DETECTORS``: streaming detectors (:class:`~vitals.detectors.base.Detector`: ``fit(..., n_series=N)``,
  ``update_score``), usable by the flow, the NAB backtest and :func:`~vitals.detectors.notebook.score_series`;
* ``CALIBRATORS``: raw score -> calibrated score, monotone (offline ``fit/transform`` or streaming
  ``allocate/update``);
* ``TRAINERS``: `vitals train` families (``fit(data, catalog, progress) -> (model, card)``); the city window
  model (:class:`~vitals.scoring.city_window_model.CityWindowModel`) is built by the ``window_model`` trainer;
* ``WINDOW_MODELS``: models scored at window close (``fit(series, ts_ns, values, n_series=N)``,
  ``update(...) -> WindowScores``), not per reading, so not detectors.

Each registry maps a short name to ``"module:attribute"``; the module is imported only when the name is used,
so listing names costs nothing and registering creates no import cycle. Built-ins are listed below; a plug-in
adds its own with :meth:`Registry.register` (a decorator or a call) before it is used::

    from vitals.detectors.registry import DETECTORS

    @DETECTORS.register("my_detector")
    class MyDetector(Detector): ...

    det = DETECTORS.create("my_detector", threshold=3.0)

The contract suite (``tests/detectors/test_contract.py``) runs over every registered name, so a new detector
cannot skip it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
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


DETECTORS: Registry[Any] = Registry("detector", {
    "default": "vitals.detectors.combined:DefaultDetector",
    "seasonal_baseline": "vitals.detectors.seasonal:SeasonalBaseline",
    "data_quality": "vitals.detectors.data_quality:DataQualityDetector",
    "windowed_gaussian": "vitals.detectors.windowed_gaussian:WindowedGaussianDetector",
    "contextual_novelty": "vitals.detectors.contextual_novelty:ContextualNoveltyDetector",
    "knn_cad": "vitals.detectors.knn_cad:KnnCadDetector",
})

CALIBRATORS: Registry[Any] = Registry("calibrator", {
    "quantile": "vitals.detectors.calibration:QuantileCalibrator",
    "online_tail": "vitals.detectors.calibration:OnlineTailCalibrator",
    "surprise": "vitals.detectors.calibration:SurpriseCalibrator",
})

TRAINERS: Registry[Any] = Registry("trainer", {
    "window_model": "vitals.scoring.training:WindowModelTrainer",
})

WINDOW_MODELS: Registry[Any] = Registry("window model", {
    "window_features": "vitals.detectors.window_forest:WindowFeatureModel",
})
