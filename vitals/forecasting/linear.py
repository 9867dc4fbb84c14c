"""A fitted linear regressor as its coefficients: the array form of the forecaster's ``Ridge`` models.

:func:`vitals.forecasting.model._predict_rows` applies a linear model as ``x @ coef_ + intercept_`` (the same
arithmetic as ``Ridge.predict``), so a regressor holding the two arrays predicts exactly what the fitted ``Ridge``
did, without importing scikit-learn (:mod:`vitals.registry.arrays` builds it from a saved model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.errors import ModelError


@dataclass
class LinearRegressor:
    coef_: npt.NDArray[np.float64]
    intercept_: float

    def check(self) -> LinearRegressor:
        if self.coef_.ndim != 1 or self.coef_.dtype != np.float64 or not np.isfinite(self.coef_).all():
            msg = "malformed linear regressor: coefficients must be one finite float64 row"
            raise ModelError(msg)
        return self

    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(x @ self.coef_ + float(self.intercept_), dtype=np.float64)
