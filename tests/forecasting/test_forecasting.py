"""Forecaster: crossing times on a linear ramp, lag buffer vs grid oracle, fit/predict contract, forecasts beat
persistence on simulated data with incidents, pickling."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.errors import ModelError, NotFittedError
from vitals.forecasting.crossing import seconds_to_thresholds
from vitals.forecasting.evaluate import forecast_errors, walk_forward
from vitals.forecasting.grid import LagBuffer, SeriesGrid, forward_fill
from vitals.forecasting.model import EarlyWarningForecaster

START_NS = 1_772_409_600 * 10**9  # 2026-03-02 00:00 UTC, a Monday
STEP = 300


def test_crossing_time_on_linear_ramp() -> None:
    # badness rises 1 per minute from 0: thresholds at 20, 45, 90 and 500 minutes
    horizons = np.array([900.0, 1800.0, 3600.0])
    now = np.array([0.0])
    at = horizons[None, :] / 60.0
    th = np.array([[20.0, 45.0, 90.0, 500.0]])
    secs = seconds_to_thresholds(now, at, horizons, th, max_lookahead_s=6 * 3600)
    np.testing.assert_allclose(secs[0, :3], [1200.0, 2700.0, 5400.0], rtol=1e-9)  # 90 is past 60 min: extrapolated
    assert np.isinf(secs[0, 3])  # 500 min is beyond the 6 h look-ahead
    # already above, falling, unknown
    secs = seconds_to_thresholds(np.array([30.0, 10.0, np.nan]), np.array([[29.0, 28, 27], [9, 8, 7], [1, 2, 3]]),
                                 horizons, np.array([[20.0, 40, 60, 80]] * 3), 21600)
    assert secs[0, 0] == 0 and np.isinf(secs[0, 1])
    assert np.isinf(secs[1]).all()
    assert np.isnan(secs[2]).all()


def ramp_grid(catalog: Catalog, steps: int = 600) -> SeriesGrid:
    """Every indicator on 4 streets at its seasonal expected value plus noise; street 0 ramps linearly towards
    (and past) its orange threshold in the last 100 steps."""
    from vitals.catalog.seasonality import SeasonalModel

    rng = np.random.default_rng(3)
    seasonal = SeasonalModel(catalog)
    n_ind = catalog.n_indicators
    ind = np.repeat(np.arange(n_ind), 4)
    street = np.tile(np.arange(4), n_ind)
    ends = START_NS + (np.arange(steps) + 1) * STEP * 10**9
    expected = seasonal.expected(np.repeat(ind, steps), np.tile(ends, ind.size)).reshape(ind.size, steps)
    values = expected + seasonal.noise[ind][:, None] * rng.normal(size=(ind.size, steps))
    return SeriesGrid(values=values.astype(np.float32), series=catalog.series_id(ind, street),
                      indicator=ind.astype(np.int16), street=street.astype(np.int32), start_ns=START_NS, step_s=STEP)


def test_predicted_crossing_on_a_ramp(small_catalog: Catalog) -> None:
    grid = ramp_grid(small_catalog)
    model = EarlyWarningForecaster(max_rows=50_000).fit(grid, small_catalog)
    i = small_catalog.indicator_index["metro_load"]  # bad=up, orange at 110 %
    row = int(np.flatnonzero((grid.indicator == i) & (grid.street == 0))[0])
    # a clean linear ramp of +2 %/step from 60 %: orange (110) is 25 steps after the ramp's start value
    window = (60.0 + 2.0 * np.arange(13)).astype(np.float32)[None, :]  # now at 84 %: 13 steps to orange
    fc = model.predict(small_catalog, window, np.array([i]), int(grid.column_end_ns()[-1]))
    expected_s = (110.0 - 84.0) / 2.0 * STEP
    assert fc.seconds_to_level[0, 2] == pytest.approx(expected_s, rel=0.2)
    assert fc.level[0, 2] >= 3 and fc.level[0, 0] < 3
    assert fc.driver_names()[0].startswith("trend")
    del row


def test_lag_buffer_matches_grid_oracle() -> None:
    rng = np.random.default_rng(5)
    n_series, n = 7, 3000
    series = rng.integers(0, n_series, n)
    ts = START_NS + rng.choice(40 * STEP, n, replace=False) * 10**9  # distinct times: no ties to break
    value = rng.normal(size=n)
    now = START_NS + 40 * STEP * 10**9
    buf = LagBuffer(n_series, 13, STEP)
    for part in np.array_split(rng.permutation(n), 9):  # out of order, in batches
        buf.update(series[part], ts[part], value[part])
    got = buf.window(now)
    frame = pd.DataFrame({"s": series, "step": (ts - START_NS) // (STEP * 10**9), "ts": ts, "v": value})
    last = frame.sort_values(["ts"], kind="stable").groupby(["s", "step"])["v"].last()
    oracle = np.full((n_series, 40), np.nan)
    for (s, k), v in last.items():
        oracle[s, k] = v
    oracle = pd.DataFrame(oracle).ffill(axis=1).to_numpy()[:, -13:]
    np.testing.assert_allclose(got, oracle.astype(np.float32), rtol=1e-6)
    assert pickle.loads(pickle.dumps(buf)).window(now).tobytes() == got.tobytes()


@pytest.mark.parametrize("every", [2, 5, 7])
def test_lag_window_every_kth_column_equals_the_full_window(every: int) -> None:
    """The stream reads every ``every``-th fine column: the same values as slicing the full window (oracle)."""
    rng = np.random.default_rng(every)
    for trial in range(6):
        n_series, n_steps = int(rng.integers(1, 40)), int(rng.integers(1, 70))
        buf = LagBuffer(n_series, n_steps, 60)
        span = int(rng.integers(1, 3 * n_steps + 5)) * 60
        n = int(rng.integers(0, 40 * n_series))
        series, ts = rng.integers(0, n_series, n), START_NS + rng.integers(0, span, n) * 10**9
        for part in np.array_split(rng.permutation(n), int(rng.integers(1, 6))):
            buf.update(series[part], ts[part], rng.normal(size=part.size))
        for now in START_NS + rng.integers(0, span + 600, 5) * 10**9:
            full = buf.window(int(now))
            np.testing.assert_array_equal(buf.window(int(now), every=every), full[:, ::-every][:, ::-1],
                                          err_msg=f"trial {trial}")


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=30))
def test_forward_fill_oracle(values: list[float | None]) -> None:
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)[None, :]
    np.testing.assert_array_equal(forward_fill(arr)[0], pd.Series(arr[0]).ffill().to_numpy())


def test_contract(small_catalog: Catalog) -> None:
    model = EarlyWarningForecaster(alpha=2.0, horizons_s=(900, 1800))
    assert model.get_params()["alpha"] == 2.0 and not hasattr(model, "regressors_")
    with pytest.raises(NotFittedError):
        model.predict(small_catalog, np.zeros((1, 13)), np.array([0]), START_NS)
    with pytest.raises(ModelError, match="multiples"):
        EarlyWarningForecaster(horizons_s=(1000,)).fit(ramp_grid(small_catalog, 100), small_catalog)
    grid = ramp_grid(small_catalog, 200)
    a = EarlyWarningForecaster(max_rows=5000, random_state=1).fit(grid, small_catalog)
    b = EarlyWarningForecaster(max_rows=5000, random_state=1).fit(grid, small_catalog)
    win, now = grid.values[:, -13:], int(grid.column_end_ns()[-1])
    fa = a.predict(small_catalog, win, grid.indicator, now)
    np.testing.assert_array_equal(fa.value, b.predict(small_catalog, win, grid.indicator, now).value)
    fp = pickle.loads(pickle.dumps(a)).predict(small_catalog, win, grid.indicator, now)
    np.testing.assert_array_equal(fa.value, fp.value)
    assert fa.value.shape == (grid.n_series, 3) and np.isfinite(fa.value).all()


@pytest.fixture(scope="module")
def simulated(small_catalog: Catalog) -> SeriesGrid:
    from vitals.simulator.city import CitySimulator
    from vitals.simulator.config import SimulatorConfig

    streets = tuple(s.id for s in small_catalog.streets[:20])
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=11, duration=timedelta(days=3), step_s=STEP,
                                                       streets=streets, incidents_per_day=6.0))
    b = sim.read_all()
    return SeriesGrid.from_readings(small_catalog, b.indicator, b.street, b.ts_ns, b.value, step_s=STEP)


def test_beats_persistence_on_simulated_city(small_catalog: Catalog, simulated: SeriesGrid) -> None:
    split = simulated.n_steps * 2 // 3
    model = EarlyWarningForecaster(max_rows=200_000).fit(simulated.slice_steps(0, split), small_catalog)
    held = simulated.slice_steps(split - model.window_steps, simulated.n_steps)
    errors = forecast_errors(model, small_catalog, held, walk_forward(model, small_catalog, held, 12))
    assert errors["mae_30m"] < 0.95 * errors["mae_30m_persistence"]
    assert errors["mae_1h"] < errors["mae_1h_persistence"]
    assert errors["mae_30m"] < errors["mae_30m_seasonal"]


def test_forecasts_stay_inside_the_valid_range(small_catalog: Catalog) -> None:
    """A steep fall towards 0 (a count, valid from 0) is not forecast below 0, nor a climb past the range's top."""
    model = EarlyWarningForecaster(max_rows=20_000).fit(ramp_grid(small_catalog, 200), small_catalog)
    i = small_catalog.indicator_index["metro_load"]  # valid 0 .. 200 %
    falling = (60.0 - 5.0 * np.arange(13)).astype(np.float32)  # 60 % down to 0 in an hour
    rising = (140.0 + 5.0 * np.arange(13)).astype(np.float32)  # up to 200 %
    fc = model.predict(small_catalog, np.vstack([falling, rising]), np.array([i, i]), START_NS + 7200 * 10**9)
    assert fc.value.min() >= 0.0 and fc.warning_value.min() >= 0.0
    assert fc.value.max() <= 200.0 and fc.warning_value.max() <= 200.0
    assert fc.warning_value[0, -1] == 0.0 and fc.warning_value[1, -1] == 200.0  # it did go past both ends


