"""The one home of level semantics agrees with itself: for every bad direction (up, down, both) and basis (value,
z-score), the level edges that dashboards and plots draw (``value_edges``) and the condition alert annotations
print (``condition_text``) say what ``warning_levels`` (the state's badness against the thresholds) computes."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from vitals.catalog import Catalog, SeasonalModel
from vitals.catalog.model import LEVELS, Thresholds
from vitals.health.levels import LevelEdge, condition_text, value_edges, warning_levels
from vitals.units import NS_PER_S

NAN = math.nan
TS = 1_772_409_600 * NS_PER_S  # 2026-03-02T00:00:00Z
# thresholds as a catalog gives them for each direction (yellow not set: crossing orange jumps to 3)
VARIANTS = {"up": (Thresholds(1.0, NAN, 3.0, 4.0), 0.0), "down": (Thresholds(-1.0, NAN, -3.0, -4.0), 0.0),
            "both": (Thresholds(1.0, NAN, 3.0, 4.0), 0.5)}


def _level_by_edges(edges: tuple[LevelEdge, ...], x: float) -> int:
    """The highest level whose edge ``x`` is at or beyond, on any side (0: none)."""
    reached = [k for e in edges for k, t in enumerate(e.thresholds, start=1)
               if not math.isnan(t) and (x >= t if e.worse_above else x <= t)]
    return max(reached, default=0)


def _variant(catalog: Catalog, code: int, bad: str) -> Catalog:
    thresholds, center = VARIANTS[bad]
    ind = replace(catalog.indicators[code], bad=bad, thresholds=thresholds, center=center)
    return replace(catalog, indicators=(*catalog.indicators[:code], ind, *catalog.indicators[code + 1:]))


@pytest.mark.parametrize("bad", ["up", "down", "both"])
@pytest.mark.parametrize("basis_of", ["substation_load", "hotline_tickets"])  # basis value / zscore
def test_edges_and_conditions_say_what_the_levels_compute(small_catalog: Catalog, bad: str, basis_of: str) -> None:
    code = small_catalog.indicator_index[basis_of]
    catalog = _variant(small_catalog, code, bad)
    ind = catalog.indicators[code]
    edges = value_edges(ind)
    # the compared quantity (a value, or a z-score) just around every edge and far beyond both ends
    points = sorted({t + d for e in edges for t in e.thresholds if not math.isnan(t) for d in (-1e-9, 0.0, 1e-9)}
                    | {-100.0, 0.25, 100.0})
    q = np.array(points)
    ts = np.full(q.size, TS, dtype=np.int64)
    codes = np.full(q.size, code, dtype=np.int64)
    if ind.basis == "zscore":  # readings whose seasonal z-score is q
        seasonal = SeasonalModel(catalog)
        values = seasonal.expected(codes, ts) + q * seasonal.noise[code]
        q = seasonal.zscore(codes, ts, values)  # the z-scores as the state computes them (rounding included)
    else:
        values = q
    levels = warning_levels(catalog, codes, values, ts)
    assert [int(v) for v in levels] == [_level_by_edges(edges, float(x)) for x in q]
    assert set(int(v) for v in levels) == {0, 1, 3, 4}  # every reachable level is reached, yellow is not
    texts = {level: condition_text(ind, level) for level in LEVELS}
    assert texts["yellow"] == "not set (this level is never raised)"
    z = ind.basis == "zscore"
    quantity = "z" if z else "x"
    expected_orange = {"up": f"{'z ' if z else ''}≥ 3", "down": f"{'z ' if z else ''}≤ -3",
                       "both": f"|{quantity} − 0.5| ≥ 3"}[bad]
    assert texts["orange"] == expected_orange + ("" if z else f" {ind.unit}")


def test_value_edges_scale_values_but_not_z_scores(small_catalog: Catalog) -> None:
    both = _variant(small_catalog, small_catalog.indicator_index["substation_load"], "both")
    ind = both.indicator("substation_load")
    low, high = value_edges(ind, factor=2.0)
    assert (low.worse_above, high.worse_above) == (False, True)
    assert low.thresholds[0] == 2.0 * 0.5 - 2.0 * 1.0 and high.thresholds[3] == 2.0 * 0.5 + 2.0 * 4.0
    z = small_catalog.indicator("hotline_tickets")
    assert value_edges(z, factor=3.6) == value_edges(z)
