"""The array form of a model: the same predictions as the skops artifact's scikit-learn objects (bit for bit), bound
to that artifact by its hash, data only (anything else is refused and the artifact is loaded), written by save and
promote, and what the flow loads without importing scikit-learn, scipy or skops."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.ensemble import IsolationForest
from vitals_testing import REPO

from vitals.catalog import Catalog, SeasonalModel, load_catalog
from vitals.detectors.forest_arrays import ForestArrays
from vitals.detectors.window_forest import FEATURES, forest_arrays, forest_scores
from vitals.errors import ModelError
from vitals.forecasting.linear import LinearRegressor
from vitals.registry import ModelRegistry
from vitals.registry.arrays import ARRAYS, load_arrays, write_arrays
from vitals.scoring import RegistryModels

SHIPPED = REPO / "models"
NOW_NS = 1_780_000_000 * 10**9


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _windows(catalog: Catalog, n_per_indicator: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Forecaster windows (13 grid values) around the seasonal expectation, with trends, jumps and gaps."""
    rng = np.random.default_rng(seed)
    ind = np.repeat(np.arange(catalog.n_indicators), n_per_indicator)
    seasonal = SeasonalModel(catalog)
    t = NOW_NS - np.arange(12, -1, -1) * 300 * 10**9
    expected = seasonal.expected(np.repeat(ind, 13), np.tile(t, ind.size)).reshape(ind.size, 13)
    noise = seasonal.noise[ind][:, None]
    walk = rng.normal(size=(ind.size, 13)).cumsum(axis=1) * rng.choice([0.2, 1.0, 4.0], size=(ind.size, 1))
    window = expected + noise * walk
    window[rng.random(window.shape) < 0.05] = np.nan
    return window.astype(np.float32), ind


@pytest.mark.parametrize("version", ["v0001", "v0003", "v0004"])
def test_shipped_forecaster_arrays_predict_what_the_artifact_predicts(catalog: Catalog, version: str) -> None:
    registry = ModelRegistry(SHIPPED)
    skops = registry.load("forecaster", version)
    plain = registry.load("forecaster", version, arrays=True)
    assert all(isinstance(m, LinearRegressor) for ms in plain.regressors_.values() for m in ms)
    assert type(skops.regressors_["air"][0]).__name__ == "Ridge"
    window, ind = _windows(catalog, 60, seed=3)
    for explain in (True, False):
        a = skops.predict(catalog, window, ind, NOW_NS, explain=explain)
        b = plain.predict(catalog, window, ind, NOW_NS, explain=explain)
        for field in ("value", "warning_value", "level", "seconds_to_level", "driver", "driver_effect"):
            assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
    assert np.isfinite(a.value).sum() > 1000  # the comparison saw real forecasts


def test_shipped_window_model_arrays_score_what_the_artifact_scores(catalog: Catalog) -> None:
    registry = ModelRegistry(SHIPPED)
    skops, plain = registry.load("window_model"), registry.load("window_model", arrays=True)
    assert all(isinstance(f, ForestArrays) for f in plain.model_.models_.values())
    rng = np.random.default_rng(5)
    ind = rng.integers(0, catalog.n_indicators, 4000)
    raw = rng.normal(size=(4000, len(FEATURES))) * rng.choice([0.5, 3.0, 30.0], size=(4000, 1))
    raw[:, 1] = np.abs(raw[:, 1])
    a_scores, a_feature = skops.score(ind, raw)
    b_scores, b_feature = plain.score(ind, raw)
    assert np.array_equal(a_scores, b_scores) and np.array_equal(a_feature, b_feature)
    assert (a_scores >= 0.4).sum() > 10 and (a_scores < 0.4).sum() > 10


@pytest.fixture(scope="module")
def forests() -> list[IsolationForest]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    return [IsolationForest(n_estimators=7, max_samples=64, max_features=mf, random_state=1).fit(x)
            for mf in (1.0, 0.5)]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.just(4)),
                  elements=st.floats(-1e6, 1e6) | st.just(np.nan)))
