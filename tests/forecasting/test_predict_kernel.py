"""The forecaster's compiled row passes against their numpy references: bit-identical levels and seconds to each
threshold (NaN paths, infinite and unset thresholds, z-score indicators, crossings between horizons) and the trend
guard's warning path (ramps that trigger it, either direction, NaN rows)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.forecasting.crossing import seconds_to_thresholds
from vitals.forecasting.features import FEATURES, Residuals
from vitals.forecasting.model import EarlyWarningForecaster, _levels_and_crossings
from vitals.health.levels import badness, levels_of_badness, oriented_thresholds

HORIZONS = np.array([900.0, 1800.0, 3600.0])


def reference_levels_and_crossings(  # noqa: PLR0917 (the arrays of one forecast)
    catalog: Catalog, ind: npt.NDArray[np.int64], warn_values: npt.NDArray[np.float64],
    expected_at: npt.NDArray[np.float64], last: npt.NDArray[np.float64], expected_now: npt.NDArray[np.float64],
    horizons_s: npt.NDArray[np.float64], max_lookahead_s: float,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """The numpy reference of ``_levels_and_crossings`` (what ``predict`` computed before the kernel)."""
    n, n_h = warn_values.shape
    ind_h = np.repeat(ind, n_h)
    seasonal = SeasonalModel(catalog)
    bad_at = badness(catalog, ind_h, warn_values.ravel(), None, seasonal, expected=expected_at.ravel())
    level = levels_of_badness(catalog, ind_h, bad_at).reshape(n, n_h)
    bad_now = badness(catalog, ind, last, None, seasonal, expected=expected_now)
    secs = seconds_to_thresholds(bad_now, bad_at.reshape(n, n_h), horizons_s, oriented_thresholds(catalog)[ind],
                                 max_lookahead_s)
    return level, secs


def _values(catalog: Catalog, draw: st.DrawFn, ind: int) -> float:
    """A value near one of the indicator's thresholds (either side, either bad direction), or anything."""
    th = catalog.thresholds_array[ind]
    near = [float(t) for t in th if np.isfinite(t)] + [float(catalog.center_array[ind])]
    kind = draw(st.sampled_from(["near", "any", "nan", "inf"]))
    if kind == "nan":
        return float("nan")
    if kind == "inf":
        return draw(st.sampled_from([float("inf"), float("-inf")]))
    if kind == "near" and near:
        return draw(st.sampled_from(near)) + draw(st.sampled_from([-1e-9, 0.0, 1e-9, -0.5, 0.5, -3.0, 3.0]))
    return draw(st.floats(-1e4, 1e4, allow_nan=False))


@st.composite
def paths(draw: st.DrawFn, catalog: Catalog) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(1, 12))
    ind = np.array([draw(st.integers(0, catalog.n_indicators - 1)) for _ in range(n)], dtype=np.int64)
    warn = np.array([[_values(catalog, draw, int(i)) for _ in HORIZONS] for i in ind], dtype=np.float64)
    last = np.array([_values(catalog, draw, int(i)) for i in ind], dtype=np.float64)
    seasonal = SeasonalModel(catalog)
    expected_now = seasonal.base[ind] + np.array([draw(st.floats(-5, 5)) for _ in ind])
    expected_at = seasonal.base[ind][:, None] + np.array([[draw(st.floats(-5, 5)) for _ in HORIZONS] for _ in ind])
    return ind, warn, expected_at, last, expected_now


def _same(got: tuple[np.ndarray, np.ndarray], want: tuple[np.ndarray, np.ndarray]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)  # exact; NaN where NaN


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_kernel_equals_the_numpy_reference(catalog: Catalog, data: st.DataObject) -> None:
    assert catalog.zscore_array.any() and (catalog.direction_array == 0).any()  # every badness branch is drawn
    ind, warn, expected_at, last, expected_now = data.draw(paths(catalog))
    lookahead = data.draw(st.sampled_from([0.0, 3600.0, 21_600.0]))
    args = (catalog, ind, warn, expected_at, last, expected_now, HORIZONS, lookahead)
    _same(_levels_and_crossings(*args), reference_levels_and_crossings(*args))


def test_kernel_on_ramps_crossing_between_horizons(catalog: Catalog) -> None:
    """Paths that rise through every threshold of a bad=up indicator between and beyond the horizons; one that
    falls; one already above: exact seconds from both, and the crossing times the ramp gives."""
    i = int(np.flatnonzero((catalog.direction_array == 1) & ~catalog.zscore_array)[0])
    th = catalog.thresholds_array[i]
    ind = np.full(3, i, dtype=np.int64)
    start = th[0] - (th[1] - th[0])
    rate = (th[3] - start) / 4000.0  # per second: red reached after 4,000 s (extrapolated past the last horizon)
    warn = np.vstack([start + rate * HORIZONS, start - rate * HORIZONS, np.full(3, th[3] + 1.0)])
    last = np.array([start, start, th[3] + 1.0])
    zero = np.zeros(3)
    args = (catalog, ind, warn, np.zeros((3, 3)), last, zero, HORIZONS, 21_600.0)
    level, secs = _levels_and_crossings(*args)
    _same((level, secs), reference_levels_and_crossings(*args))
    np.testing.assert_allclose(secs[0], (th - start) / rate, rtol=1e-9)
    assert np.isinf(secs[1]).all() and (secs[2] == 0).all() and (level[2] == 4).all()


