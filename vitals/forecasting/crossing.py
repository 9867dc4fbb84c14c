"""Seconds until a predicted threshold crossing, from the badness now and at a few forecast horizons.

The trajectory is piecewise linear through (0, badness now) and (h_k, forecast badness at h_k); the first
segment that rises through a threshold gives the crossing time by linear interpolation. Past the last horizon
the trend of the last segment is extrapolated, up to ``max_lookahead_s``. Already at or above a threshold: 0.
Never reached: +inf. Unknown (no value now): NaN. Badness is oriented so higher is worse (see
:func:`vitals.health.levels.badness`), so the same arithmetic serves bad=up, down and both indicators.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def seconds_to_thresholds(
    badness_now: npt.NDArray[np.float64],
    badness_at: npt.NDArray[np.float64],
    horizons_s: npt.NDArray[np.float64],
    thresholds: npt.NDArray[np.float64],
    max_lookahead_s: float,
) -> npt.NDArray[np.float64]:
    """(N, K) seconds until each of K thresholds is reached.

    badness_now: (N,); badness_at: (N, H) at the increasing ``horizons_s`` (H,); thresholds: (N, K) oriented.
    """
    times = np.concatenate([[0.0], np.asarray(horizons_s, dtype=np.float64)])
    path = np.column_stack([badness_now, badness_at])  # (N, H + 1)
    lo, hi = path[:, :-1, None], path[:, 1:, None]  # (N, H, 1)
    t0, t1 = times[None, :-1, None], times[None, 1:, None]
    th = thresholds[:, None, :]  # (N, 1, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        rises = (lo < th) & (hi >= th)
        frac = (th - lo) / (hi - lo)
        inside = np.where(rises, t0 + frac * (t1 - t0), np.inf).min(axis=1)  # (N, K)
        slope = (path[:, -1] - path[:, -2]) / (times[-1] - times[-2])  # per second
        beyond = times[-1] + (thresholds - path[:, -1:]) / slope[:, None]
    below = path[:, -1:] < thresholds
    beyond = np.where(below & (slope[:, None] > 0) & (beyond <= max_lookahead_s), beyond, np.inf)
    out = np.minimum(inside, beyond)
    out = np.where(badness_now[:, None] >= thresholds, 0.0, out)
    unknown: npt.NDArray[np.bool_] = np.asarray(np.isnan(path).any(axis=1))
    return np.where(unknown[:, None], np.nan, out)
