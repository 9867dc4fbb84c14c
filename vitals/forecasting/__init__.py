"""Early warning: forecasts per series at a few horizons, predicted warning levels, seconds to each threshold
crossing and an explanation, from scikit-learn regressors per indicator family on lag, trend, calendar and
seasonal features. See ``docs/models.md``.

Import from the modules (``vitals.forecasting.model``, ``.grid``, ``.crossing``, ``.cadence`` ...): the package
itself imports nothing, so the time geometry (:mod:`vitals.forecasting.cadence`) is cheap to read for the
exporter, alert rules and dashboards (no scikit-learn)."""
