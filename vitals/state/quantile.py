"""A fixed-grid histogram sketch for the high quantile (p95) of a rolling window.

Each indicator gets a value grid over a working range ``[lo, hi)`` taken from the catalog (the seasonal band,
the warning thresholds, clipped to the valid range): ``n_bins - 2`` equal bins inside, one underflow bin below
``lo`` and one overflow bin at or above ``hi``. Every ring bucket keeps one uint8 count per bin (saturating
at 255), so a window's histogram is the sum of its buckets' histograms.

The estimate of the nearest-rank quantile (the reading of rank ``ceil(q * N)`` in the sorted window, numpy's
``method="inverted_cdf"``) interpolates linearly inside the bin that holds that rank, with the bin's edges
clamped to the window's exact min and max. Guarantee (while no bin of a bucket saturates): the estimate and
the true value lie in the same clamped bin, so the error is at most ``min(bin width, max - min)``; when the rank
is ``N`` (any window of fewer than 20 readings for p95) the estimate is the exact max.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog, Indicator

DEFAULT_BINS = 24


def _working_range(ind: Indicator) -> tuple[float, float]:
    """Seasonal band (+-4 noise) united with the thresholds' span, padded 10 %, clipped to the valid range."""
    s = ind.seasonality
    swing = (0.0, s.amplitude, s.amplitude * s.weekend)
    band_lo, band_hi = s.base + min(swing) - 4 * s.noise, s.base + max(swing) + 4 * s.noise
    th = tuple(v for _, v in ind.thresholds.given()) or (band_lo, band_hi)  # none set: the band alone
    if not ind.thresholds.given():
        th_lo, th_hi = band_lo, band_hi
    elif ind.basis == "zscore":
        th_lo, th_hi = band_lo, s.base + max(swing) + max(th) * s.noise
    elif ind.bad == "both":
        th_lo, th_hi = ind.center - max(th), ind.center + max(th)
    else:
        th_lo, th_hi = min(th), max(th)
    lo, hi = min(band_lo, th_lo), max(band_hi, th_hi)
    pad = 0.1 * (hi - lo)
    lo, hi = max(lo - pad, ind.valid_min), min(hi + pad, ind.valid_max)
    if not hi > lo:
        lo, hi = ind.valid_min, ind.valid_max
    return lo, hi


class QuantileGrid:
    """Per-indicator bin grids; maps values to bins and estimates quantiles from bin counts."""

    def __init__(self, catalog: Catalog, n_bins: int = DEFAULT_BINS) -> None:
        self.n_bins = n_bins
        ranges = np.array([_working_range(i) for i in catalog.indicators], dtype=np.float64).reshape(-1, 2)
        self.lo = ranges[:, 0]
        self.width = (ranges[:, 1] - ranges[:, 0]) / (n_bins - 2)

    def bins(self, indicator: npt.NDArray[np.integer], values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Bin of each value: 0 underflow, 1..n_bins-2 inside, n_bins-1 overflow."""
        if len(values) == 1:  # one reading (a sparse feed's piece): the same float64 operations in scalars
            i = int(indicator[0])
            pos = math.floor((float(values[0]) - float(self.lo[i])) / float(self.width[i])) + 1.0 \
                if math.isfinite(values[0]) and math.isfinite(self.width[i]) and self.width[i] != 0 else math.nan
            if math.isfinite(pos):
                return np.array([int(min(max(pos, 0.0), float(self.n_bins - 1)))], dtype=np.int64)
        pos = np.floor((values - self.lo[indicator]) / self.width[indicator]) + 1.0
        return np.clip(pos, 0, self.n_bins - 1).astype(np.int64)

    def edges(
        self, indicator: npt.NDArray[np.integer], bins: npt.NDArray[np.integer]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Lower and upper edge of each bin (-inf / +inf for the under- and overflow bins)."""
        lo, width = self.lo[indicator], self.width[indicator]
        lower = np.where(bins >= 1, lo + (bins - 1) * width, -np.inf)
        upper = np.where(bins <= self.n_bins - 2, lo + bins * width, np.inf)
        return lower, upper

    def quantile(
        self,
        indicator: npt.NDArray[np.integer],
        hist: npt.NDArray[np.integer],
        low: npt.NDArray[np.float64],
        high: npt.NDArray[np.float64],
        percent: int = 95,
    ) -> npt.NDArray[np.float64]:
        """Nearest-rank ``percent`` quantile of each row of ``hist`` (shape (N, n_bins)); NaN for empty rows.

        ``low``/``high`` are the exact window min and max, used to clamp the bin edges.
        """
        counts = hist.astype(np.int64)
        cum = np.cumsum(counts, axis=1)
        total = cum[:, -1]
        rank = (percent * total + 99) // 100  # ceil(percent/100 * N) in integers
        k = np.argmax(cum >= np.maximum(rank, 1)[:, None], axis=1)
        rows = np.arange(len(k))
        before = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0)
        in_bin = np.maximum(counts[rows, k], 1)
        lower, upper = self.edges(indicator, k)
        lower, upper = np.maximum(lower, low), np.minimum(upper, high)
        est = lower + (rank - before) / in_bin * (upper - lower)
        est = np.where(rank >= total, high, est)
        return np.where(total > 0, est, np.nan)
