"""The flow's forecast of linear families at one shared time, in a few compiled passes.

:meth:`vitals.forecasting.model.EarlyWarningForecaster._predict_values` without explanations, for a forecaster whose
regressors are all linear, with the multi-span trend guard, every row at the same time (a forecast tick of the
stream). The same values, bit for bit, as the numpy path, which stays the reference
(``tests/forecasting/test_linear_path.py`` compares them):

- the residuals, features and values are elementwise and computed in compiled passes with numpy's operations in
  numpy's order (:mod:`vitals.forecasting.predict_kernel`); what depends only on (indicator, time) is computed
  once per indicator with the numpy path's own calls (seasonal tables, freshness, calendar);
- the least-squares slopes, the window mean and each family's dot product stay numpy's (BLAS results can depend on
  a row's place in the matrix, so every one is made on the same matrix as the reference makes it: the features of
  each family are written contiguously, in row order, and its block is the matrix the reference gathers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import SeasonalModel, local_hour_and_weekend
from vitals.forecasting.features import expected_table, slope
from vitals.units import NS_PER_S


def applies(model: Any, window: npt.NDArray[np.generic], now: npt.NDArray[np.int64]) -> bool:
    """Whether :func:`linear_values` computes this prediction: linear regressors, the multi-span guard, one time, a
    float32 or float64 window."""
    return (window.dtype in {np.dtype(np.float32), np.dtype(np.float64)} and window.ndim == 2
            and bool(now.size) and bool((now == now[0]).all()) and float(model.trend_guard) > 0
            and hasattr(model, "guard_clips_") and _linear_terms(model) is not None)


def linear_values(
    model: Any, catalog: Catalog, window: npt.NDArray[np.floating], ind: npt.NDArray[np.int64], now_ns: int,
) -> tuple[npt.NDArray[np.float64], ...]:
    """(values (N, H), warning values (N, H), an empty effects array (N, H, 0), expected now (N,), expected at each
    horizon (N, H)): ``_predict_values(..., explain=False)``'s results."""
    from vitals.forecasting.predict_kernel import (  # numba: loaded where forecasts are made
        forecast_values,
        guard_change,
        regressor_change,
        residual_rows,
        row_means,
        sorted_features,
    )

    terms = _linear_terms(model)
    assert terms is not None  # applies() checked it
    code, coefficients, intercepts = terms
    seasonal = SeasonalModel(catalog)
    n, width = window.shape
    n_h = len(model.horizons_s)
    horizons_s = np.asarray(model.horizons_s, dtype=np.int64)
    # what depends on (indicator, time) only, once per indicator: the seasonal value at the window's times and at
    # each horizon (elementwise: the reference's values), the freshness and the calendar of each horizon
    offsets = (np.arange(width, dtype=np.int64) - (width - 1)) * (model.step_s * NS_PER_S)
    targets = now_ns + horizons_s * NS_PER_S
    table = expected_table(seasonal, np.concatenate([now_ns + offsets, targets]))
    at_table = np.ascontiguousarray(table[:, width:])
    fresh = np.minimum(1.0, horizons_s.astype(np.float64)[:, None] / np.maximum(model.cadence_s_, 1.0)[None, :])
    hour, weekend = local_hour_and_weekend(targets, seasonal.local_time())
    angle = 2.0 * np.pi * hour / 24.0
    calendar = np.column_stack([np.sin(angle), np.cos(angle), weekend.astype(np.float64)])
    unit_of = np.asarray(model.unit_, dtype=np.float64)
    z = residual_rows(np.ascontiguousarray(window), np.ascontiguousarray(table[:, :width]), ind, unit_of)
    unit = unit_of[ind]
    expected_now = table[ind, width - 1]
    slopes: dict[int, npt.NDArray[np.float64]] = {width: slope(z)}

    def slope_of(k: int) -> npt.NDArray[np.float64]:  # the slope over the last k values, as the reference takes it
        if k not in slopes:
            slopes[k] = slope(z[:, -k:])
        return slopes[k]

    family_of = np.array([code.get(i.domain, -1) for i in catalog.indicators], dtype=np.int64)[ind]
    order = np.argsort(family_of, kind="stable")  # each family's rows contiguous, in row order
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    x, finite = sorted_features(z[:, -1], z[:, -2] if width > 1 else z[:, -1], slope_of(min(4, width)),
                                slopes[width], row_means(z) if 8 <= width < 16 else z.mean(axis=1), ind, order,
                                np.asarray(model.clips_, dtype=np.float64), expected_now, unit,
                                np.ascontiguousarray(at_table.T), fresh, calendar, width > 1)
    bounds = np.searchsorted(family_of[order], np.arange(len(code) + 1) - 0.5)
    raw = np.zeros((n_h, n))  # each family's dot products, sorted like the features
    all_finite = bool(finite.all())
    for c in code.values():
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi == lo:
            continue
        for k, w in enumerate(coefficients[c]):
            if all_finite or finite[k, lo:hi].all():
                np.matmul(x[k, lo:hi], w, out=raw[k, lo:hi])
            else:  # the reference's matrix: the finite rows only
                ok = finite[k, lo:hi]
                raw[k, lo:hi][ok] = x[k, lo:hi][ok] @ w
    change = regressor_change(raw, position, family_of, intercepts, finite)
    spans = tuple(model.guard_spans)
    guard = np.empty((n, len(spans) + 1))
    guard[:, 0] = z[:, -1]
    for j, s in enumerate(spans):
        guard[:, j + 1] = slope_of(min(s, width - 1) + 1)
    steps = np.asarray(model.horizons_s, dtype=np.float64) / model.step_s
    warn_change = guard_change(guard, model.guard_clips_, ind, float(model.trend_guard), float(model.deviation_guard),
                               change, steps)
    values, warn = forecast_values(z[:, -1].copy(), change, warn_change, ind, unit, at_table,
                                   np.asarray(catalog.valid_min_array, dtype=np.float64),
                                   np.asarray(catalog.valid_max_array, dtype=np.float64))
    return values, warn, np.zeros((n, n_h, 0)), expected_now, at_table[ind]


_Terms = tuple[dict[str, int], list[list[npt.NDArray[np.float64]]], npt.NDArray[np.float64]]
_TERMS: dict[int, tuple[Any, _Terms | None]] = {}


def _linear_terms(model: Any) -> _Terms | None:
    """The family codes (in the regressors' order), per code the coefficients of each horizon's regressor (as the
    reference ravels them) and the intercepts (n_families, H) as the reference's floats; None when a regressor is
    not linear. Kept for the newest model (a tick's model stays the same until a new one is promoted)."""
    kept = _TERMS.get(id(model))
    if kept is not None and kept[0] is model:
        return kept[1]
    terms: _Terms | None = None
    if all(getattr(m, "coef_", None) is not None for ms in model.regressors_.values() for m in ms):
        code = {family: c for c, family in enumerate(model.regressors_)}
        coefficients: list[list[npt.NDArray[np.float64]]] = [[] for _ in code]
        intercepts = np.zeros((len(code), len(model.horizons_s)))
        for family, c in code.items():
            for k, regressor in enumerate(model.regressors_[family]):
                coefficients[c].append(np.ravel(regressor.coef_))
                intercepts[c, k] = float(np.ravel(getattr(regressor, "intercept_", 0.0))[0])
        terms = code, coefficients, intercepts
    _TERMS.clear()
    _TERMS[id(model)] = (model, terms)
    return terms
