"""Forecast features, vectorized over many (series, time) rows at once.

Every feature is in units of the indicator's noise (one seasonal standard deviation, from the catalog), so one
regressor serves all indicators of a family whatever their units. Input is a window of the last
``window_steps + 1`` grid values per row (oldest first, the last column is "now") and the seasonal expected
value at each of those times. The target is the change of the seasonal residual from now to now + horizon,
so a forecast is ``expected(now + h) + noise * (z_now + predicted change)``.

Small and large moves get separate features (the clipped part and the excess beyond the clip), so a linear
model can learn mean reversion for noise and trend extrapolation for a real slow-onset incident.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.seasonality import SeasonalModel, local_hour_and_weekend

NS_PER_S = 1_000_000_000

FEATURES: tuple[str, ...] = (
    "deviation",          # residual now (z), clipped to +-clip_z
    "deviation_excess",   # residual beyond the clip
    "change_5m",          # residual change over the last step, clipped
    "trend_15m",          # least-squares slope of the residual over the last 15 min (z per step), clipped
    "trend_15m_excess",
    "trend_60m",          # slope over the whole window, clipped
    "trend_60m_excess",
    "gap_to_window_mean",  # residual now minus its mean over the window
    "seasonal_change",    # expected(now + h) - expected(now), in noise units
    "deviation_fresh",    # deviation x the chance of a fresh reading by the target time (min(1, h / cadence))
    "seasonal_change_fresh",  # seasonal change x that chance (a stale reading does not follow the season)
    "hour_sin",           # local hour of the target time
    "hour_cos",
    "weekend",            # the target time falls on a weekend
)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURES)}
# Which part of the forecast a feature stands for, for explanations.
FEATURE_KIND: dict[str, str] = {
    "deviation": "deviation", "deviation_excess": "deviation", "gap_to_window_mean": "deviation",
    "change_5m": "trend", "trend_15m": "trend", "trend_15m_excess": "trend", "trend_60m": "trend",
    "trend_60m_excess": "trend", "seasonal_change": "seasonal", "deviation_fresh": "deviation",
    "seasonal_change_fresh": "seasonal", "hour_sin": "calendar", "hour_cos": "calendar",
    "weekend": "calendar",
}


@dataclass(frozen=True)
class FeatureSpec:
    """How features are built (copied from the forecaster's parameters)."""

    step_s: int = 300
    window_steps: int = 12
    clip_z: float = 3.0
    clip_slope: float = 0.5


@dataclass(frozen=True, eq=False)
class Residuals:
    """Seasonal residuals of a batch of windows: z (M, L+1), the expected value now and the noise scale."""

    z: npt.NDArray[np.float64]
    expected_now: npt.NDArray[np.float64]
    noise: npt.NDArray[np.float64]

    def take(self, rows: npt.NDArray[np.integer]) -> Residuals:
        return Residuals(z=self.z[rows], expected_now=self.expected_now[rows], noise=self.noise[rows])


def residuals(
    window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer], now_ns: npt.NDArray[np.int64],
    seasonal: SeasonalModel, spec: FeatureSpec,
) -> Residuals:
    """Residual z of every window value; missing older values take the newest known one (no change)."""
    m, width = window.shape
    step_ns = spec.step_s * NS_PER_S
    offsets = (np.arange(width, dtype=np.int64) - (width - 1)) * step_ns
    times = now_ns[:, None] + offsets[None, :]
    ind = np.broadcast_to(indicator[:, None], (m, width))
    expected = seasonal.expected(ind.ravel(), times.ravel()).reshape(m, width)
    noise = np.maximum(seasonal.noise[indicator], 1e-9)
    z = (window.astype(np.float64) - expected) / noise[:, None]
    z = np.where(np.isnan(z), z[:, -1:], z)
    return Residuals(z=z, expected_now=expected[:, -1], noise=noise)


def _split(x: npt.NDArray[np.float64], clip: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    small = np.clip(x, -clip, clip)
    return small, x - small


def _slope(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Least-squares slope per row, per step."""
    k = z.shape[1]
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2.0
    return (z @ t) / float((t * t).sum())


def feature_matrix(
    res: Residuals, indicator: npt.NDArray[np.integer], now_ns: npt.NDArray[np.int64], horizon_s: int, *,
    seasonal: SeasonalModel, spec: FeatureSpec, cadence_s: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """(M, len(FEATURES)) features for one horizon. Rows whose residual now is NaN give NaN rows.

    cadence_s: (n_indicators,) reporting interval of each indicator (``Catalog.cadence_array``).
    """
    z = res.z
    z0 = z[:, -1]
    dev, dev_x = _split(z0, spec.clip_z)
    change, _ = _split(z0 - z[:, -2] if z.shape[1] > 1 else np.zeros_like(z0), spec.clip_z)
    t15, t15_x = _split(_slope(z[:, -4:]), spec.clip_slope)
    t60, t60_x = _split(_slope(z), spec.clip_slope)
    gap = z0 - z.mean(axis=1)
    target_ns = now_ns + horizon_s * NS_PER_S
    seasonal_change = (seasonal.expected(indicator, target_ns) - res.expected_now) / res.noise
    fresh = np.minimum(1.0, horizon_s / np.maximum(cadence_s[indicator], 1.0))
    hour, weekend = local_hour_and_weekend(target_ns, seasonal.offset_hours)
    angle = 2.0 * np.pi * hour / 24.0
    cols = (dev, dev_x, change, t15, t15_x, t60, t60_x, gap, seasonal_change, dev * fresh,
            seasonal_change * fresh, np.sin(angle), np.cos(angle), weekend.astype(np.float64))
    return np.column_stack(cols)


def row_weights(
    features: npt.NDArray[np.float64], target: npt.NDArray[np.float64], spec: FeatureSpec
) -> npt.NDArray[np.float64]:
    """Training weights 1 / scale**2, with scale = how far a row's moves (now or to come) exceed the clips.

    A linear relation is unchanged by dividing a row's features and target by a common scale, so weighting
    by 1 / scale**2 keeps the model while bounding the influence of huge excursions (an outage count that
    jumps ten thousand noise units must not decide the fit for every other series): least squares on
    relative errors for big moves, plain least squares for normal ones.
    """
    i = FEATURE_INDEX
    scale = np.maximum.reduce([
        np.ones(features.shape[0]),
        np.abs(target) / spec.clip_z,
        np.abs(features[:, i["deviation_excess"]]) / spec.clip_z,
        np.abs(features[:, i["trend_15m_excess"]]) / spec.clip_slope,
        np.abs(features[:, i["trend_60m_excess"]]) / spec.clip_slope,
    ])
    return 1.0 / scale**2
