"""Expected values from the catalog's seasonality, vectorized over arrays of readings.

The same function drives the simulator's normal behaviour and the z-score basis of warning levels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.units import DAY_S, NS_PER_S

_PROFILE_CODES = {"flat": 0, "commute": 1, "daytime": 2, "evening": 3}


def local_hour_and_weekend(
    ts_ns: npt.NDArray[np.int64], offset_hours: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Fractional local hour of day and a weekend flag for UTC nanosecond timestamps."""
    local_s = ts_ns.astype(np.float64) / NS_PER_S + offset_hours * 3600.0
    days = np.floor(local_s / DAY_S)
    hour = (local_s - days * DAY_S) / 3600.0
    dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return hour, dow >= 5


def profile_values(codes: npt.NDArray[np.integer], hour: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Profile shape in [0, 1] for profile codes at local hours."""
    commute = np.maximum(np.exp(-0.5 * ((hour - 8.0) / 1.5) ** 2), np.exp(-0.5 * ((hour - 18.0) / 1.5) ** 2))
    daytime = 0.5 * (1.0 + np.cos(2.0 * np.pi * (hour - 14.0) / 24.0))
    evening = 0.5 * (1.0 + np.cos(2.0 * np.pi * (hour - 20.0) / 24.0))
    out = np.zeros_like(hour)
    out = np.where(codes == 1, commute, out)
    out = np.where(codes == 2, daytime, out)
    return np.where(codes == 3, evening, out)


class SeasonalModel:
    """Per-indicator arrays of the catalog's seasonality, for fast vectorized expected values."""

    def __init__(self, catalog: Catalog) -> None:
        inds = catalog.indicators
        self.offset_hours = catalog.city.timezone_offset_hours
        self.profile = np.array([_PROFILE_CODES[i.seasonality.profile] for i in inds], dtype=np.int8)
        self.base = np.array([i.seasonality.base for i in inds], dtype=np.float64)
        self.amplitude = np.array([i.seasonality.amplitude for i in inds], dtype=np.float64)
        self.weekend = np.array([i.seasonality.weekend for i in inds], dtype=np.float64)
        self.noise = np.array([i.seasonality.noise for i in inds], dtype=np.float64)

    def expected(
        self, indicator: npt.NDArray[np.integer], ts_ns: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Expected (normal) value of each reading's indicator at its time."""
        hour, weekend = local_hour_and_weekend(ts_ns, self.offset_hours)
        shape = profile_values(self.profile[indicator], hour)
        factor = np.where(weekend, self.weekend[indicator], 1.0)
        return self.base[indicator] + self.amplitude[indicator] * shape * factor

    def zscore(
        self, indicator: npt.NDArray[np.integer], ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        return (value - self.expected(indicator, ts_ns)) / self.noise[indicator]
