"""The early-warning forecaster: one scikit-learn regressor per indicator family (domain) and horizon.

Trained on a :class:`~vitals.forecasting.grid.SeriesGrid`, it predicts all series at once at window close
(one ``predict`` call per family per horizon) and turns forecasts into predicted warning levels, seconds to
each threshold crossing and an explanation (the feature that moved the forecast most, with the value now and
the seasonal expected value). Follows scikit-learn's parameter rules: ``__init__`` stores parameters, ``fit``
returns ``self``, learned attributes end in ``_``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.errors import ModelError, NotFittedError
from vitals.forecasting import linear_path
from vitals.forecasting.features import (
    FEATURE_INDEX,
    FEATURES,
    MOVES,
    Residuals,
    expected_grid,
    feature_matrix,
    learn_clips,
    move_features,
    residuals,
    row_weights,
    shared_time,
    slope,
    threshold_units,
)
from vitals.forecasting.grid import SeriesGrid
from vitals.forecasting.guard import guard_moves, guarded_slope, learn_guard_clips
from vitals.health.levels import badness, oriented_thresholds
from vitals.params import Parameters
from vitals.units import NS_PER_S

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Forecast:
    """Forecasts of N series at H horizons.

    value (N, H) forecast values (the regressors' mean forecast); warning_value (N, H) the path warnings are
    judged on: the forecast, or where a series moves with an unusual consistent trend that goes further, that
    trend extrapolated (precautionary); level (N, H) predicted warning level 0..4 of the warning path;
    seconds_to_level (N, 4) seconds until the blue, yellow, orange and red thresholds are reached on the
    warning path (0 already there, inf never, NaN unknown); last (N,) the value now; expected_now (N,) the
    seasonal expected value now;
    driver (N,) index into FEATURES of the feature that moved the explained forecast most (-1: none);
    driver_effect (N,) that feature's effect on the explained forecast, in the indicator's units;
    explained (N,) the horizon index explained (the one with the worst predicted level, the earliest on ties).
    """

    horizons_s: tuple[int, ...]
    value: npt.NDArray[np.float64]
    warning_value: npt.NDArray[np.float64]
    level: npt.NDArray[np.int8]
    seconds_to_level: npt.NDArray[np.float64]
    last: npt.NDArray[np.float64]
    expected_now: npt.NDArray[np.float64]
    driver: npt.NDArray[np.int16]
    driver_effect: npt.NDArray[np.float64]
    explained: npt.NDArray[np.int8]

    def driver_names(self) -> list[str]:
        return [FEATURES[d] if d >= 0 else "" for d in self.driver.tolist()]


@dataclass(frozen=True, eq=False)
class TrainingRows:
    """Sampled training rows of a grid: windows, their indicator and time, and targets per horizon."""

    window: npt.NDArray[np.float32]
    indicator: npt.NDArray[np.int16]
    now_ns: npt.NDArray[np.int64]
    future: npt.NDArray[np.float32]  # (M, H) the values at now + h


def sample_rows(
    grid: SeriesGrid, horizon_steps: Iterable[int], window_steps: int, max_rows: int, seed: int
) -> TrainingRows:
    """Up to ``max_rows`` (series, time) positions drawn uniformly without replacement."""
    hs = np.asarray(list(horizon_steps), dtype=np.int64)
    first, last = window_steps, grid.n_steps - 1 - int(hs.max())
    if last < first:
        msg = (f"history too short: {grid.n_steps} steps of {grid.step_s}s; need more than "
               f"{window_steps + int(hs.max())} (window plus the longest horizon)")
        raise ModelError(msg)
    n_pos = last - first + 1
    total = grid.n_series * n_pos
    rng = np.random.default_rng(seed)
    pick = rng.choice(total, size=min(max_rows, total), replace=False) if total > max_rows else np.arange(total)
    pick.sort()
    row, t = pick // n_pos, first + pick % n_pos
    cols = t[:, None] + np.arange(-window_steps, 1)[None, :]
    return TrainingRows(
        window=grid.values[row[:, None], cols], indicator=grid.indicator[row],
        now_ns=grid.column_end_ns()[t], future=grid.values[row[:, None], t[:, None] + hs[None, :]],
    )


def _predict_rows(
    model: Any, x: npt.NDArray[np.float64], finite: npt.NDArray[np.bool_], means: npt.NDArray[np.float64],
    *, explain: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """One regressor's predictions (NaN for rows with non-finite features) and per-feature effects (linear
    models: coefficient x (feature - training mean); zero otherwise; None without ``explain``). A linear model is
    applied as a dot product (the same arithmetic as its ``predict``, without the per-call input validation that
    dominates at this size)."""
    pred = np.full(x.shape[0], np.nan)
    coef = getattr(model, "coef_", None)
    if coef is not None:
        w = np.ravel(coef)
        pred[finite] = x[finite] @ w + float(np.ravel(getattr(model, "intercept_", 0.0))[0])
        return pred, (x - means) * w[None, :] if explain else None
    if finite.any():
        pred[finite] = model.predict(x[finite])
    return pred, np.zeros_like(x) if explain else None


def _linear_change(model: Any, x: npt.NDArray[np.float64], finite: npt.NDArray[np.bool_],
                   rows: npt.NDArray[np.intp], out: npt.NDArray[np.float64]) -> None:
    """:func:`_predict_rows` of a linear model without effects, written into ``out[rows]``: the same dot product on
    the same (finite rows, features) matrix, gathered in one step instead of two."""
    ok = finite[rows]
    out[rows[~ok]] = np.nan
    sel = rows[ok]
    out[sel] = x[sel] @ np.ravel(model.coef_) + float(np.ravel(getattr(model, "intercept_", 0.0))[0])


def _levels_and_crossings(  # noqa: PLR0917 (the arrays of one forecast)
    catalog: Catalog, ind: npt.NDArray[np.int64], warn_values: npt.NDArray[np.float64],
    expected_at: npt.NDArray[np.float64], last: npt.NDArray[np.float64], expected_now: npt.NDArray[np.float64],
    horizons_s: npt.NDArray[np.float64], max_lookahead_s: float,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Predicted level (N, H) of the warning path and seconds (N, 4) to each threshold: the badness by
    :func:`~vitals.health.levels.badness`, then levels and crossings in one compiled pass per row
    (:mod:`vitals.forecasting.predict_kernel`), the same values as :func:`~vitals.health.levels.levels_of_badness`
    and :func:`~vitals.forecasting.crossing.seconds_to_thresholds` on the (N, H) arrays (the numpy reference is
    in ``tests/forecasting/test_predict_kernel.py``)."""
    from vitals.forecasting.predict_kernel import levels_and_crossings  # numba: loaded where forecasts are made

    n, n_h = warn_values.shape
    seasonal = SeasonalModel(catalog)
    bad_at = badness(catalog, np.repeat(ind, n_h), warn_values.ravel(), None, seasonal, expected=expected_at.ravel())
    bad_now = badness(catalog, ind, last, None, seasonal, expected=expected_now)
    return levels_and_crossings(np.ascontiguousarray(bad_now, dtype=np.float64),
                                np.ascontiguousarray(bad_at.reshape(n, n_h), dtype=np.float64),
                                np.ascontiguousarray(ind, dtype=np.int64), oriented_thresholds(catalog), horizons_s,
                                max_lookahead_s)