@pytest.fixture(scope="module")
def fitted(small_catalog: Catalog) -> EarlyWarningForecaster:
    from tests.forecasting.test_forecasting import ramp_grid

    return EarlyWarningForecaster(max_rows=20_000).fit(ramp_grid(small_catalog), small_catalog)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40))
def test_guard_kernel_equals_the_numpy_guard(fitted: EarlyWarningForecaster, small_catalog: Catalog, seed: int,
                                             n: int) -> None:
    """The warning path's change without explanations (compiled) is the one the explained prediction computes with
    numpy, bit for bit, on windows that ramp up or down at random rates (the guard fires on many), flat windows and
    NaN rows."""
    rng = np.random.default_rng(seed)
    ind = rng.integers(0, small_catalog.n_indicators, n).astype(np.int64)
    ramp = rng.choice([-1.0, 0.0, 1.0], n)[:, None] * rng.exponential(0.5, n)[:, None] * np.arange(13)[None, :]
    z = ramp + rng.normal(0, rng.choice([0.01, 0.3]), (n, 13))
    z[rng.random(n) < 0.1, -1] = np.nan
    res = Residuals(z=z, expected_now=np.zeros(n), unit=np.ones(n))
    change = rng.normal(0, 2, (n, len(fitted.horizons_s)))
    fast, _ = fitted._guard_trends(res, ind, change, np.zeros((n, len(fitted.horizons_s), 0)))
    slow, _ = fitted._guard_trends(res, ind, change, np.zeros((n, len(fitted.horizons_s), len(FEATURES))))
    assert fast.tobytes() == slow.tobytes()


def test_the_guard_fires_in_the_kernel(fitted: EarlyWarningForecaster, small_catalog: Catalog) -> None:
    """Steep ramps (both directions) take the trend where the regressor predicts less: not a trivial comparison."""
    ind = np.zeros(4, dtype=np.int64)
    z = np.array([[0.0], [0.0], [0.0], [0.0]]) + np.array([[3.0], [-3.0], [0.0], [0.01]]) * np.arange(13)[None, :]
    res = Residuals(z=z, expected_now=np.zeros(4), unit=np.ones(4))
    change = np.zeros((4, len(fitted.horizons_s)))
    fast, _ = fitted._guard_trends(res, ind, change, np.zeros((4, len(fitted.horizons_s), 0)))
    slow, _ = fitted._guard_trends(res, ind, change, np.zeros((4, len(fitted.horizons_s), len(FEATURES))))
    assert fast.tobytes() == slow.tobytes()
    assert (fast[0] > 0).all() and (fast[1] < 0).all() and (fast[2:] == 0).all()


def test_predict_uses_the_kernel_with_the_reference_values(small_catalog: Catalog,
                                                           fitted: EarlyWarningForecaster) -> None:
    """A forecast's levels and seconds are the reference's, applied to its own warning path."""
    from tests.forecasting.test_forecasting import ramp_grid

    grid = ramp_grid(small_catalog)
    model = fitted
    now = int(grid.column_end_ns()[-1])
    metro = small_catalog.indicator_index["metro_load"]  # bad=up, orange at 110 %: ramps of +2 %/step cross it
    ramps = (np.array([[60.0], [90.0], [120.0]]) + 2.0 * np.arange(13)[None, :]).astype(np.float32)
    window = np.vstack([grid.values[:, -13:], ramps])
    ind = np.concatenate([grid.indicator, np.full(3, metro)]).astype(np.int64)
    fc = model.predict_levels(small_catalog, window, ind, now)
    expected_at = np.column_stack([SeasonalModel(small_catalog).expected(ind, np.full(ind.size, now + int(h) * 10**9))
                                   for h in model.horizons_s])
    want = reference_levels_and_crossings(small_catalog, ind, fc.warning_value, expected_at, fc.last, fc.expected_now,
                                          np.asarray(model.horizons_s, dtype=np.float64), model.max_lookahead_s)
    _same((fc.level, fc.seconds_to_level), want)
    assert (fc.level > 0).any() and np.isfinite(fc.seconds_to_level).any()  # the ramp crosses: not a trivial case


@pytest.mark.parametrize("n", [0, 1])
def test_kernel_on_empty_and_single_rows(catalog: Catalog, n: int) -> None:
    ind = np.zeros(n, dtype=np.int64)
    args = (catalog, ind, np.ones((n, 3)), np.zeros((n, 3)), np.ones(n), np.zeros(n), HORIZONS, 21_600.0)
    _same(_levels_and_crossings(*args), reference_levels_and_crossings(*args))