def test_shared_time_fast_path_matches_the_per_row_path(
    small_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forecast tick (every row at the same time) computes seasonal and calendar values once per indicator;
    the results are bit-identical to the per-row path (the reference, forced by turning the check off)."""
    import vitals.forecasting.features as features_module
    import vitals.forecasting.model as model_module

    grid = ramp_grid(small_catalog, 200)
    model = EarlyWarningForecaster(max_rows=5000, random_state=1).fit(grid, small_catalog)
    rng = np.random.default_rng(3)
    fields = ("value", "warning_value", "level", "seconds_to_level", "expected_now", "driver", "driver_effect",
              "explained")
    for trial in range(5):
        n = int(rng.integers(1, grid.n_series))
        rows = rng.choice(grid.n_series, n, replace=False)
        win = grid.values[rows, -13:] + rng.normal(0, 5 * (trial + 1), (n, 13)).astype(np.float32)
        win[rng.random((n, 13)) < 0.1] = np.nan  # missing older values
        ind = grid.indicator[rows]
        now = START_NS + int(rng.integers(0, 14 * 86400)) * 10**9
        fast = model.predict(small_catalog, win, ind, now)
        with monkeypatch.context() as m:
            for module in (features_module, model_module):
                m.setattr(module, "shared_time", lambda ts: False)
            slow = model.predict(small_catalog, win, ind, now)
        for field in fields:
            np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field), err_msg=field)


def test_predict_levels_is_predict_without_explanations(small_catalog: Catalog, simulated: SeriesGrid) -> None:
    """The flow's cheaper call gives bit-identical values, warning values, levels and seconds to each threshold."""
    model = EarlyWarningForecaster(max_rows=50_000).fit(simulated, small_catalog)
    ends = simulated.column_end_ns()
    for t in range(12, simulated.n_steps, 97):
        win, now = simulated.values[:, t - 12:t + 1], int(ends[t])
        full = model.predict(small_catalog, win, simulated.indicator, now)
        lean = model.predict_levels(small_catalog, win, simulated.indicator, now)
        for name in ("value", "warning_value", "level", "seconds_to_level", "last", "expected_now", "explained"):
            got, want = getattr(lean, name), getattr(full, name)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), name
        assert (lean.driver == -1).all() and (lean.driver_effect == 0).all()
    assert (full.driver >= 0).any()


