"""Health index and worst warning level per street, district and city, from the per-series levels of a view.

Health of an area (street, district or city) over the series with data in it:
``100 * (1 - sum(w_i * penalty(level_i)) / sum(w_i))`` with ``w_i`` the indicator's catalog weight and
``penalty = level / 4`` (0, .25, .5, .75, 1 for normal .. red); NaN where the area has no series with data.
``level`` is the series' hysteresis level (the view column ``level``).

Worst level: the max series level in the area (a street's over its series; a district's over all its series,
which equals the max over its streets; the city's over everything). The *area level* adds hysteresis on top:
it goes up at once and goes down only after the worst level has stayed below it for ``hold`` consecutive
roll-ups (default: the catalog's ``hysteresis.intervals``), then takes the worst level of that roll-up. A
roll-up is one call (typically one per published view), so this part depends on how often it is called.

Use :func:`rollup` (pass the previous :class:`HealthView` to carry the hysteresis) or the small stateful
:class:`HealthRollup`. Everything is vectorized with ``np.bincount`` / ``np.maximum.at``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.state.view import VitalsView

MAX_LEVEL = 4


@dataclass(frozen=True, eq=False)
class HealthView:
    """Street arrays are indexed by street code, district arrays by district code."""

    street_health: npt.NDArray[np.float64]
    street_level: npt.NDArray[np.int8]        # with area hysteresis
    street_worst: npt.NDArray[np.int8]        # worst series level right now (no area hysteresis)
    street_series: npt.NDArray[np.int64]      # series with data
    district_health: npt.NDArray[np.float64]
    district_level: npt.NDArray[np.int8]
    district_worst: npt.NDArray[np.int8]
    district_series: npt.NDArray[np.int64]
    city_health: float
    city_level: int
    city_worst: int
    # hysteresis memory: consecutive roll-ups with the worst level below the area level
    street_quiet: npt.NDArray[np.int16]
    district_quiet: npt.NDArray[np.int16]
    city_quiet: int


def health_index(
    group: npt.NDArray[np.int64], size: int, weight: npt.NDArray[np.float64], level: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Health per group (NaN for groups without series) and the number of series per group."""
    w = np.bincount(group, weights=weight, minlength=size)
    bad = np.bincount(group, weights=weight * level / MAX_LEVEL, minlength=size)
    n = np.bincount(group, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        health = np.where(n > 0, 100.0 * (1.0 - bad / w), np.nan)
    return health, n


def worst_level(group: npt.NDArray[np.int64], size: int, level: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    out = np.zeros(size, dtype=np.int8)
    np.maximum.at(out, group, level)
    return out


def hold_levels(
    worst: npt.NDArray[np.int8], level: npt.NDArray[np.int8] | None, quiet: npt.NDArray[np.int16] | None,
    hold: int,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int16]]:
    """Area hysteresis: up at once, down after ``hold`` consecutive roll-ups below the current level."""
    if level is None or quiet is None:
        return worst.copy(), np.zeros(len(worst), dtype=np.int16)
    below = worst < level
    count = np.where(below, quiet.astype(np.int32) + 1, 0)
    drop = below & (count >= hold)
    new_level = np.where(worst > level, worst, np.where(drop, worst, level)).astype(np.int8)
    return new_level, np.where(drop, 0, np.minimum(count, np.iinfo(np.int16).max)).astype(np.int16)


def rollup(
    catalog: Catalog, view: VitalsView, previous: HealthView | None = None, hold: int | None = None
) -> HealthView:
    """Health and levels of every street, district and the city from a view of all series (any shards)."""
    hold = catalog.hysteresis.intervals if hold is None else hold
    street = view.street.astype(np.int64)
    district = catalog.street_district_array[street].astype(np.int64)
    weight = catalog.weight_array[view.indicator]
    level_f = view.column("level") if len(view) else np.empty(0)
    level = level_f.astype(np.int8)
    n_streets, n_districts = catalog.n_streets, len(catalog.districts)
    s_health, s_n = health_index(street, n_streets, weight, level_f)
    d_health, d_n = health_index(district, n_districts, weight, level_f)
    c_health, _ = health_index(np.zeros(len(view), np.int64), 1, weight, level_f)
    s_worst, d_worst = worst_level(street, n_streets, level), worst_level(district, n_districts, level)
    c_worst = worst_level(np.zeros(len(view), np.int64), 1, level)
    if previous is None:
        s_level, s_quiet = hold_levels(s_worst, None, None, hold)
        d_level, d_quiet = hold_levels(d_worst, None, None, hold)
        c_level, c_quiet = hold_levels(c_worst, None, None, hold)
    else:
        p = previous
        s_level, s_quiet = hold_levels(s_worst, p.street_level, p.street_quiet, hold)
        d_level, d_quiet = hold_levels(d_worst, p.district_level, p.district_quiet, hold)
        c_level, c_quiet = hold_levels(
            c_worst, np.array([p.city_level], np.int8), np.array([p.city_quiet], np.int16), hold)
    return HealthView(
        street_health=s_health, street_level=s_level, street_worst=s_worst, street_series=s_n,
        district_health=d_health, district_level=d_level, district_worst=d_worst, district_series=d_n,
        city_health=float(c_health[0]), city_level=int(c_level[0]), city_worst=int(c_worst[0]),
        street_quiet=s_quiet, district_quiet=d_quiet, city_quiet=int(c_quiet[0]),
    )


class HealthRollup:
    """Stateful wrapper of :func:`rollup` that keeps the previous roll-up (picklable)."""

    def __init__(self, catalog: Catalog, hold: int | None = None) -> None:
        self.catalog = catalog
        self.hold = hold
        self.last: HealthView | None = None

    def update(self, view: VitalsView) -> HealthView:
        self.last = rollup(self.catalog, view, self.last, self.hold)
        return self.last
