"""Training works for any cadence: grid step, windows, horizons and the flow's lags follow the catalog's cadence,
and the flow takes them from the fitted model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from vitals_testing import SECOND_CITY

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, load_catalog, parse_catalog
from vitals.forecasting.cadence import Cadence, catalog_cadence, catalog_step_s, lag_resolution_s
from vitals.registry import ModelRegistry
from vitals.scoring import ShardScorer
from vitals.training import from_simulation, train
from vitals.units import NS_PER_S


def city_with_cadence(cadence_s: int) -> Catalog:
    """The second city with every indicator at one cadence."""
    doc = yaml.safe_load(SECOND_CITY.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    for ind in doc["indicators"]:
        ind["cadence_s"] = cadence_s
    return parse_catalog(doc, source=f"second city at {cadence_s} s")


def test_the_step_is_the_fastest_cadence_but_at_least_five_minutes() -> None:
    assert catalog_step_s(load_catalog()) == 300  # the model city (60 s .. 1 day) keeps its 5-minute grid
    assert catalog_step_s(load_catalog(SECOND_CITY)) == 600  # 10-minute and hourly indicators
    assert [catalog_step_s(city_with_cadence(c)) for c in (1, 3600, 86400)] == [300, 3600, 86400]
    assert Cadence(300).horizons_s == (900, 1800, 3600) and Cadence(300).window_s == 3600
    assert Cadence(3600).horizons_s == (3 * 3600, 6 * 3600, 12 * 3600) and Cadence(3600).window_s == 12 * 3600
    assert [lag_resolution_s(s) for s in (300, 600, 3600, 86400, 301, 302)] == [60, 120, 720, 17280, 301, 151]
    scorer = ShardScorer(city_with_cadence(3600), 0, 1)
    assert (scorer.lag_step_s, scorer.lag_steps, scorer.lags.step_s, scorer.hold_half_life_ns) == (
        3600, 12, 720, 7200 * NS_PER_S)
    assert catalog_cadence(load_catalog()).hold_half_life_s == 600.0  # the model city's flow is unchanged


class _Models:
    def __init__(self, registry: ModelRegistry) -> None:
        self.models = {family: registry.load(family) for family in ("forecaster", "window_model")}

    def forecaster(self) -> Any:
        return self.models["forecaster"]

    def window_model(self) -> Any:
        return self.models["window_model"]


@pytest.mark.parametrize(("cadence_s", "days"), [(3600, 30), (86400, 400)])
def test_an_hourly_or_daily_city_trains_both_families_and_the_flow_uses_their_geometry(
        tmp_path: Path, cadence_s: int, days: int) -> None:
    catalog = city_with_cadence(cadence_s)
    data = from_simulation(catalog, days=days, seed=3, progress=False)
    assert data.grid.step_s == cadence_s
    registry = ModelRegistry(tmp_path)
    results = train(data, catalog, registry, promote=True, progress=False)
    assert [r.family for r in results] == ["forecaster", "window_model"]
    forecaster, window_model = registry.load("forecaster"), registry.load("window_model")
    assert forecaster.step_s == cadence_s and forecaster.window_steps == 12
    assert forecaster.horizons_s == (3 * cadence_s, 6 * cadence_s, 12 * cadence_s)
    assert window_model.step_s_ == cadence_s and window_model.window_s == 12 * cadence_s
    assert results[1].metrics["heldout_windows"] > 0
    forecast = results[0].metrics
    label = f"mae_{6 * cadence_s // 60}m"
    assert forecast[label] < forecast[f"{label}_persistence"]
    # the flow's scorer, fed the same city reading by reading, forecasts from a window of the model's geometry
    scorer = ShardScorer(catalog, 0, 1, lag_step_s=300)  # a mismatched start: the model's geometry wins
    models = _Models(registry)
    grid = data.grid
    ends = grid.column_end_ns()
    for t in range(grid.n_steps - 40, grid.n_steps):
        scorer.update(catalog, ReadingBatch(np.full(grid.n_series, ends[t] - NS_PER_S), grid.indicator,
                                            grid.street, grid.values[:, t].astype(np.float64)), models)
    assert (scorer.lag_step_s, scorer.lag_steps) == (cadence_s, 12)
    assert scorer.horizons == catalog_cadence(catalog).horizon_labels  # the labels /metrics and the rules use
    assert scorer.horizons == {3600: ("3h", "6h", "12h"), 86400: ("3d", "6d", "12d")}[cadence_s]
    assert np.isfinite(scorer.forecast_value[grid.series]).all()
    window = scorer.lag_window(int(ends[-1]))
    assert window.shape == (scorer.n_rows, 13)
    # the window as of the last reading holds the grid's last 13 columns (a cell per step, newest last)
    np.testing.assert_array_equal(window[grid.series][:, -1], grid.values[:, -1])
    np.testing.assert_array_equal(window[grid.series][:, 0], grid.values[:, -13])
    # readings never forecast below the valid range
    low = catalog.valid_min_array[grid.indicator][:, None]
    assert (scorer.forecast_value[grid.series] >= low - 1e-9).all()
