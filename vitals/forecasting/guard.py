"""The trend guard of the warning path: follow an unusual, consistent trend where the regressor predicts less.

Slow-onset incidents are rare in training data, so a pooled regressor under-extrapolates them, and a smoothstep
onset accelerates, so the hour's mean slope lags the current one. The guard looks at the residual's
least-squares slope over several recent spans (by default 10, 20, 30 and 60 minutes on the 5-minute grid) and
calls a slope *unusual* when it exceeds ``trend_guard`` times the learned ``quantile`` of that span's |slope| in
training (the edge of normal behaviour, per indicator: noise-aware, since noisy indicators have wide
edges). It fires where some span is unusual, every unusual span agrees on the direction, the series already
deviates that way by at least ``deviation_guard`` times the learned edge of its |deviation|; it then
extrapolates the steepest unusual slope (the most recent acceleration) linearly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.forecasting.features import slope


def guard_moves(z: npt.NDArray[np.float64], spans: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """(M, len(spans) + 1): |deviation now| then the slope (per step) over the last ``span + 1`` values."""
    cols = [z[:, -1]] + [slope(z[:, -(min(s, z.shape[1] - 1) + 1):]) for s in spans]
    return np.column_stack(cols)


def learn_guard_clips(
    z: npt.NDArray[np.float64], indicator: npt.NDArray[np.integer], n_indicators: int, spans: tuple[int, ...],
    quantile: float,
) -> npt.NDArray[np.float64]:
    """(n_indicators, len(spans) + 1) per indicator: the ``quantile`` of |deviation| and of |slope| per span
    over the training rows; indicators without rows get the median of the others."""
    moves = np.abs(guard_moves(z, spans))
    out = np.full((n_indicators, len(spans) + 1), np.nan)
    for i in np.unique(indicator):
        rows = moves[indicator == i]
        rows = rows[np.isfinite(rows).all(axis=1)]
        if rows.shape[0]:
            out[i] = np.quantile(rows, quantile, axis=0)
    fallback = np.nanmedian(out, axis=0) if np.isfinite(out).any() else np.full(out.shape[1], 0.1)
    return np.maximum(np.where(np.isfinite(out), out, fallback[None, :]), 1e-6)


def guarded_slope(
    z: npt.NDArray[np.float64], clips: npt.NDArray[np.float64], spans: tuple[int, ...], trend_guard: float,
    deviation_guard: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per row the slope (per step) to extrapolate and whether the guard is active.

    clips: (M, len(spans) + 1) the learned edges of each row's indicator (``learn_guard_clips``)."""
    moves = guard_moves(z, spans)
    dev, slopes = moves[:, 0], moves[:, 1:]
    unusual = np.abs(slopes) >= trend_guard * clips[:, 1:]
    direction = np.sign(dev)
    agree = np.where(unusual, np.sign(slopes) == direction[:, None], True).all(axis=1)
    deviating = np.abs(dev) >= deviation_guard * clips[:, 0]
    active = unusual.any(axis=1) & agree & deviating & (direction != 0)
    steepest = np.where(unusual, np.abs(slopes), 0.0).max(axis=1) * direction
    return np.where(active, steepest, 0.0), active
