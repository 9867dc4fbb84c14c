"""Row-wise steps of a forecaster's prediction as compiled loops (numba), one pass per row.

- :func:`guard_change`: the trend guard's warning path (:mod:`vitals.forecasting.guard`) from the guard's moves;
- :func:`levels_and_crossings`: the warning path's badness (now and at each horizon, from
  :func:`vitals.health.levels.badness`, the one home of level semantics) turned into levels and crossing times
  (:meth:`vitals.forecasting.model.EarlyWarningForecaster.predict`'s last step).

In numpy each is a dozen passes over (N, H, K) temporaries; here it is one pass per row with the same arithmetic,
operation for operation (IEEE additions, multiplications, divisions and comparisons only, no fused or reordered
operations; the least-squares slopes stay numpy's), so the results are bit-identical to the numpy reference:
:func:`vitals.forecasting.guard.guarded_slope` with ``EarlyWarningForecaster._guard_trends``,
:func:`vitals.health.levels.levels_of_badness` and
:func:`vitals.forecasting.crossing.seconds_to_thresholds` (``tests/forecasting/test_predict_kernel.py`` compares
them). Imported by ``predict`` when it first runs (numba loads only where forecasts are made).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt


@nb.njit(cache=True, inline="always", error_model="numpy")
def _nan_min(a: float, b: float) -> float:  # pragma: no cover (compiled)
    """``np.minimum``: NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return a if a <= b else b