class EarlyWarningForecaster(Parameters):
    """Forecasts every series at ``horizons_s`` from lag, trend, calendar and seasonal features.

    Parameters
    ----------
    horizons_s: forecast horizons in seconds, increasing (multiples of ``step_s``).
    step_s: the grid step the features and the stream's lag buffer use.
    window_steps: steps of history in a feature window (12 x 5 min = 1 h).
    regressor: a scikit-learn regressor cloned per family and horizon; None gives ``Ridge(alpha=alpha)``.
    alpha: Ridge regularization (used when ``regressor`` is None).
    units: "noise" (residuals in catalog noise standard deviations) or "threshold" (1 = the way from normal to
        orange); features and targets are in these units.
    clip_quantile: where small moves end and "excess" features begin: this quantile of each indicator's
        |deviation|, |trend_15m| and |trend_60m| in the training rows.
    trend_guard: extrapolate an unusual, consistent trend (slope over one of ``guard_spans`` beyond this many
        times its learned edge) on the warning path where the regressor predicts less; 0 turns the guard off
        (see :mod:`vitals.forecasting.guard`).
    guard_spans: the spans (grid steps) whose least-squares slopes the guard looks at.
    guard_quantile: the edge of normal behaviour: this quantile of |slope| per span and |deviation| per
        indicator in the training rows.
    deviation_guard: the guard also needs the deviation now beyond this many times its learned edge.
    max_rows: training rows sampled from the grid (uniformly; keeps memory bounded).
    max_lookahead_s: how far past the last horizon a trend is extrapolated for crossing times.
    random_state: seed of the row sampling.
    """

    def __init__(
        self,
        *,
        horizons_s: tuple[int, ...] = (900, 1800, 3600),
        step_s: int = 300,
        window_steps: int = 12,
        regressor: Any | None = None,
        alpha: float = 1.0,
        units: str = "noise",
        clip_quantile: float = 0.99,
        trend_guard: float = 1.5,
        guard_spans: tuple[int, ...] = (2, 4, 6, 12),
        guard_quantile: float = 0.95,
        deviation_guard: float = 1.5,
        max_rows: int = 1_000_000,
        max_lookahead_s: float = 6 * 3600.0,
        random_state: int = 0,
    ) -> None:
        self.horizons_s = horizons_s
        self.step_s = step_s
        self.window_steps = window_steps
        self.regressor = regressor
        self.alpha = alpha
        self.units = units
        self.clip_quantile = clip_quantile
        self.trend_guard = trend_guard
        self.guard_spans = guard_spans
        self.guard_quantile = guard_quantile
        self.deviation_guard = deviation_guard
        self.max_rows = max_rows
        self.max_lookahead_s = max_lookahead_s
        self.random_state = random_state

    # ---- fitting ---------------------------------------------------------------------------------------------
    def _horizon_steps(self) -> list[int]:
        hs = [int(h) for h in self.horizons_s]
        if not hs or any(h <= 0 or h % self.step_s for h in hs) or sorted(set(hs)) != hs:
            msg = f"horizons_s must be increasing positive multiples of step_s={self.step_s}, got {self.horizons_s}"
            raise ModelError(msg)
        return [h // self.step_s for h in hs]

    def fit(self, grid: SeriesGrid, catalog: Catalog, progress: Progress | None = None) -> EarlyWarningForecaster:
        """Fit one regressor per (family, horizon) on rows sampled from ``grid``."""
        if grid.step_s != self.step_s:
            msg = f"grid step {grid.step_s}s differs from the forecaster's step_s={self.step_s}"
            raise ModelError(msg)
        steps = self._horizon_steps()
        if not self.max_rows >= 1:  # 0 fitted on no rows at all and stored a model that predicts nothing learnt
            msg = f"max_rows must be >= 1 training rows, got {self.max_rows}"
            raise ModelError(msg)
        rows = sample_rows(grid, steps, self.window_steps, self.max_rows, self.random_state)
        seasonal = SeasonalModel(catalog)
        family_of = np.array([ind.domain for ind in catalog.indicators])
        self.indicator_ids_ = tuple(ind.id for ind in catalog.indicators)
        self.cadence_s_ = catalog.cadence_array.copy()
        self.unit_ = (threshold_units(catalog, seasonal) if self.units == "threshold"
                      else np.maximum(seasonal.noise, 1e-9))
        all_res = residuals(rows.window, rows.indicator, rows.now_ns, seasonal, self.unit_, self.step_s)
        self.clips_ = learn_clips(all_res, rows.indicator, catalog.n_indicators, self.clip_quantile)
        self.guard_clips_ = learn_guard_clips(all_res.z, rows.indicator, catalog.n_indicators,
                                              tuple(self.guard_spans), self.guard_quantile)
        self.families_ = tuple(sorted(set(family_of[np.unique(rows.indicator)].tolist())))
        self.feature_names_ = FEATURES
        self.regressors_: dict[str, list[Any]] = {}
        self.feature_means_: dict[str, npt.NDArray[np.float64]] = {}
        self.n_training_rows_: dict[str, int] = {}
        row_family = family_of[rows.indicator]
        for family in self.families_:
            self._fit_family(family, row_family == family, rows, seasonal)
            if progress is not None:
                progress(family)
        return self

    def _fit_family(
        self, family: str, mask: npt.NDArray[np.bool_], rows: TrainingRows, seasonal: SeasonalModel
    ) -> None:
        ind, now = rows.indicator[mask], rows.now_ns[mask]
        res = residuals(rows.window[mask], ind, now, seasonal, self.unit_, self.step_s)
        models, means = [], []
        for k, h in enumerate(self.horizons_s):
            x = feature_matrix(res, ind, now, int(h), seasonal=seasonal, clips=self.clips_, cadence_s=self.cadence_s_)
            target_ns = now + int(h) * NS_PER_S
            z_future = (rows.future[mask, k] - seasonal.expected(ind, target_ns)) / res.unit
            y = z_future - res.z[:, -1]
            ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
            from sklearn.base import clone  # fitting needs scikit-learn; predicting (the flow) does not
            from sklearn.linear_model import Ridge

            model = clone(self.regressor) if self.regressor is not None else Ridge(alpha=self.alpha)
            models.append(model.fit(x[ok], y[ok], sample_weight=row_weights(x[ok], y[ok], self.clips_[ind[ok]])))
            means.append(x[ok].mean(axis=0))
        self.regressors_[family] = models
        self.feature_means_[family] = np.vstack(means)
        self.n_training_rows_[family] = int(mask.sum())

    # ---- predicting ------------------------------------------------------------------------------------------
    def _check_fitted(self, catalog: Catalog) -> None:
        if not hasattr(self, "regressors_"):
            msg = "EarlyWarningForecaster is not fitted: call fit(grid, catalog) or load a trained one"
            raise NotFittedError(msg)
        ids = tuple(ind.id for ind in catalog.indicators)
        if ids != self.indicator_ids_:
            msg = ("the catalog's indicators differ from the ones this forecaster was trained on; "
                   "retrain it (`vitals train`) for this catalog")
            raise ModelError(msg)

    def predict_values(
        self, catalog: Catalog, window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer],
        now_ns: npt.NDArray[np.int64] | int,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Forecast values (N, H), warning-path values (N, H: the forecast, or the guarded trend where it goes
        further), per-feature effects (N, H, F) on the warning path in value units, and expected now (N,)."""
        return self._predict_values(catalog, window, indicator, now_ns)[:4]  # type: ignore[return-value]

    def _predict_values(
        self, catalog: Catalog, window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer],
        now_ns: npt.NDArray[np.int64] | int, *, explain: bool = True, compiled: bool = True,
    ) -> tuple[npt.NDArray[np.float64], ...]:
        """:meth:`predict_values` and the seasonal expected value (N, H) at each horizon; without ``explain`` the
        effects are not computed (an empty (N, H, 0) array: the values do not depend on them). Without ``explain``,
        linear regressors and one time for every row (the flow's tick) it runs in compiled passes
        (:mod:`vitals.forecasting.linear_path`), the same values; ``compiled=False``: the numpy reference."""
        self._check_fitted(catalog)
        ind = np.asarray(indicator, dtype=np.int64)
        now = np.broadcast_to(np.asarray(now_ns, dtype=np.int64), ind.shape).copy()
        window = np.asarray(window)
        if compiled and not explain and linear_path.applies(self, window, now):  # the flow's tick: the same values
            return linear_path.linear_values(self, catalog, window, ind, int(now[0]))
        seasonal = SeasonalModel(catalog)
        res = residuals(np.asarray(window), ind, now, seasonal, self.unit_, self.step_s)
        n, n_h, n_f = ind.shape[0], len(self.horizons_s), len(FEATURES)
        change = np.zeros((n, n_h))
        effects = np.zeros((n, n_h, n_f if explain else 0))
        domains = [i.domain for i in catalog.indicators]
        code = {family: c for c, family in enumerate(self.regressors_)}
        family_of = np.array([code.get(d, -1) for d in domains], dtype=np.int64)[ind]
        groups = [(family, models, np.flatnonzero(family_of == code[family]))  # rows of each family, once
                  for family, models in self.regressors_.items()]
        moves = move_features(res, ind, self.clips_)  # the features every horizon shares, once
        moves_finite = np.isfinite(moves).all(axis=1)
        for k, h in enumerate(self.horizons_s):  # features once per horizon for every row, then one model per family
            x = feature_matrix(res, ind, now, int(h), seasonal=seasonal, clips=self.clips_, cadence_s=self.cadence_s_,
                               moves=moves)
            finite = np.asarray(moves_finite & np.isfinite(x[:, MOVES:]).all(axis=1))
            for family, models, rows in groups:
                if rows.size and not explain and getattr(models[k], "coef_", None) is not None:
                    _linear_change(models[k], x, finite, rows, change[:, k])
                elif rows.size:
                    change[rows, k], effect = _predict_rows(
                        models[k], x[rows], finite[rows], self.feature_means_[family][k], explain=explain)
                    if effect is not None:
                        effects[rows, k, :] = effect
        z0 = res.z[:, -1]
        warn_change, effects = self._guard_trends(res, ind, change, effects) if self.trend_guard > 0 else (
            change, effects)
        horizons_ns = np.asarray(self.horizons_s, dtype=np.int64) * NS_PER_S
        if shared_time(now):
            expected_at = expected_grid(seasonal, ind, now[0] + horizons_ns)
        else:
            target = now[:, None] + horizons_ns[None, :]
            expected_at = seasonal.expected(np.repeat(ind, n_h), target.ravel()).reshape(n, n_h)
        # never outside the indicator's valid range (a count does not go below 0, a share above 100 %)
        lo, hi = catalog.valid_min_array[ind][:, None], catalog.valid_max_array[ind][:, None]
        values = np.clip(expected_at + res.unit[:, None] * (z0[:, None] + change), lo, hi)
        warn_values = np.clip(expected_at + res.unit[:, None] * (z0[:, None] + warn_change), lo, hi)
        return values, warn_values, effects * res.unit[:, None, None], res.expected_now, expected_at

    def _guard_trends(
        self, res: Residuals, ind: npt.NDArray[np.int64], change: npt.NDArray[np.float64],
        effects: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Where a series moves with an unusual, consistent trend (:mod:`vitals.forecasting.guard`), extrapolate
        it if it goes further than the regressor. Only the warning path uses it; the forecast value stays the
        regressor's (which has the lower error on average)."""
        if hasattr(self, "guard_clips_") and not effects.shape[2]:  # no explanations: one compiled pass per row
            from vitals.forecasting.predict_kernel import guard_change  # numba: loaded where forecasts are made

            steps = np.asarray(self.horizons_s, dtype=np.float64) / self.step_s
            moves = guard_moves(res.z, tuple(self.guard_spans))
            return guard_change(moves, self.guard_clips_, np.ascontiguousarray(ind, dtype=np.int64),
                                float(self.trend_guard), float(self.deviation_guard),
                                np.ascontiguousarray(change, dtype=np.float64), steps), effects
        if not hasattr(self, "guard_clips_"):  # an artifact from before the multi-span guard (v0001)
            clip = self.clips_[ind]
            s60 = slope(res.z)
            unusual = np.asarray((np.abs(s60) > self.trend_guard * clip[:, 2])
                                 & (np.sign(slope(res.z[:, -4:])) == np.sign(s60)))
        else:
            s60, unusual = guarded_slope(res.z, self.guard_clips_[ind], tuple(self.guard_spans), self.trend_guard,
                                         self.deviation_guard)
        steps = np.asarray(self.horizons_s, dtype=np.float64)[None, :] / self.step_s
        trend = s60[:, None] * steps
        further = unusual[:, None] & (np.sign(s60)[:, None] * (trend - change) > 0)
        change = np.where(further, trend, change)
        if effects.shape[2]:  # explanations asked for
            guard_effect = np.zeros_like(effects)
            guard_effect[:, :, FEATURE_INDEX["trend_60m_excess"]] = trend
            effects = np.where(further[:, :, None], guard_effect, effects)
        return change, effects

    def predict_levels(
        self, catalog: Catalog, window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer],
        now_ns: npt.NDArray[np.int64] | int,
    ) -> Forecast:
        """:meth:`predict` without the explanations (``driver`` -1, ``driver_effect`` 0): the same values, levels
        and seconds to each threshold, cheaper (the flow's forecast tick publishes no explanation)."""
        return self.predict(catalog, window, indicator, now_ns, explain=False)

    def predict(
        self, catalog: Catalog, window: npt.NDArray[np.floating], indicator: npt.NDArray[np.integer],
        now_ns: npt.NDArray[np.int64] | int, *, explain: bool = True,
    ) -> Forecast:
        """Forecasts, predicted levels, seconds to each threshold and explanations for N series at once."""
        ind = np.asarray(indicator, dtype=np.int64)
        now = np.broadcast_to(np.asarray(now_ns, dtype=np.int64), ind.shape).copy()
        values, warn_values, effects, expected_now, expected_at = self._predict_values(catalog, window, ind, now,
                                                                                       explain=explain)
        n = values.shape[0]
        hs = np.asarray(self.horizons_s, dtype=np.int64)
        last = np.asarray(np.asarray(window)[:, -1], dtype=np.float64)  # the value now (not the whole window)
        level, secs = _levels_and_crossings(catalog, ind, warn_values, expected_at, last, expected_now,
                                            hs.astype(np.float64), float(self.max_lookahead_s))
        explained = level.argmax(axis=1).astype(np.int8)
        if effects.shape[2]:
            chosen = effects[np.arange(n), explained.astype(np.int64), :]
            strongest = np.abs(chosen).argmax(axis=1)
            effect = chosen[np.arange(n), strongest]
            driver = np.where(np.abs(effect) > 0, strongest, -1).astype(np.int16)
        else:  # no explanations asked for: no driver
            effect, driver = np.zeros(n), np.full(n, -1, dtype=np.int16)
        return Forecast(
            horizons_s=tuple(int(h) for h in self.horizons_s), value=values, warning_value=warn_values, level=level,
            seconds_to_level=secs, last=last, expected_now=expected_now, driver=driver,
            driver_effect=np.asarray(effect, dtype=np.float64), explained=explained,
        )
