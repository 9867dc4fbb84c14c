"""The window_model family: counted cells, stream/offline equivalence, trainer and registry round trip."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import SeasonalModel
from vitals.detectors.window_forest import window_features
from vitals.errors import ModelError, NotFittedError
from vitals.forecasting.grid import SeriesGrid
from vitals.registry import ModelRegistry
from vitals.registry.trust import untrusted_types
from vitals.scoring.city_window_model import CityWindowModel, counted_cells, grid_cells
from vitals.scoring.training import WindowModelTrainer, incident_cells, make_trainer
from vitals.scoring.window_state import WindowAccumulator
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.training import default_trainers, from_arrays, train

SMALL = {"n_estimators": 10, "max_samples": 64}


@pytest.fixture(scope="module")
def batches(small_catalog):
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=11, duration=timedelta(hours=30), step_s=60,
                                                       faults=FaultRates.none()))
    return list(sim.batches())


@pytest.fixture(scope="module")
def readings(batches):
    parts = [(b.indicator, b.street, b.ts_ns, b.value) for b in batches]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


@pytest.fixture(scope="module")
def training_set(small_catalog, readings):
    return from_arrays(small_catalog, *readings, source="simulated 30 h (seed 11)")


def _loop_counted(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.shape, dtype=bool)
    for i, row in enumerate(values):
        prev = None
        for j, v in enumerate(row):
            if np.isfinite(v) and (prev is None or v != prev):
                out[i, j] = True
            if np.isfinite(v):
                prev = v
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([np.nan, 1.0, 2.0, 3.0]), min_size=6, max_size=6), min_size=1, max_size=5))
def test_counted_cells_match_a_loop(rows: list[list[float]]) -> None:
    values = np.array(rows, dtype=np.float32)
    np.testing.assert_array_equal(counted_cells(values), _loop_counted(values))


def test_stream_windows_equal_the_training_windows(small_catalog, batches, training_set) -> None:
    """The flow's accumulator closes exactly the windows (features) the trainer computes from the grid."""
    acc = WindowAccumulator(np.arange(small_catalog.n_series) // small_catalog.n_streets)
    seasonal = SeasonalModel(small_catalog)
    closed = [acc.update(seasonal, small_catalog.series_id(b.indicator, b.street), b.ts_ns, b.value)
              for b in batches]
    got = {(int(s), int(w)): f for c in closed for s, w, f in zip(c.rows, c.window_start_ns, c.raw, strict=True)}
    cells = grid_cells(training_set.grid, small_catalog, 3600, 3)
    _, key_w, raw = window_features(cells.indicator, cells.key, cells.residual)
    first = np.searchsorted(cells.key, key_w)
    expected = {(int(cells.series[i]), int(cells.window_start_ns[i])): raw[k] for k, i in enumerate(first)}
    common = got.keys() & expected.keys()
    # every window the stream closed is a training window; the training's last window per series is still open
    assert got.keys() <= expected.keys() and len(common) > 0.9 * len(expected)
    for k in common:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-9, atol=1e-9, err_msg=str(k))


def test_fit_scores_in_range_and_beats_chance(small_catalog, training_set) -> None:
    model = CityWindowModel(**SMALL).fit(training_set.grid, small_catalog)
    cells = grid_cells(training_set.grid, small_catalog, 3600, 3)
    ind, _, raw = window_features(cells.indicator, cells.key, cells.residual)
    scores, feature = model.score(ind, raw)
    assert np.all((scores >= 0) & (scores < 1)) and np.all((feature >= 0) & (feature < 6))
    burst = raw.copy()
    burst[:, [1, 4]] *= 5.0  # std and range five times their value: a variance burst
    hot, hot_feature = model.score(ind, burst)
    assert (hot > scores).mean() > 0.9
    # windows that were normal and now alarm are explained by the std or the range
    assert np.isin(hot_feature[(hot > 0.35) & (scores < 0.2)], [1, 4]).all()
    assert np.median(scores) < 0.1


def test_not_fitted_and_bad_parameters(small_catalog, training_set) -> None:
    with pytest.raises(NotFittedError):
        CityWindowModel().score(np.array([0]), np.zeros((1, 6)))
    with pytest.raises(ModelError):
        CityWindowModel(max_windows=0).fit(training_set.grid, small_catalog)
    with pytest.raises(ModelError):
        CityWindowModel(window_s=60).fit(training_set.grid, small_catalog)


def test_trainer_round_trip_through_the_registry(tmp_path, small_catalog, training_set) -> None:
    registry = ModelRegistry(tmp_path)
    trainer = WindowModelTrainer(params=SMALL)
    [result] = train(training_set, small_catalog, registry, promote=True, trainers=[trainer], progress=False)
    assert result.family == "window_model" and result.promoted and result.artifact_bytes < 5_000_000
    path = registry.version_dir("window_model", result.version) / "model.skops"
    assert untrusted_types(path) == []  # everything in it is on the trusted list
    loaded = registry.load("window_model")
    fresh = CityWindowModel(**SMALL).fit(training_set.grid, small_catalog)
    cells = grid_cells(training_set.grid, small_catalog, 3600, 3)
    ind, _, raw = window_features(cells.indicator, cells.key, cells.residual)
    np.testing.assert_array_equal(loaded.score(ind, raw)[0], fresh.score(ind, raw)[0])
    card = registry.card("window_model", result.version)
    assert card.features == tuple(f"residual_window_{f}" for f in ("mean", "std", "min", "max", "range", "change"))
    assert card.metrics["roc_auc_injected_mean"] > 0.9
    assert card.parameters["n_estimators"] == SMALL["n_estimators"] and card.parameters["step_s"] == 300


def test_vitals_train_discovers_the_trainer() -> None:
    families = [t.family for t in default_trainers()]
    assert families == ["forecaster", "window_model"]
    assert make_trainer().family == "window_model"


def test_incident_cells_mark_labelled_windows() -> None:
    from vitals.labels import LabelledWindow

    grid = SeriesGrid(values=np.zeros((2, 10), np.float32), series=np.array([3, 8]), indicator=np.zeros(2, np.int16),
                      street=np.zeros(2, np.int32), start_ns=0, step_s=300)
    ns = 300 * 10**9
    mask = incident_cells(grid, [LabelledWindow(8, 2 * ns, 4 * ns + 1), LabelledWindow(5, 0, ns)])
    assert mask[1].nonzero()[0].tolist() == [2, 3, 4] and not mask[0].any()
