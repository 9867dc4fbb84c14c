"""Health index and worst warning level per street, district and city, from the per-series levels of a view.

The health index (0..100, 100 = every series normal) counts **severity** and **breadth**, per domain, so that
one red or orange street visibly pulls its district and the city down (docs/vitals.md has the reasoning):

1. severity of a series: ``x = (w / w_max) * level / 4`` (``w`` the indicator's catalog weight, ``w_max`` the
   largest weight of the catalog; 0 for normal, ``w / w_max`` for red);
2. per street and domain: ``s = max x`` over the street's series of that domain;
3. per area (street, district, city) and domain, over the area's streets reporting that domain:
   ``peak = max s``, ``breadth = mean s`` and ``damage_d = PEAK_SHARE * peak + (1 - PEAK_SHARE) * breadth``;
4. per area: ``worst = max_d damage_d``, ``spread = mean_d damage_d`` over the domains with data, and
   ``health = 100 * (1 - (worst + (1 - worst) * spread))``; NaN for an area without data.

Every step is a max or a mean of the levels, so health never rises when a level rises; counts of series do not
matter (a normal series more or less changes nothing), counts of streets only as a share. One street at level
``l`` on an indicator of weight ``w`` caps its district and the city at ``100 * (1 - PEAK_SHARE * w / w_max * l / 4)``
(50 for red on the heaviest indicator).

Worst level: the max series level in the area (a street's over its series; a district's over all its series,
which equals the max over its streets; the city's over everything). The *area level* adds hysteresis on top:
it goes up at once and goes down only after the worst level has stayed below it for ``hold`` consecutive
roll-ups (default: the catalog's ``hysteresis.intervals``), then takes the worst level of that roll-up. A
roll-up is one call (typically one per published view), so this part depends on how often it is called.

Use :func:`rollup` (pass the previous :class:`HealthView` to carry the hysteresis) or the small stateful
:class:`HealthRollup`. Everything is vectorized (``np.maximum.at`` / ``np.add.at`` over streets x domains).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.state.view import VitalsView


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


MAX_LEVEL = 4
PEAK_SHARE = 0.5  # weight of the worst street against the share of affected streets, per domain


def severity(catalog: Catalog, indicator: npt.NDArray[np.integer], level: npt.NDArray[np.floating]
             ) -> npt.NDArray[np.float64]:
    """``(w / w_max) * level / 4`` per series: 0 for normal, up to 1 for red on the heaviest indicator."""
    weights = catalog.weight_array
    top = float(weights.max()) if len(weights) else 0.0
    relative = weights / top if top > 0 else np.zeros_like(weights)
    return relative[indicator] * np.asarray(level, dtype=np.float64) / MAX_LEVEL


def street_domain_severity(
    catalog: Catalog, street: npt.NDArray[np.int64], indicator: npt.NDArray[np.integer], x: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(n_streets, n_domains): the worst severity of each street's series in each domain, and which pairs have data."""
    n_domains = len(catalog.domain_names)
    key = street * n_domains + catalog.domain_code_array[indicator].astype(np.int64)
    size = catalog.n_streets * n_domains
    worst = np.zeros(size)
    np.maximum.at(worst, key, x)
    has = np.bincount(key, minlength=size) > 0
    return worst.reshape(catalog.n_streets, n_domains), has.reshape(catalog.n_streets, n_domains)


def combine_domains(damage: npt.NDArray[np.float64], has: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Health per area from its (areas, domains) damage: ``100 * (1 - (worst + (1 - worst) * mean))``."""
    n = has.sum(axis=1)
    damage = np.where(has, damage, 0.0)
    worst = damage.max(axis=1, initial=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = damage.sum(axis=1) / n
        return np.where(n > 0, 100.0 * (1.0 - (worst + (1.0 - worst) * spread)), np.nan)


def group_health(
    group: npt.NDArray[np.int64], size: int, s: npt.NDArray[np.float64], has: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Health of areas made of streets (``group[street]`` = area code) from the street x domain severities."""
    n_domains = s.shape[1]
    peak = np.zeros((size, n_domains))
    np.maximum.at(peak, group, np.where(has, s, 0.0))
    total = np.zeros((size, n_domains))
    np.add.at(total, group, np.where(has, s, 0.0))
    streets = np.zeros((size, n_domains), dtype=np.int64)
    np.add.at(streets, group, has.astype(np.int64))
    with np.errstate(invalid="ignore", divide="ignore"):
        breadth = np.where(streets > 0, total / np.maximum(streets, 1), 0.0)
    return combine_domains(PEAK_SHARE * peak + (1.0 - PEAK_SHARE) * breadth, streets > 0)


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
    level_f = view.column("level") if len(view) else np.empty(0)
    level = level_f.astype(np.int8)
    n_streets, n_districts = catalog.n_streets, len(catalog.districts)
    x = severity(catalog, view.indicator, level_f)
    sd, has = street_domain_severity(catalog, street, view.indicator, x)
    s_health = combine_domains(sd, has)
    street_district = catalog.street_district_array.astype(np.int64)
    d_health = group_health(street_district, n_districts, sd, has)
    c_health = group_health(np.zeros(n_streets, np.int64), 1, sd, has)
    s_n = np.bincount(street, minlength=n_streets)
    d_n = np.bincount(district, minlength=n_districts)
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
