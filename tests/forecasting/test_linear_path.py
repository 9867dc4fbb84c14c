"""The flow's compiled forecast of linear families (:mod:`vitals.forecasting.linear_path`) against the numpy path
(``_predict_values(..., compiled=False)``): values, warning values, expected values bit for bit, on random windows
(NaN and infinite values, ramps the guard follows, float32 and float64), for a Ridge forecaster fitted here and the
shipped promoted one (arrays), with a family left without regressors."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.forecasting import linear_path
from vitals.forecasting.model import EarlyWarningForecaster
from vitals.scoring import RegistryModels

SHIPPED = Path(__file__).resolve().parents[2] / "models"
START_NS = 1_748_822_400 * 10**9  # 2025-06-02 00:00 UTC


@pytest.fixture(scope="module")
def fitted(small_catalog: Catalog) -> EarlyWarningForecaster:
    from tests.forecasting.test_forecasting import ramp_grid

    return EarlyWarningForecaster(max_rows=20_000).fit(ramp_grid(small_catalog), small_catalog)


@pytest.fixture(scope="module")
def shipped() -> EarlyWarningForecaster:
    model = RegistryModels(SHIPPED, poll_s=3600.0).forecaster()
    assert isinstance(model, EarlyWarningForecaster)
    return model


def _windows(catalog: Catalog, model: EarlyWarningForecaster, seed: int, n: int) -> tuple[np.ndarray, ...]:
    """Windows around each indicator's seasonal value: noise, ramps either way, NaN gaps, whole NaN rows, infinities."""
    rng = np.random.default_rng(seed)
    ind = rng.integers(0, catalog.n_indicators, n).astype(np.int64)
    width = int(model.window_steps) + 1
    scale = np.maximum(np.abs(catalog.thresholds_array[ind]).max(axis=1, initial=1.0, where=np.isfinite(
        catalog.thresholds_array[ind])), 1.0)
    ramp = rng.choice([-1.0, 0.0, 1.0], n)[:, None] * rng.exponential(0.05, n)[:, None] * np.arange(width)[None, :]
    window = scale[:, None] * (0.5 + ramp + rng.normal(0, rng.choice([0.001, 0.05]), (n, width)))
    window[rng.random((n, width)) < 0.05] = np.nan
    window[rng.random(n) < 0.05] = np.nan
    window[rng.random((n, width)) < 0.005] = np.inf
    now = START_NS + int(rng.integers(0, 14 * 86400)) * 10**9
    dtype = np.float32 if rng.random() < 0.7 else np.float64
    return window.astype(dtype), ind, now


def _same(model: EarlyWarningForecaster, catalog: Catalog, window: np.ndarray, ind: np.ndarray, now: int) -> None:
    assert linear_path.applies(model, window, np.full(ind.size, now, dtype=np.int64))
    got = model._predict_values(catalog, window, ind, now, explain=False)
    want = model._predict_values(catalog, window, ind, now, explain=False, compiled=False)
    assert len(got) == len(want) == 5
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert g.tobytes() == w.tobytes()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400))
def test_fitted_ridge_equals_the_numpy_path(fitted: EarlyWarningForecaster, small_catalog: Catalog, seed: int,
                                            n: int) -> None:
    _same(fitted, small_catalog, *_windows(small_catalog, fitted, seed, n))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3000))
def test_shipped_model_equals_the_numpy_path(shipped: EarlyWarningForecaster, catalog: Catalog, seed: int,
                                             n: int) -> None:
    _same(shipped, catalog, *_windows(catalog, shipped, seed, n))


def test_a_family_without_regressors_and_non_finite_rows(fitted: EarlyWarningForecaster,
                                                        small_catalog: Catalog) -> None:
    """Rows of a family the model has no regressor for keep a change of 0; rows with non-finite features are left
    out of their family's matrix (NaN): both as the numpy path, and the guard fires on some rows (not trivial)."""
    model = copy.deepcopy(fitted)
    model.regressors_.pop(next(iter(model.regressors_)))
    window, ind, now = _windows(small_catalog, model, 7, 2000)
    _same(model, small_catalog, window, ind, now)
    values, warn, *_ = model._predict_values(small_catalog, window, ind, now, explain=False)
    assert np.isnan(values).any() and np.isfinite(values).any()
    assert (values != warn)[np.isfinite(values)].any()  # the guard's trend goes further somewhere


def test_other_shapes_take_the_numpy_path(fitted: EarlyWarningForecaster, small_catalog: Catalog) -> None:
    window, ind, now = _windows(small_catalog, fitted, 3, 50)
    times = np.full(ind.size, now, dtype=np.int64)
    assert not linear_path.applies(fitted, window, times + np.arange(ind.size))  # rows at different times
    assert not linear_path.applies(fitted, np.zeros(window.shape, dtype=np.int64), times)
    guardless = copy.deepcopy(fitted)
    guardless.trend_guard = 0.0
    assert not linear_path.applies(guardless, window, times)


@pytest.mark.parametrize("width", range(8, 16))
def test_row_means_are_numpys(width: int) -> None:
    """The compiled window mean sums as numpy does (a tree of eight, then in order): bit for bit on values of every
    magnitude, signed zeros, infinities and NaN."""
    from vitals.forecasting.predict_kernel import row_means

    rng = np.random.default_rng(width)
    z = rng.normal(size=(20_000, width)) * 10.0 ** rng.integers(-8, 9, size=(20_000, width))
    z[rng.random(z.shape) < 0.01] = -0.0
    z[rng.random(z.shape) < 0.002] = np.inf
    z[rng.random(z.shape) < 0.002] = np.nan
    assert row_means(z).tobytes() == z.mean(axis=1).tobytes()