@nb.njit(cache=True, nogil=True, error_model="numpy")
def levels_and_crossings(
    bad_now: npt.NDArray[np.float64], bad_at: npt.NDArray[np.float64], indicator: npt.NDArray[np.int64],
    thresholds: npt.NDArray[np.float64], horizons_s: npt.NDArray[np.float64], max_lookahead_s: float,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:  # pragma: no cover (compiled)
    """(level (N, H) int8, seconds (N, K)) of the warning path's badness ``bad_at`` (N, H) at ``horizons_s`` (H,)
    and the badness now ``bad_now`` (N,) (both from :func:`vitals.health.levels.badness`); per indicator (indexed by
    ``indicator``) the K oriented thresholds (n_indicators, K). A level counts the thresholds at or below the badness
    (:func:`vitals.health.levels.levels_of_badness`)."""
    n, n_h = bad_at.shape
    n_k = thresholds.shape[1]
    level = np.zeros((n, n_h), dtype=np.int8)
    secs = np.empty((n, n_k))
    path = np.empty(n_h + 1)
    times = np.empty(n_h + 1)
    times[0] = 0.0
    for h in range(n_h):
        times[h + 1] = horizons_s[h]
    last_dt = times[n_h] - times[n_h - 1]
    for i in range(n):
        c = indicator[i]
        path[0] = bad_now[i]
        unknown = math.isnan(path[0])
        for h in range(n_h):
            bad = bad_at[i, h]
            path[h + 1] = bad
            unknown = unknown or math.isnan(bad)
            count = 0
            for k in range(n_k):
                if bad >= thresholds[c, k]:
                    count += 1
            level[i, h] = count
        slope = (path[n_h] - path[n_h - 1]) / last_dt
        for k in range(n_k):
            th = thresholds[c, k]
            if unknown:
                secs[i, k] = math.nan
                continue
            inside = math.inf
            for h in range(n_h):
                lo, hi = path[h], path[h + 1]
                value = math.inf
                if lo < th and hi >= th:
                    frac = (th - lo) / (hi - lo)
                    value = times[h] + frac * (times[h + 1] - times[h])
                inside = _nan_min(inside, value)
            beyond = times[n_h] + (th - path[n_h]) / slope
            if not (path[n_h] < th and slope > 0.0 and beyond <= max_lookahead_s):
                beyond = math.inf
            out = _nan_min(inside, beyond)
            secs[i, k] = 0.0 if path[0] >= th else out
    return level, secs


@nb.njit(cache=True, inline="always", error_model="numpy")
def _sign(x: float) -> float:  # pragma: no cover (compiled)
    """``np.sign`` (NaN stays NaN; the sign of a zero never matters to the callers' comparisons)."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x


@nb.njit(cache=True, nogil=True, error_model="numpy")
def guard_change(
    moves: npt.NDArray[np.float64], clips: npt.NDArray[np.float64], indicator: npt.NDArray[np.int64],
    trend_guard: float, deviation_guard: float, change: npt.NDArray[np.float64], steps: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:  # pragma: no cover (compiled)
    """The warning path's change (N, H): the regressor's ``change`` or, where the guard is active and its trend goes
    further, the trend ``slope * steps`` (H,). ``moves`` (N, S + 1): the deviation now and the slope per span
    (:func:`vitals.forecasting.guard.guard_moves`); ``clips`` (n_indicators, S + 1) their learned edges."""
    n, n_h = change.shape
    n_s = moves.shape[1] - 1
    out = np.empty((n, n_h))
    for i in range(n):
        c = indicator[i]
        dev = moves[i, 0]
        direction = _sign(dev)
        unusual = False
        agree = True
        steepest = 0.0
        for j in range(n_s):
            s = moves[i, 1 + j]
            if abs(s) >= trend_guard * clips[c, 1 + j]:
                unusual = True
                if _sign(s) != direction:  # NaN direction: never agrees, as np.sign(s) == NaN
                    agree = False
                steepest = max(steepest, abs(s))
        deviating = abs(dev) >= deviation_guard * clips[c, 0]
        active = unusual and agree and deviating and direction != 0.0
        s60 = steepest * direction if active else 0.0
        sign = _sign(s60)
        for h in range(n_h):
            trend = s60 * steps[h]
            out[i, h] = trend if active and sign * (trend - change[i, h]) > 0.0 else change[i, h]
    return out


@nb.njit(cache=True, inline="always", error_model="numpy")
def _clip(x: float, lo: float, hi: float) -> float:  # pragma: no cover (compiled)
    """``np.clip`` of one float: NaN stays NaN, else ``min(max(x, lo), hi)`` as numpy's clip compares."""
    if math.isnan(x):
        return x
    m = x if x > lo else lo
    if math.isnan(m):
        return m
    return m if m < hi else hi


@nb.njit(cache=True, nogil=True, error_model="numpy")
def residual_rows(window: npt.NDArray[np.float32], expected: npt.NDArray[np.float64],
                  indicator: npt.NDArray[np.int64], unit: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(N, W) residuals of :func:`vitals.forecasting.features.residuals` at a shared time: ``(value - expected) /
    unit`` of each row's indicator (``expected`` (n_indicators, W), ``unit`` (n_indicators,)), a NaN taking the
    residual now."""
    n, w = window.shape
    z = np.empty((n, w))
    for i in range(n):
        c = indicator[i]
        scale = unit[c]
        now = (np.float64(window[i, w - 1]) - expected[c, w - 1]) / scale
        for j in range(w):
            v = (np.float64(window[i, j]) - expected[c, j]) / scale
            z[i, j] = now if math.isnan(v) else v
    return z


@nb.njit(cache=True, nogil=True, error_model="numpy")
def row_means(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:  # pragma: no cover (compiled)
    """``z.mean(axis=1)`` of a C-contiguous (N, W) array with 8 <= W < 16, as numpy sums each row (``pairwise_sum``
    below one block of eight: the first eight values added in a tree, the rest in order), divided by W."""
    n, w = z.shape
    out = np.empty(n)
    for i in range(n):
        total = ((z[i, 0] + z[i, 1]) + (z[i, 2] + z[i, 3])) + ((z[i, 4] + z[i, 5]) + (z[i, 6] + z[i, 7]))
        for j in range(8, w):
            total += z[i, j]
        out[i] = total / w
    return out


@nb.njit(cache=True, nogil=True, error_model="numpy")
def sorted_features(
    z0: npt.NDArray[np.float64], z1: npt.NDArray[np.float64], slope15: npt.NDArray[np.float64],
    slope60: npt.NDArray[np.float64], mean: npt.NDArray[np.float64], indicator: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64], clips: npt.NDArray[np.float64], expected_now: npt.NDArray[np.float64],
    unit: npt.NDArray[np.float64], expected_at: npt.NDArray[np.float64], fresh: npt.NDArray[np.float64],
    calendar: npt.NDArray[np.float64], previous: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """The feature matrices of every horizon (H, N, F), row ``order[p]`` written at ``p``, and whether each
    row's features are finite (H, N), as :func:`vitals.forecasting.features.feature_matrix` computes them with
    :func:`~vitals.forecasting.features.move_features` at a shared time: the moves from the residual now ``z0``,
    the one before ``z1`` (``previous`` False: a one-column window, no change), the slopes and the window mean
    (numpy's, given); per horizon the seasonal expected value ``expected_at`` (H, n_indicators), ``fresh``
    (H, n_indicators) and the calendar columns (H, 3)."""
    n = z0.shape[0]
    n_h = expected_at.shape[0]
    n_f = 8 + 3 + calendar.shape[1]
    x = np.empty((n_h, n, n_f))
    finite = np.empty((n_h, n), dtype=np.bool_)
    moves = np.empty(8)
    calendar_ok = np.empty(n_h, dtype=np.bool_)
    for k in range(n_h):
        calendar_ok[k] = True
        for f in range(calendar.shape[1]):
            calendar_ok[k] = calendar_ok[k] and math.isfinite(calendar[k, f])
    for p in range(n):  # in output order (the features are the large array; the inputs are a few per row)
        i = order[p]
        c = indicator[i]
        c0, c1, c2 = clips[c, 0], clips[c, 1], clips[c, 2]
        dev = _clip(z0[i], -c0, c0)
        moves[0] = dev
        moves[1] = z0[i] - dev
        moves[2] = _clip(z0[i] - z1[i] if previous else 0.0, -c0, c0)
        t15 = _clip(slope15[i], -c1, c1)
        moves[3] = t15
        moves[4] = slope15[i] - t15
        t60 = _clip(slope60[i], -c2, c2)
        moves[5] = t60
        moves[6] = slope60[i] - t60
        moves[7] = z0[i] - mean[i]
        ok = True
        for f in range(8):
            ok = ok and math.isfinite(moves[f])
        for k in range(n_h):
            row = x[k, p]
            for f in range(8):
                row[f] = moves[f]
            change = (expected_at[k, c] - expected_now[i]) / unit[i]
            row[8] = change
            row[9] = dev * fresh[k, c]
            row[10] = change * fresh[k, c]
            for f in range(calendar.shape[1]):
                row[11 + f] = calendar[k, f]
            finite[k, p] = (ok and calendar_ok[k] and math.isfinite(row[8]) and math.isfinite(row[9])
                            and math.isfinite(row[10]))
    return x, finite


@nb.njit(cache=True, nogil=True, error_model="numpy")
def forecast_values(
    z0: npt.NDArray[np.float64], change: npt.NDArray[np.float64], warn_change: npt.NDArray[np.float64],
    indicator: npt.NDArray[np.int64], unit: npt.NDArray[np.float64], expected_at: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64], high: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Forecast and warning-path values (N, H): ``expected + unit * (z0 + change)`` clipped to the valid range of
    each row's indicator (``expected_at`` (n_indicators, H), ``low`` and ``high`` (n_indicators,))."""
    n, n_h = change.shape
    values = np.empty((n, n_h))
    warn = np.empty((n, n_h))
    for i in range(n):
        c = indicator[i]
        for h in range(n_h):
            values[i, h] = _clip(expected_at[c, h] + unit[i] * (z0[i] + change[i, h]), low[c], high[c])
            warn[i, h] = _clip(expected_at[c, h] + unit[i] * (z0[i] + warn_change[i, h]), low[c], high[c])
    return values, warn


@nb.njit(cache=True, nogil=True, error_model="numpy")
def regressor_change(raw: npt.NDArray[np.float64], position: npt.NDArray[np.int64], family: npt.NDArray[np.int64],
                     intercepts: npt.NDArray[np.float64],
                     finite: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:  # pragma: no cover (compiled)
    """(N, H) the regressors' change of each row: its family's dot product ``raw`` (H, N, sorted: row ``i`` at
    ``position[i]``) plus the intercept (n_families, H); NaN where the features are not finite, 0 for a row of no
    family (code -1)."""
    n_h, n = raw.shape
    out = np.empty((n, n_h))
    for i in range(n):
        p = position[i]
        c = family[i]
        for k in range(n_h):
            if c < 0:
                out[i, k] = 0.0
            elif not finite[k, p]:
                out[i, k] = math.nan
            else:
                out[i, k] = raw[k, p] + intercepts[c, k]
    return out
