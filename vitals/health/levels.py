"""Level semantics, in one place: how a value of an indicator becomes a warning level 0 normal, 1 blue,
2 yellow, 3 orange, 4 red (names and codes: ``LEVEL_NAMES``, ``LEVELS``, ``ORANGE`` ... in
:mod:`vitals.catalog.model`, next to the thresholds they name; the sign of each bad direction: ``BAD_SIGN``).

``bad=up`` counts thresholds at or below the value, ``bad=down`` thresholds at or above it, ``bad=both``
thresholds at or below ``|value - center|``; ``basis=zscore`` indicators compare the seasonal z-score instead of
the value. Everything that needs this reads it here: the series state (:func:`badness`, :func:`oriented_thresholds`),
hysteresis (:func:`threshold_gaps`), alert rule annotations (:func:`condition_text`), dashboard colours
(:func:`value_edges`), the simulator (:func:`offset_to_threshold`) and the forecaster. Vectorized functions work
on arrays of readings or series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import BAD_SIGN, Catalog, Indicator
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
    x = np.asarray(value, dtype=np.float64)
    if len(x) == 1 and not catalog.zscore_array[indicator[0]]:  # one reading (a sparse feed's piece), in scalars
        i, v = int(indicator[0]), float(x[0])
        sign = int(catalog.direction_array[i])
        return np.array([abs(v - float(catalog.center_array[i])) if sign == 0 else sign * v])
    zmask = np.take(catalog.zscore_array, indicator)
    if zmask.any():  # the seasonal model only for the z-score readings (the state calls this per batch)
        model = seasonal or SeasonalModel(catalog)
        x = x.copy()
        if expected is not None:  # SeasonalModel.zscore with the expected value given
            x[zmask] = (x[zmask] - expected[zmask]) / model.noise[indicator[zmask]]
        elif ts_ns is None:
            msg = "z-score indicators need event times to compute their seasonal expected value"
            raise ValueError(msg)
        else:
            x[zmask] = model.zscore(indicator[zmask], ts_ns[zmask], x[zmask])
    direction = np.take(catalog.direction_array, indicator)
    return np.where(direction == 0, np.abs(x - np.take(catalog.center_array, indicator)), direction * x)


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


@dataclass(frozen=True)
class LevelEdge:
    """Where the levels begin on one side of an indicator's values: level ``k`` (1..4) holds from
    ``thresholds[k - 1]`` on, upwards when ``worse_above``, downwards otherwise (NaN: the catalog does not set
    that level)."""

    worse_above: bool
    thresholds: tuple[float, ...]


def value_edges(ind: Indicator, factor: float = 1.0) -> tuple[LevelEdge, ...]:
    """The level edges of an indicator, lowest values first, in what its thresholds compare: the value times
    ``factor`` (e.g. the shown unit), or the seasonal z-score (``basis=zscore``, never scaled). ``bad=up``: one edge
    upwards; ``bad=down``: one downwards; ``bad=both``: ``center - t`` downwards and ``center + t`` upwards."""
    scale = 1.0 if ind.basis == "zscore" else factor
    levels = tuple(t * scale for t in ind.thresholds.as_tuple())
    if ind.bad == "up":
        return (LevelEdge(True, levels),)
    if ind.bad == "down":
        return (LevelEdge(False, levels),)
    c = ind.center * scale
    return LevelEdge(False, tuple(c - t for t in levels)), LevelEdge(True, tuple(c + t for t in levels))


def condition_text(ind: Indicator, level: str) -> str:
    """The threshold of ``level`` as a condition a reader understands, e.g. "≥ 7 index", "≤ 20 km/h",
    "|x − 50| ≥ 5 Hz", "z ≥ 3" (z-score indicators compare the seasonal z-score, in the same bad direction)."""
    if not ind.thresholds.is_set(level):
        return "not set (this level is never raised)"
    threshold = getattr(ind.thresholds, level)
    z = ind.basis == "zscore"
    unit = "" if z else f" {ind.unit}"
    if ind.bad == "both":
        return f"|{'z' if z else 'x'} − {ind.center:g}| ≥ {threshold:g}{unit}"
    return f"{'z ' if z else ''}{'≤' if ind.bad == 'down' else '≥'} {threshold:g}{unit}"


def offset_to_threshold(ind: Indicator, threshold: float) -> float:
    """The signed change of the value from the indicator's normal (its seasonal base; for ``bad=both`` the centre,
    upwards; for z-score indicators a z of 0) that reaches ``threshold`` (a catalog threshold in the indicator's
    own terms: a value, a distance from the centre or a z-score). NaN for a threshold that is not set."""
    if math.isnan(threshold):
        return math.nan
    if ind.basis == "zscore":
        return threshold * ind.seasonality.noise
    if ind.bad == "both":
        return threshold
    return threshold - ind.seasonality.base


def bad_sign(ind: Indicator) -> int:
    """+1 when higher values are worse, -1 when lower values are, 0 for ``bad=both`` (either side of the centre)."""
    return BAD_SIGN[ind.bad]
