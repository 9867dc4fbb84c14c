"""Early warning: forecasts per series at a few horizons, predicted warning levels, seconds to each threshold
crossing and an explanation, from scikit-learn regressors per indicator family on lag, trend, calendar and
seasonal features. See ``docs/models.md``."""

from vitals.forecasting.crossing import seconds_to_thresholds
from vitals.forecasting.features import FEATURE_KIND, FEATURES
from vitals.forecasting.grid import LagBuffer, SeriesGrid, forward_fill
from vitals.forecasting.model import EarlyWarningForecaster, Forecast

__all__ = [
    "FEATURES", "FEATURE_KIND", "EarlyWarningForecaster", "Forecast", "LagBuffer", "SeriesGrid",
    "forward_fill", "seconds_to_thresholds",
]