def _buffer_state(buf: LagBuffer) -> bytes:
    return b"".join(a.tobytes() for a in (buf.values, buf.bucket, buf.slot_ts, buf.evicted_value, buf.evicted_bucket))


@pytest.mark.parametrize("seed", range(6))
def test_compiled_update_equals_the_vectorized_update(seed: int) -> None:
    """The compiled pass in batch order leaves the state the vectorized update leaves, bit for bit: batches out of
    order, repeated times in a step (ties: the later reading), late readings, NaN values, rows evicting several steps
    in one batch, and batches spanning the ring (the vectorized update then runs in both)."""
    rng = np.random.default_rng(seed)
    n_series, n_steps = int(rng.integers(1, 12)), int(rng.integers(1, 8))
    compiled, reference = LagBuffer(n_series, n_steps, 60), LagBuffer(n_series, n_steps, 60)
    clock, evictions = 0, 0
    for _ in range(60):
        n = int(rng.integers(0, 60))
        span = int(rng.integers(1, 3 * (n_steps + 2))) * 60  # past the ring now and then
        clock += int(rng.integers(0, 3 * 60))
        ts = START_NS + (clock + rng.integers(-span, 1, n) // 10 * 10) * 10**9  # coarse times: ties
        series = rng.integers(0, n_series, n)
        value = np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n))
        before = reference.evicted_bucket.copy()
        compiled.update(series, ts, value)
        reference.update(series, ts, value, compiled=False)
        evictions += int((reference.evicted_bucket != before).sum())
        assert _buffer_state(compiled) == _buffer_state(reference)
        now = START_NS + (clock + 60) * 10**9
        for every in (1, 2, 5):
            rows = rng.integers(0, n_series, int(rng.integers(0, 2 * n_series)))
            full = reference.window(now)[:, ::-every][:, ::-1]
            assert compiled.window(now, every, rows=rows).tobytes() == full[rows].tobytes()
    assert evictions > 10


def test_compiled_update_keeps_the_vectorized_eviction_of_a_batch() -> None:
    """One batch replaces two steps of a row: the evicted step kept is the one replaced by the later step (the
    vectorized update's last write), here the older of the two evicted steps."""
    buf, ref = LagBuffer(1, 3, 60), LagBuffer(1, 3, 60)  # a ring of 5 steps
    minute = 60 * 10**9
    held = START_NS - START_NS % (5 * minute) + np.array([5, 1]) * minute  # steps 5k + 5 and 5k + 1: slots 0 and 1
    batch = held + np.array([5, 10]) * minute  # slot 0 gets a step 5 later, slot 1 a step 10 later: one step apart
    for times, values in ((held, np.array([5.0, 1.0])), (batch, np.array([10.0, 11.0]))):
        buf.update(np.zeros(2, np.int64), times, values)
        ref.update(np.zeros(2, np.int64), times, values, compiled=False)
        assert _buffer_state(buf) == _buffer_state(ref)
    assert buf.evicted_bucket[0] == held[1] // minute and buf.evicted_value[0] == 1.0
