"""Warning levels from the catalog thresholds: 0 normal, 1 blue, 2 yellow, 3 orange, 4 red (names and codes:
``LEVEL_NAMES``, ``LEVELS``, ``ORANGE`` ... in :mod:`vitals.catalog.model`, the bottom layer).

Vectorized over arrays of readings or series. ``bad=up`` counts thresholds at or below the value,
``bad=down`` thresholds at or above it, ``bad=both`` thresholds at or below ``|value - center|``;
``basis=zscore`` indicators compare the seasonal z-score instead of the value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import SeasonalModel


def badness(
    catalog: Catalog,
    indicator: npt.NDArray[np.integer],
    value: npt.NDArray[np.float64],
    ts_ns: npt.NDArray[np.int64] | None = None,
    seasonal: SeasonalModel | None = None,
    *,
    expected: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """The quantity the thresholds apply to, oriented so that higher is worse.

    up: value; down: -value; both: |value - center|; zscore basis: the z-score (needs ``ts_ns``, or the
    seasonal ``expected`` value of every row when the caller has it already).
    Thresholds are oriented the same way by :func:`oriented_thresholds`.
    """
    direction = catalog.direction_array[indicator]
    x = np.asarray(value, dtype=np.float64)
    zmask = catalog.zscore_array[indicator]
    if zmask.any():
        model = seasonal or SeasonalModel(catalog)
        if expected is not None:
            z = (x - expected) / model.noise[indicator]  # SeasonalModel.zscore with the expected value given
        elif ts_ns is None:
            msg = "z-score indicators need event times to compute their seasonal expected value"
            raise ValueError(msg)
        else:
            z = model.zscore(indicator, ts_ns, x)
        x = np.where(zmask, z, x)
    both = np.abs(x - catalog.center_array[indicator])
    return np.where(direction == 0, both, np.where(direction < 0, -x, x))


def oriented_thresholds(catalog: Catalog) -> npt.NDArray[np.float64]:
    """Shape (n_indicators, 4), oriented so that higher is worse (bad=down thresholds negated)."""
    th = catalog.thresholds_array.copy()
    down = catalog.direction_array < 0
    th[down] = -th[down]
    return th


def threshold_gaps(catalog: Catalog) -> npt.NDArray[np.float64]:
    """Shape (n_indicators, 4): per level, the oriented distance from its threshold to the next lower distinct
    one (the lowest set level: to the next higher one; a single threshold: its own magnitude, at least 1e-9).
    Hysteresis margins are fractions of these gaps; levels that are not set share their effective threshold's gap.
    """
    th = oriented_thresholds(catalog)
    out = np.zeros_like(th)
    for row, values in enumerate(th):
        distinct = np.unique(values[np.isfinite(values)])
        for k, v in enumerate(values):
            if not np.isfinite(v):
                out[row, k] = 1.0
                continue
            lower, higher = distinct[distinct < v], distinct[distinct > v]
            out[row, k] = (v - lower[-1] if lower.size else higher[0] - v if higher.size
                           else max(abs(float(v)), 1e-9))
    return out


def warning_levels(
    catalog: Catalog,
    indicator: npt.NDArray[np.integer],
    value: npt.NDArray[np.float64],
    ts_ns: npt.NDArray[np.int64] | None = None,
    seasonal: SeasonalModel | None = None,
) -> npt.NDArray[np.int8]:
    """Level 0..4 of each value; NaN values give level 0."""
    return levels_of_badness(catalog, indicator, badness(catalog, indicator, value, ts_ns, seasonal))


def levels_of_badness(
    catalog: Catalog, indicator: npt.NDArray[np.integer], bad: npt.NDArray[np.float64]
) -> npt.NDArray[np.int8]:
    """Level 0..4 of each badness (:func:`badness`); NaN gives level 0."""
    th = oriented_thresholds(catalog)[indicator]
    with np.errstate(invalid="ignore"):
        return (bad[:, None] >= th).sum(axis=1).astype(np.int8)
