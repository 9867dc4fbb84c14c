"""Forecast features, vectorized over many (series, time) rows at once.

Every feature is in "threshold units": the distance from the indicator's typical (seasonal) value to its orange
threshold is 1 (see :func:`threshold_units`), so one regressor serves all indicators of a family whatever their
units, and a move that matters for early warning has the same size everywhere. Input is a window of the last
``window_steps + 1`` grid values per row (oldest first, the last column is "now") and the seasonal expected
value at each of those times. The target is the change of the seasonal residual from now to now + horizon,
so a forecast is ``expected(now + h) + unit * (z_now + predicted change)``.

Small and large moves get separate features (the clipped part and the excess beyond the clip), so a linear
model can learn mean reversion for noise and trend extrapolation for a real slow-onset incident. The clips are
learned per indicator (a high quantile of the normal moves, see :func:`learn_clips`), so "excess" means
"unusual for this indicator".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import SeasonalModel, local_hour_and_weekend
from vitals.health.levels import badness, oriented_thresholds
from vitals.units import DAY_S, NS_PER_S, WEEK_S

FEATURES: tuple[str, ...] = (
    "deviation",          # residual now (threshold units), clipped to +-clip_z
    "deviation_excess",   # residual beyond the clip
    "change_5m",          # residual change over the last step, clipped
    "trend_15m",          # least-squares slope of the residual over the last 15 min (per step), clipped
    "trend_15m_excess",
    "trend_60m",          # slope over the whole window, clipped
    "trend_60m_excess",
    "gap_to_window_mean",  # residual now minus its mean over the window
    "seasonal_change",    # expected(now + h) - expected(now), in threshold units
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


CLIPPED: tuple[str, ...] = ("deviation", "trend_15m", "trend_60m")  # the moves with a learned clip


@dataclass(frozen=True, eq=False)
class Residuals:
    """Seasonal residuals of a batch of windows: z (M, L+1) in threshold units, the expected value now and the
    unit (value units per threshold unit) of each row."""

    z: npt.NDArray[np.float64]
    expected_now: npt.NDArray[np.float64]
    unit: npt.NDArray[np.float64]

    def take(self, rows: npt.NDArray[np.integer]) -> Residuals:
        return Residuals(z=self.z[rows], expected_now=self.expected_now[rows], unit=self.unit[rows])


def threshold_units(catalog: Catalog, seasonal: SeasonalModel) -> npt.NDArray[np.float64]:
    """Per indicator: value distance from its median seasonal expected value to the orange threshold.

    Measured on the badness scale (so bad=down and bad=both work the same way); for z-score indicators the
    orange z-score times the noise. Never below the catalog noise.
    """
    week_ns = np.arange(0, WEEK_S, 1800, dtype=np.int64) * NS_PER_S + 4 * DAY_S * NS_PER_S  # a Monday on
    n_ind = catalog.n_indicators
    ind = np.repeat(np.arange(n_ind), week_ns.size)
    ts = np.tile(week_ns, n_ind)
    expected = seasonal.expected(ind, ts)
    typical = np.median(badness(catalog, ind, expected, ts, seasonal).reshape(n_ind, -1), axis=1)
    oriented = oriented_thresholds(catalog)
    finite = np.where(np.isfinite(oriented), oriented, -np.inf)
    # orange; where no orange (or red) is set, the most severe threshold that is; none: 3 noise sd
    reference = np.where(np.isfinite(oriented[:, 2]), oriented[:, 2], finite.max(axis=1))
    distance = np.where(np.isfinite(reference), reference - typical,
                        np.where(catalog.zscore_array, 3.0, 3.0 * seasonal.noise))
    distance = np.where(catalog.zscore_array, distance * seasonal.noise, distance)
    return np.maximum(np.abs(distance), seasonal.noise)


def shared_time(ts_ns: npt.NDArray[np.int64]) -> bool:
    """Whether every row has the same time (a forecast tick of the stream predicts all its series at once)."""
    return bool(ts_ns.size) and bool((ts_ns == ts_ns[0]).all())


def expected_grid(
    seasonal: SeasonalModel, indicator: npt.NDArray[np.integer], times_ns: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """(M, T) seasonal expected value of each row's indicator at T times shared by all rows: computed once per
    indicator and gathered, elementwise the same values as ``seasonal.expected`` on the (M, T) arrays."""
    return expected_table(seasonal, times_ns)[np.asarray(indicator, dtype=np.int64)]


def expected_table(seasonal: SeasonalModel, times_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """(n_indicators, T) seasonal expected value of every indicator at T times (what :func:`expected_grid`
    gathers)."""
    n_ind, n_t = seasonal.base.shape[0], times_ns.shape[0]
    return seasonal.expected(np.repeat(np.arange(n_ind), n_t), np.tile(times_ns, n_ind)).reshape(n_ind, n_t)


def residuals(  # noqa: PLR0917
    window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer], now_ns: npt.NDArray[np.int64],
    seasonal: SeasonalModel, unit: npt.NDArray[np.float64], step_s: int,
) -> Residuals:
    """Residual of every window value in threshold units (``unit`` per indicator, from
    :func:`threshold_units`); missing older values take the newest known one (no change)."""
    m, width = window.shape
    step_ns = step_s * NS_PER_S
    offsets = (np.arange(width, dtype=np.int64) - (width - 1)) * step_ns
    if shared_time(now_ns):  # the stream's forecast tick: one table per indicator
        expected = expected_grid(seasonal, indicator, now_ns[0] + offsets)
    else:
        times = now_ns[:, None] + offsets[None, :]
        ind = np.broadcast_to(indicator[:, None], (m, width))
        expected = seasonal.expected(ind.ravel(), times.ravel()).reshape(m, width)
    scale = unit[indicator]
    z = (window.astype(np.float64) - expected) / scale[:, None]
    z = np.where(np.isnan(z), z[:, -1:], z)
    return Residuals(z=z, expected_now=expected[:, -1], unit=scale)


def _split(
    x: npt.NDArray[np.float64], clip: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    small = np.clip(x, -clip, clip)
    return small, x - small


def slope(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Least-squares slope per row, per step."""
    k = z.shape[1]
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2.0
    return (z @ t) / float((t * t).sum())


