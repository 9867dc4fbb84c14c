"""Normal behaviour: seasonality, noise level, correlation within an area, rain coupling; the hash RNG."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.catalog import Catalog, SeasonalModel
from vitals.simulator import DEFAULT_START, CitySimulator, FaultRates, SimulatorConfig
from vitals.simulator.randomness import SALT_NOISE_A, as_u64, combine, mix64, normal, seed_key, uniform


@pytest.fixture(scope="module")
def week(small_catalog: Catalog) -> pd.DataFrame:
    """Three quiet days, Friday to Sunday (no incidents, no faults), of a few indicators on 30 streets,
    as a frame with residuals and 5-minute buckets (to line up series with different phases)."""
    ids = ("traffic_index", "expressway_speed", "metro_load", "rainfall_1h", "sewer_fill", "underpass_ponding",
           "water_pressure")
    streets = tuple(s.id for s in small_catalog.streets[::2][:30])
    cfg = SimulatorConfig(seed=21, start=DEFAULT_START + timedelta(days=4), duration=timedelta(days=3),
                          incidents=(), faults=FaultRates.none(), indicators=ids, streets=streets, step_s=300)
    batch = CitySimulator(small_catalog, cfg).read_all()
    expected = SeasonalModel(small_catalog).expected(batch.indicator, batch.ts_ns)
    local = pd.to_datetime(batch.ts_ns, utc=True).tz_convert("Asia/Shanghai")
    return pd.DataFrame({
        "indicator": np.array([i.id for i in small_catalog.indicators])[batch.indicator],
        "street": batch.street, "ts": batch.ts_ns // 300_000_000_000, "value": batch.value,
        "resid": batch.value - expected, "hour": local.hour, "weekend": local.day_of_week >= 5,
    })


def test_rush_hour_traffic_is_above_the_night(week: pd.DataFrame, small_catalog: Catalog) -> None:
    traffic = week[(week.indicator == "traffic_index") & ~week.weekend]
    rush = traffic[traffic.hour.isin([7, 8, 17, 18])].value.mean()
    night = traffic[traffic.hour.isin([1, 2, 3, 4])].value.mean()
    assert rush > night + 0.6 * small_catalog.indicator("traffic_index").seasonality.amplitude
    speed = week[(week.indicator == "expressway_speed") & ~week.weekend]
    slowdown = small_catalog.indicator("expressway_speed").seasonality.amplitude  # negative
    assert speed[speed.hour.isin([8, 18])].value.mean() < speed[speed.hour.isin([2, 3])].value.mean() + 0.7 * slowdown


def test_weekends_have_a_flatter_rush_hour(week: pd.DataFrame, small_catalog: Catalog) -> None:
    metro = week[(week.indicator == "metro_load") & week.hour.isin([8, 18])]
    amplitude = small_catalog.indicator("metro_load").seasonality.amplitude
    assert metro[~metro.weekend].value.mean() > metro[metro.weekend].value.mean() + 0.3 * amplitude


def test_series_follow_the_catalog_seasonality(week: pd.DataFrame, small_catalog: Catalog) -> None:
    """Oracle: hourly means of the readings track SeasonalModel.expected, residuals have the catalog's sd."""
    for ind_id in ("traffic_index", "metro_load", "water_pressure"):
        frame = week[week.indicator == ind_id].assign(expected=lambda f: f.value - f.resid)
        hourly = frame.groupby(["weekend", "hour"])[["value", "expected"]].mean()
        assert hourly.value.corr(hourly.expected) > 0.9, ind_id
        sd = small_catalog.indicator(ind_id).seasonality.noise
        assert abs(frame.resid.mean()) < 0.3 * sd, ind_id
    for ind_id in ("metro_load", "water_pressure"):  # no rain coupling: the spread is the catalog noise
        sd = small_catalog.indicator(ind_id).seasonality.noise
        assert week[week.indicator == ind_id].resid.std() == pytest.approx(sd, rel=0.25), ind_id


def test_indicators_of_an_area_move_together(week: pd.DataFrame) -> None:
    """Residuals of traffic index and expressway speed on the same street at the same time are anti-correlated;
    traffic index and metro load are correlated (the shared activity factor)."""
    wide = week.pivot_table(index=["street", "ts"], columns="indicator", values="resid")
    corr = wide[["traffic_index", "expressway_speed", "metro_load"]].dropna().corr()
    assert corr.loc["traffic_index", "expressway_speed"] < -0.15
    assert corr.loc["traffic_index", "metro_load"] > 0.15


def test_rain_drives_sewers_and_ponding(week: pd.DataFrame, small_catalog: Catalog) -> None:
    wide = week.pivot_table(index=["street", "ts"], columns="indicator", values="value").dropna()
    blue = small_catalog.indicator("rainfall_1h").thresholds.blue
    assert wide.rainfall_1h.max() > 0.25 * blue  # there were showers
    orange = small_catalog.indicator("rainfall_1h").thresholds.orange
    assert wide.rainfall_1h.max() < orange  # ... but no rainstorm without an incident
    assert wide.rainfall_1h.corr(wide.sewer_fill) > 0.2
    wet = wide.rainfall_1h > 0.6 * blue
    assert wide.underpass_ponding[wet].mean() > wide.underpass_ponding[~wet].mean()


def test_different_streets_are_not_copies(week: pd.DataFrame) -> None:
    traffic = week[week.indicator == "traffic_index"].pivot_table(index="ts", columns="street", values="resid")
    corr = traffic.corr().to_numpy()
    off_diagonal = corr[~np.eye(corr.shape[0], dtype=bool)]
    assert 0.0 < np.nanmean(off_diagonal) < 0.6


def test_hash_uniforms_and_normals_look_right() -> None:
    keys = combine(seed_key(1, 99), as_u64(np.arange(200_000)))
    u = uniform(keys, 7)
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 60  # chi-square, 19 dof: p < 1e-5
    z = normal(keys)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) > 3) - 0.0027) < 0.001
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.01


@given(st.integers(min_value=0, max_value=2**63 - 1), st.lists(st.integers(0, 2**40), min_size=1, max_size=50))
def test_draws_depend_only_on_their_key(seed: int, counters: list[int]) -> None:
    """A draw is the same alone or in any batch: what makes partitions and resumes exact."""
    key = seed_key(seed, SALT_NOISE_A)
    together = uniform(combine(key, as_u64(counters)), 5)
    alone = np.array([uniform(combine(key, as_u64([c])), 5)[0] for c in counters])
    np.testing.assert_array_equal(together, alone)
    assert np.all((together >= 0) & (together < 1))
    assert mix64(as_u64(counters)).dtype == np.uint64
