"""Extension points by name: detectors, calibrators, trainers and window models.

* ``DETECTORS``: streaming detectors (:class:`~vitals.detectors.base.Detector`: ``fit(..., n_series=N)``,
  ``update_score``), usable by the flow, the NAB backtest and :func:`~vitals.detectors.notebook.score_series`;
* ``CALIBRATORS``: raw score -> calibrated score, monotone (offline ``fit/transform`` or streaming
  ``allocate/update``);
* ``TRAINERS``: `vitals train` families (``fit(data, catalog, progress) -> (model, card)``); the city window
  model (:class:`~vitals.scoring.city_window_model.CityWindowModel`) is built by the ``window_model`` trainer;
* ``WINDOW_MODELS``: models scored at window close (``fit(series, ts_ns, values, n_series=N)``,
  ``update(...) -> WindowScores``), not per reading, so not detectors.

Each registry (:class:`vitals.plugins.Registry`) maps a short name to ``"module:attribute"``; the module is
imported only when the name is used, so listing names costs nothing and registering creates no import cycle.
Built-ins are listed below; a plug-in adds its own with :meth:`Registry.register` (a decorator or a call)
before it is used::

    from vitals.detectors.registry import DETECTORS

    @DETECTORS.register("my_detector")
    class MyDetector(Detector): ...

    det = DETECTORS.create("my_detector", threshold=3.0)

The contract suite (``tests/detectors/test_contract.py``) runs over every registered name, so a new detector
cannot skip it.
"""

from __future__ import annotations

from typing import Any

from vitals.plugins import Registry

__all__ = ["CALIBRATORS", "DETECTORS", "TRAINERS", "WINDOW_MODELS", "Registry"]

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