MOVES = 8  # the first features, the same at every horizon: deviation ... gap_to_window_mean


def move_features(
    res: Residuals, indicator: npt.NDArray[np.integer], clips: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """(M, MOVES) the features that do not depend on the horizon (deviation, change, trends, gap): computed once
    for all horizons by a caller that builds several feature matrices of the same rows (``feature_matrix(...,
    moves=)``)."""
    z = res.z
    z0 = z[:, -1]
    clip = clips[indicator]
    dev, dev_x = _split(z0, clip[:, 0])
    change, _ = _split(z0 - z[:, -2] if z.shape[1] > 1 else np.zeros_like(z0), clip[:, 0])
    t15, t15_x = _split(slope(z[:, -4:]), clip[:, 1])
    t60, t60_x = _split(slope(z), clip[:, 2])
    gap = z0 - z.mean(axis=1)
    out = np.empty((z0.shape[0], MOVES))
    for k, col in enumerate((dev, dev_x, change, t15, t15_x, t60, t60_x, gap)):
        out[:, k] = col
    return out


def feature_matrix(
    res: Residuals, indicator: npt.NDArray[np.integer], now_ns: npt.NDArray[np.int64], horizon_s: int, *,
    seasonal: SeasonalModel, clips: npt.NDArray[np.float64], cadence_s: npt.NDArray[np.float64],
    moves: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """(M, len(FEATURES)) features for one horizon. Rows whose residual now is NaN give NaN rows.

    clips: (n_indicators, 3) where the clipped part of deviation, trend_15m and trend_60m ends (``learn_clips``);
    cadence_s: (n_indicators,) reporting interval of each indicator (``Catalog.cadence_array``);
    moves: :func:`move_features` of these rows when the caller has them already (the same values).
    """
    if moves is None:
        moves = move_features(res, indicator, clips)
    dev = moves[:, 0]
    target_ns = now_ns + horizon_s * NS_PER_S
    shared = shared_time(target_ns)
    if shared:  # calendar features computed once (elementwise functions: the same values per row)
        expected_at = expected_grid(seasonal, indicator, target_ns[:1])[:, 0]
        target_ns = target_ns[:1]
    else:
        expected_at = seasonal.expected(indicator, target_ns)
    seasonal_change = (expected_at - res.expected_now) / res.unit
    fresh = np.minimum(1.0, horizon_s / np.maximum(cadence_s[indicator], 1.0))
    hour, weekend = local_hour_and_weekend(target_ns, seasonal.local_time())
    angle = 2.0 * np.pi * hour / 24.0
    calendar = [np.sin(angle), np.cos(angle), weekend.astype(np.float64)]
    out = np.empty((moves.shape[0], len(FEATURES)))
    out[:, :MOVES] = moves
    for k, col in enumerate((seasonal_change, dev * fresh, seasonal_change * fresh, *calendar), start=MOVES):
        out[:, k] = col  # broadcasts the shared calendar columns
    return out


def learn_clips(
    res: Residuals, indicator: npt.NDArray[np.integer], n_indicators: int, quantile: float
) -> npt.NDArray[np.float64]:
    """(n_indicators, 3) per-indicator ``quantile`` of |deviation|, |trend_15m| and |trend_60m| over training
    rows (incidents are rare, so this is the edge of normal behaviour); indicators without rows get the median
    of the others."""
    moves = np.column_stack([np.abs(res.z[:, -1]), np.abs(slope(res.z[:, -4:])), np.abs(slope(res.z))])
    out = np.full((n_indicators, 3), np.nan)
    for i in np.unique(indicator):
        rows = moves[indicator == i]
        rows = rows[np.isfinite(rows).all(axis=1)]
        if rows.shape[0]:
            out[i] = np.quantile(rows, quantile, axis=0)
    fallback = np.nanmedian(out, axis=0) if np.isfinite(out).any() else np.full(3, 0.1)
    out = np.where(np.isfinite(out), out, fallback[None, :])
    return np.maximum(out, 1e-6)


def row_weights(
    features: npt.NDArray[np.float64], target: npt.NDArray[np.float64], clips: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Training weights 1 / scale**2, scale = how far the row's moves (now or to come) exceed their clips (>= 1).

    A linear relation is unchanged by dividing a row's features and target by a common scale, so weighting
    by 1 / scale**2 keeps the model while bounding the influence of big excursions (an outage count that
    jumps ten thousand noise units must not decide the fit for every other series of its family): least
    squares on relative errors beyond the clips, plain least squares within them.
    """
    i = FEATURE_INDEX
    scale = np.maximum.reduce([
        np.ones(features.shape[0]),
        np.abs(target) / clips[:, 0],
        np.abs(features[:, i["deviation_excess"]]) / clips[:, 0],
        np.abs(features[:, i["trend_15m_excess"]]) / clips[:, 1],
        np.abs(features[:, i["trend_60m_excess"]]) / clips[:, 2],
    ])
    return 1.0 / scale**2
