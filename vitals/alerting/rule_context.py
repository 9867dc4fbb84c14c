"""What every generated rule test needs: the catalog, the options and the evaluation step."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

from vitals.alerting.options import AlertingOptions, Hold
from vitals.alerting.rule_oracle import Oracle
from vitals.alerting.rule_scenarios import Scenario
from vitals.catalog import Catalog, District, Indicator, Street
from vitals.errors import ExportError


@dataclass
class Context:
    catalog: Catalog
    options: AlertingOptions
    step: int

    def steps(self, seconds: int) -> int:
        return seconds // self.step

    def stage(self, *holds: Hold) -> int:
        """Steps of a phase long enough for every ``for`` to pass with room to check."""
        return max(self.steps(h.for_s) for h in holds) + 4

    def tail(self, *holds: Hold) -> int:
        return max(self.steps(h.keep_s) for h in holds) + 3

    def dip(self, *holds: Hold) -> int:
        """Steps of a dip shorter than every ``keep_firing_for`` (0 when keep_firing_for is too short)."""
        return 2 if min(self.steps(h.keep_s) for h in holds) >= 3 else 0

    def oracle(self, scenario: Scenario) -> Oracle:
        return Oracle(self.catalog, self.options, scenario)


def test_step(options: AlertingOptions, *holds: str) -> int:
    """Evaluation interval of a test file: the largest step (at most 1 minute) that divides the timings of
    the named holds (default: all)."""
    chosen = [options.hold(name) for name in holds] if holds else list(options.holds.values())
    seconds = [s for h in chosen for s in (h.for_s, h.keep_s) if s]
    return reduce(math.gcd, seconds, 60)


def district_streets(ctx: Context, count: int) -> list[tuple[District, list[Street], int]]:
    """``count`` districts with enough streets, each with the number of streets a district-wide alert needs."""
    s = ctx.options.sensitivity
    picked = []
    by_size = sorted(ctx.catalog.districts, key=lambda d: len(ctx.catalog.streets_of(d.id)))
    for district in by_size:
        streets = list(ctx.catalog.streets_of(district.id))
        need = max(s.district_min_streets, math.ceil(s.district_share * len(streets)))
        if need <= len(streets) and need >= 2:
            picked.append((district, streets, need))
        if len(picked) == count:
            return picked
    msg = f"the catalog has fewer than {count} districts with enough streets to test district-wide alerts"
    raise ExportError(msg)


def value_at_level(ind: Indicator, level: int) -> float:
    """A value shown for ``level`` in the test series: its threshold, or where the catalog sets none, the
    seasonal base moved ``level`` noise sd in the bad direction (only the annotations show it)."""
    if level == 0:
        return ind.seasonality.base
    value = ind.thresholds.as_tuple()[level - 1]
    if math.isnan(value):
        return ind.seasonality.base + level * ind.seasonality.noise * (-1.0 if ind.bad == "down" else 1.0)
    return value
