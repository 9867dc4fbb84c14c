"""The old import path of :mod:`vitals.detectors.window_forest` (renamed in issue 13), kept only so that window
models saved before the rename load: skops records ``vitals.detectors.window_model.WindowFeatureModel``. New code
imports from :mod:`vitals.detectors.window_forest`."""

from vitals.detectors.window_forest import WindowFeatureModel

__all__ = ["WindowFeatureModel"]
