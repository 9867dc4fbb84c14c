"""Health roll-up and area quality equal pandas groupby oracles; area levels do not flap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.health import HealthRollup, rollup
from vitals.quality import area_quality
from vitals.state import VitalsView


def _random_view(catalog: Catalog, rng: np.random.Generator, n: int) -> VitalsView:
    series = np.sort(rng.choice(catalog.n_series, size=n, replace=False)).astype(np.int64)
    ind, street = catalog.split_series_id(series)
    level = rng.choice(5, size=n, p=[0.6, 0.15, 0.1, 0.1, 0.05]).astype(np.float64)
    columns = {"level": level, "seconds_since_last": rng.exponential(600, n), "stuck": (rng.random(n) < 0.1) * 1.0,
               "dropout_ratio": rng.random(n)}
    return VitalsView(series, ind.astype(np.int16), street.astype(np.int32), columns, 0.0)


def _frame(catalog: Catalog, view: VitalsView) -> pd.DataFrame:
    return pd.DataFrame({
        "street": view.street, "district": catalog.street_district_array[view.street],
        "indicator": view.indicator, "w": catalog.weight_array[view.indicator], "level": view.column("level"),
        "stale": view.column("seconds_since_last") > 3 * catalog.cadence_array[view.indicator],
        "stuck": view.column("stuck"), "dropout": view.column("dropout_ratio"),
    })


def _oracle_health(df: pd.DataFrame, key: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    g = df.assign(bad=df.w * df.level / 4).groupby(key)
    health = (100 * (1 - g.bad.sum() / g.w.sum())).reindex(range(size))
    worst = g["level"].max().reindex(range(size)).fillna(0)
    return health.to_numpy(), worst.to_numpy()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 600))
def test_rollup_equals_a_groupby_oracle(small_catalog: Catalog, seed: int, n: int):
    view = _random_view(small_catalog, np.random.default_rng(seed), n)
    health = rollup(small_catalog, view)
    df = _frame(small_catalog, view)
    for key, h, lvl in (("street", health.street_health, health.street_level),
                        ("district", health.district_health, health.district_level)):
        size = small_catalog.n_streets if key == "street" else len(small_catalog.districts)
        exp_h, exp_l = _oracle_health(df, key, size)
        np.testing.assert_allclose(h, exp_h, rtol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(lvl, exp_l)
    if n:
        assert np.isclose(health.city_health, 100 * (1 - (df.w * df.level / 4).sum() / df.w.sum()), rtol=1e-12)
        assert health.city_level == df.level.max()
    else:
        assert np.isnan(health.city_health) and health.city_level == 0


@given(seed=st.integers(0, 2**32 - 1))
def test_area_quality_equals_a_groupby_oracle(small_catalog: Catalog, seed: int):
    view = _random_view(small_catalog, np.random.default_rng(seed), 400)
    q = area_quality(small_catalog, view)
    agg = _frame(small_catalog, view).groupby(["indicator", "district"]).agg(
        n=("w", "size"), stale=("stale", "sum"), stuck=("stuck", "sum"), dropout=("dropout", "mean"))
    i, d = agg.index.get_level_values(0), agg.index.get_level_values(1)
    np.testing.assert_array_equal(q.series[i, d], agg.n)
    np.testing.assert_array_equal(q.stale[i, d], agg.stale)
    np.testing.assert_array_equal(q.stuck[i, d], agg.stuck)
    np.testing.assert_allclose(q.dropout_ratio[i, d], agg.dropout, rtol=1e-12)
    assert q.series.sum() == 400 and np.isnan(q.dropout_ratio[q.series == 0]).all()


def test_area_level_goes_up_at_once_and_down_only_after_hold_rollups(small_catalog: Catalog):
    series = np.array([5, 5 + small_catalog.n_streets], np.int64)  # two indicators of street 5
    ind, street = small_catalog.split_series_id(series)

    def view(levels: list[float]) -> VitalsView:
        return VitalsView(series, ind.astype(np.int16), street.astype(np.int32), {"level": np.array(levels)}, 0.0)

    rolling = HealthRollup(small_catalog, hold=3)
    seen = [rolling.update(view(v)).street_level[street[0]] for v in
            ([0, 0], [3, 0], [1, 0], [3, 0], [1, 0], [1, 0], [1, 0], [0, 2])]
    assert seen == [0, 3, 3, 3, 3, 3, 1, 2]
    last = rolling.last
    assert last is not None and last.city_level == 2 and last.district_worst.max() == 2