def test_forest_arrays_score_as_scikit_learn(forests: list[IsolationForest], x: np.ndarray) -> None:
    for forest in forests:  # all features and a feature subset per tree; NaN goes where the trees send it
        assert np.array_equal(forest_arrays(forest).scores(x), forest_scores(forest, x))  # type: ignore[union-attr]
        finite = np.nan_to_num(x)
        assert np.array_equal(forest_arrays(forest).scores(finite), -forest.score_samples(finite))  # type: ignore


def test_malformed_forest_arrays_are_refused(forests: list[IsolationForest]) -> None:
    good = forest_arrays(forests[0])
    assert good is not None
    loop = ForestArrays(**{**vars(good), "left": np.where(good.left > 0, 0, good.left)})  # a child before its parent
    with pytest.raises(ModelError, match="malformed"):
        loop.check()
    with pytest.raises(ModelError, match="malformed"):
        ForestArrays(**{**vars(good), "feature": good.feature + 9}).check()


def _copy(tmp_path: Path, family: str, version: str) -> ModelRegistry:
    src = ModelRegistry(SHIPPED).version_dir(family, version)
    dst = tmp_path / "models" / family / version
    shutil.copytree(src, dst)
    (dst.parent / "promoted.json").write_text(json.dumps({"version": version, "stack": [version], "events": []}))
    return ModelRegistry(tmp_path / "models")


def _is_plain(model: object) -> bool:
    return all(isinstance(m, LinearRegressor) for ms in model.regressors_.values() for m in ms)  # type: ignore


def test_stale_or_foreign_array_forms_fall_back_to_the_artifact(tmp_path: Path) -> None:
    registry = _copy(tmp_path, "forecaster", "v0004")
    vdir = registry.version_dir("forecaster", "v0004")
    assert _is_plain(registry.load("forecaster", arrays=True))
    assert not _is_plain(registry.load("forecaster"))  # without arrays=True: the scikit-learn objects

    # made from another artifact: the hash differs
    other = vdir / "other.skops"
    other.write_bytes((vdir / "model.skops").read_bytes() + b"\0")
    write_arrays(registry.load("forecaster"), other)
    assert load_arrays(other) is not None and load_arrays(vdir / "model.skops") is None
    assert not _is_plain(registry.load("forecaster", arrays=True))

    # a header naming a class outside the list, or holding a pickled object: refused
    for header, extra in ((_header_with(vdir, "os.system"), {}),
                          (_header_with(vdir, "EarlyWarningForecaster"), {"a0": np.array([object()])})):
        np.savez(vdir / ARRAYS, __header__=np.array(json.dumps(header)), **extra)  # savez pickles object arrays
        assert not _is_plain(registry.load("forecaster", arrays=True))
    (vdir / ARRAYS).unlink()
    assert not _is_plain(registry.load("forecaster", arrays=True))  # an older registry: the artifact


def _header_with(vdir: Path, name: str) -> dict[str, object]:
    from vitals.registry.arrays import artifact_sha256

    return {"format": 1, "artifact_sha256": artifact_sha256(vdir / "model.skops"),
            "model": {"object": name, "state": {"dict": []}}}


def test_promote_writes_the_array_form_of_an_older_registry(tmp_path: Path) -> None:
    registry = _copy(tmp_path, "window_model", "v0001")
    arrays = registry.version_dir("window_model", "v0001") / ARRAYS
    arrays.unlink()
    registry.promote("window_model", "v0001")
    assert arrays.exists() and load_arrays(arrays.with_name("model.skops")) is not None


def test_the_flow_loads_models_without_scikit_learn() -> None:
    code = (
        "import sys, numpy as np\n"
        "from vitals.scoring import RegistryModels\n"
        f"m = RegistryModels({str(SHIPPED)!r})\n"
        "f, w = m.forecaster(), m.window_model()\n"
        "print(type(f).__name__, type(w).__name__, w.score(np.array([0, 1]), np.ones((2, 6)))[0].shape)\n"
        "print(sorted(x for x in ('sklearn', 'scipy.stats', 'skops', 'pandas') if x in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out == ["EarlyWarningForecaster CityWindowModel (2,)", "[]"]


def test_registry_models_of_the_flow_are_the_array_forms() -> None:
    models = RegistryModels(SHIPPED)
    assert _is_plain(models.forecaster())
