"""The old import path of :mod:`vitals.scoring.city_window_model` (renamed in issue 13), kept only so that window
models saved before the rename load: skops records ``vitals.scoring.window_model.CityWindowModel``. New code
imports from :mod:`vitals.scoring.city_window_model`."""

from vitals.scoring.city_window_model import CityWindowModel

__all__ = ["CityWindowModel"]
