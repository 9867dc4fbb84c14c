"""Health roll-up and area quality equal pandas groupby oracles; health falls with every level, one red street
pulls its district and the city below the documented bound; area levels do not flap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.health.area_quality import area_quality
from vitals.health.rollup import PEAK_SHARE, HealthRollup, HealthView, rollup
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


def _oracle_health(catalog: Catalog, df: pd.DataFrame, key: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The documented definition, written with pandas groupbys (docs/vitals.md, "Health roll-up")."""
    df = df.assign(domain=[catalog.indicators[i].domain for i in df.indicator],
                   x=df.w / catalog.weight_array.max() * df.level / 4)
    s = df.groupby(["street", "domain"]).agg(x=("x", "max"), area=(key, "first")).reset_index()
    per = s.groupby(["area", "domain"]).x.agg(["max", "mean"])
    per["damage"] = PEAK_SHARE * per["max"] + (1 - PEAK_SHARE) * per["mean"]
    g = per.groupby(level="area").damage
    worst, spread = g.max(), g.mean()
    health = (100 * (1 - (worst + (1 - worst) * spread))).reindex(range(size))
    level = df.groupby(key)["level"].max().reindex(range(size)).fillna(0)
    return health.to_numpy(), level.to_numpy()


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 600))
def test_rollup_equals_a_groupby_oracle(small_catalog: Catalog, seed: int, n: int):
    view = _random_view(small_catalog, np.random.default_rng(seed), n)
    health = rollup(small_catalog, view)
    df = _frame(small_catalog, view).assign(city=0)
    for key, h, lvl in (("street", health.street_health, health.street_level),
                        ("district", health.district_health, health.district_level),
                        ("city", np.array([health.city_health]), np.array([health.city_level]))):
        size = {"street": small_catalog.n_streets, "district": len(small_catalog.districts), "city": 1}[key]
        exp_h, exp_l = _oracle_health(small_catalog, df, key, size)
        np.testing.assert_allclose(h, exp_h, rtol=1e-12, atol=1e-9, equal_nan=True)
        np.testing.assert_array_equal(lvl, exp_l)
    if not n:
        assert np.isnan(health.city_health) and health.city_level == 0


def _all_series_view(catalog: Catalog, level: np.ndarray) -> VitalsView:
    series = np.arange(catalog.n_series, dtype=np.int64)
    ind, street = catalog.split_series_id(series)
    return VitalsView(series, ind.astype(np.int16), street.astype(np.int32), {"level": level.astype(float)}, 0.0)


def _areas(h: HealthView) -> np.ndarray:
    return np.concatenate([h.street_health, h.district_health, [h.city_health]])


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 10**6), up=st.integers(1, 4))
def test_health_never_rises_when_a_level_rises(small_catalog: Catalog, seed: int, k: int, up: int):
    rng = np.random.default_rng(seed)
    level = rng.choice(5, size=small_catalog.n_series, p=[0.85, 0.05, 0.04, 0.03, 0.03]).astype(float)
    before = _areas(rollup(small_catalog, _all_series_view(small_catalog, level)))
    i = k % small_catalog.n_series
    level[i] = min(4.0, level[i] + up)
    after = _areas(rollup(small_catalog, _all_series_view(small_catalog, level)))
    assert (after <= before + 1e-9).all()
    assert ((after <= 100) & (after >= 0)).all()


def red_street_bound(catalog: Catalog, indicator: int, level: int = 4) -> float:
    """The documented cap: one street at ``level`` on this indicator puts its district and the city at or below."""
    relative = catalog.weight_array[indicator] / catalog.weight_array.max()
    return 100 * (1 - PEAK_SHARE * relative * level / 4)


@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 10**6), level=st.sampled_from([3, 4]),
       noise=st.floats(0, 0.2))
def test_one_red_or_orange_street_pulls_its_district_and_the_city_down(
        catalog: Catalog, seed: int, k: int, level: int, noise: float):
    rng = np.random.default_rng(seed)
    levels = np.where(rng.random(catalog.n_series) < noise, rng.integers(0, 3, catalog.n_series), 0).astype(float)
    i = k % catalog.n_series
    levels[i] = level
    ind, street = catalog.split_series_id(np.array([i]))
    h = rollup(catalog, _all_series_view(catalog, levels))
    bound = red_street_bound(catalog, int(ind[0]), level)
    district = catalog.street_district_array[street[0]]
    assert h.district_health[district] <= bound + 1e-9
    assert h.city_health <= bound + 1e-9
    assert bound <= (100 * (1 - PEAK_SHARE * 0.5 / 1.2 * 0.75)) < 86  # even the lightest orange leaves green


def test_one_red_street_on_the_heaviest_indicator_halves_health(catalog: Catalog):
    levels = np.zeros(catalog.n_series)
    gas, yuzhong = catalog.indicator_index["gas_concentration"], catalog.street_index["yuzhong_s001"]
    levels[gas * catalog.n_streets + yuzhong] = 4
    h = rollup(catalog, _all_series_view(catalog, levels))
    assert h.street_health[yuzhong] == 0
    assert 40 < h.district_health[catalog.district_index["yuzhong"]] <= 50   # 11 streets: 100 * (1 - .5 - .5 / 11)
    assert 45 < h.city_health <= 50
    assert np.nanmin(np.delete(h.district_health, catalog.district_index["yuzhong"])) == 100


def test_equal_situations_give_equal_health_whatever_the_number_of_series(catalog: Catalog):
    c = catalog
    nanan, yubei = c.streets_of("nanan"), c.streets_of("yubei")
    assert (len(nanan), len(yubei)) == (15, 30)
    pressure = c.indicator_index["water_pressure"]
    levels = np.zeros(c.n_series)
    for s in (*nanan[:1], *yubei[:2]):  # the same share of streets at orange: 1 of 15, 2 of 30
        levels[pressure * c.n_streets + c.street_index[s.id]] = 3
    full = rollup(c, _all_series_view(c, levels))
    nn, yb = c.district_index["nanan"], c.district_index["yubei"]
    assert np.isclose(full.district_health[nn], full.district_health[yb])
    assert full.district_health[nn] < red_street_bound(c, pressure, 3) + 1e-9
    # the same situation reported by only one indicator per domain (10x fewer series): the same numbers
    first_of_domain = np.unique(c.domain_code_array, return_index=True)[1]
    keep = np.isin(np.arange(c.n_series) // c.n_streets, [*first_of_domain, pressure])
    sid = np.flatnonzero(keep).astype(np.int64)
    ind, street = c.split_series_id(sid)
    few = rollup(c, VitalsView(sid, ind.astype(np.int16), street.astype(np.int32), {"level": levels[keep]}, 0.0))
    np.testing.assert_allclose(few.district_health, full.district_health)
    np.testing.assert_allclose(few.street_health, full.street_health)
    assert np.isclose(few.city_health, full.city_health)


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
