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
