"""The window model in the flow: scored at window close per shard, combined by max, explained, hot-reloaded."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import SeasonalModel
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.registry import ModelRegistry
from vitals.registry.card import ModelCard, TrainingData
from vitals.scoring import DETECTORS, FEATURES, RegistryModels, ShardScorer
from vitals.scoring.city_window_model import CityWindowModel
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.state import split_by_shard
from vitals.training import from_simulation

SHARDS = 2
NS = 10**9


class Source:
    """A model source as the flow sees one (RegistryModels' interface)."""

    def __init__(self, window: object | None) -> None:
        self.window = window

    def forecaster(self) -> None:
        return None

    def window_model(self) -> object | None:
        return self.window


class Broken:
    step_s_, window_s, min_count = 300, 3600, 3

    def check_catalog(self, catalog: object) -> None:
        return None

    def score(self, indicator: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        msg = "corrupt forest"
        raise ValueError(msg)


@pytest.fixture(scope="module")
def model(small_catalog):
    # one simulated day: no window of a family can be rarer than ~1 in 2,000 training windows, so a smaller
    # surprise_half than the default (threshold at 1 in 10,000) lets this small model reach the threshold
    data = from_simulation(small_catalog, days=1, seed=21, progress=False)
    return CityWindowModel(n_estimators=20, max_samples=128, surprise_half=3.0).fit(data.grid, small_catalog)


@pytest.fixture(scope="module")
def batches(small_catalog):
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=4, duration=timedelta(hours=5), step_s=60,
                                                       incidents=(), faults=FaultRates.none()))
    return list(sim.batches(0, 1))


def _feed(catalog, batches, source, shard=0):
    scorer = ShardScorer(catalog, shard, SHARDS)
    for b in batches:
        for k, part in split_by_shard(b, catalog, SHARDS):
            if k == shard:
                scorer.update(catalog, part, source)
    return scorer


def _target(catalog, shard=0) -> int:
    co = catalog.indicator_index["tunnel_co"]  # one reading a minute
    return next(s for s in range(co * catalog.n_streets, (co + 1) * catalog.n_streets) if s % SHARDS == shard)


def _zigzag(catalog, series: int, start_ns: int, minutes: int, amplitude: float) -> list[ReadingBatch]:
    """Readings alternating +-amplitude noise units around the expected value every 5 minutes (the window
    model's cell): each one hardly remarkable for a per-reading detector, together a window with several times
    the usual spread."""
    ind, street = divmod(series, catalog.n_streets)
    seasonal = SeasonalModel(catalog)
    ts = start_ns + np.arange(minutes, dtype=np.int64) * 60 * NS
    sign = np.where(np.arange(minutes) // 5 % 2 == 0, 1.0, -1.0)
    values = seasonal.expected(np.full(minutes, ind), ts) + amplitude * sign * seasonal.noise[ind]
    return [ReadingBatch(ts[i:i + 1], np.array([ind], np.int16), np.array([street], np.int32), values[i:i + 1])
            for i in range(minutes)]


def _burst(small_catalog, batches, scorer, source):
    target = _target(small_catalog)
    end = int(batches[-1].ts_ns.max())
    start = (end // (3600 * NS) + 1) * 3600 * NS  # a whole window of zigzag, then one reading to close it
    for b in _zigzag(small_catalog, target, start, 61, 3.0):
        scorer.update(small_catalog, b, source)
    return target, start + 60 * 60 * NS


def test_window_anomaly_raises_the_score_and_is_explained(small_catalog, batches, model) -> None:
    source = Source(model)
    scorer = _feed(small_catalog, batches, source)
    plain = _feed(small_catalog, batches, Source(None))
    target, now = _burst(small_catalog, batches, scorer, source)
    _burst(small_catalog, batches, plain, Source(None))
    cols = scorer.columns(np.array([target]), now)
    base = plain.columns(np.array([target]), now)
    assert cols["anomaly_score"][0] >= ANOMALY_THRESHOLD > base["anomaly_score"][0]
    assert DETECTORS[int(cols["explain_detector"][0])] == "window_model"
    assert FEATURES[int(cols["explain_feature"][0])] in ("window_std", "window_range")
    # the window score is held like the default detector's and decays with event time
    later = scorer.columns(np.array([target]), now + 3600 * NS)["anomaly_score"][0]
    assert base["anomaly_score"][0] <= later < cols["anomaly_score"][0]
    # every series: the max of the default detector's score and the held window score
    series = np.arange(0, small_catalog.n_series, SHARDS)
    both, alone = scorer.columns(series, now), plain.columns(series, now)
    rows = series // SHARDS
    window = scorer.window_peak[rows] * np.exp2(-(now - scorer.window_peak_ts[rows]) / scorer.hold_half_life_ns)
    np.testing.assert_allclose(both["anomaly_score"], np.maximum(alone["anomaly_score"], window))
    by_window = window > alone["anomaly_score"]
    assert by_window.any() and not by_window.all()
    np.testing.assert_array_equal(both["explain_detector"][~by_window], alone["explain_detector"][~by_window])
    assert (both["explain_detector"][by_window] == DETECTORS.index("window_model")).all()


def test_pickling_leaves_the_model_out_and_scores_identically(small_catalog, batches, model) -> None:
    source = Source(model)
    scorer = _feed(small_catalog, batches[:150], source)
    assert scorer.windows is not None
    blob = pickle.dumps(scorer)
    assert b"IsolationForest" not in blob and b"CityWindowModel" not in blob
    copy = pickle.loads(blob)
    for b in batches[150:]:
        for k, part in split_by_shard(b, small_catalog, SHARDS):
            if k == 0:
                scorer.update(small_catalog, part, source)
                copy.update(small_catalog, part, source)
    series = np.arange(0, small_catalog.n_series, SHARDS)
    now = int(batches[-1].ts_ns.max())
    for name, values in scorer.columns(series, now).items():
        np.testing.assert_array_equal(values, copy.columns(series, now)[name], err_msg=name)
    assert scorer.window_peak.max() > 0  # windows were scored


def test_a_broken_or_mismatched_model_is_skipped(small_catalog, catalog, batches, model, caplog) -> None:
    plain = _feed(small_catalog, batches[:120], Source(None))
    broken = _feed(small_catalog, batches[:120], Source(Broken()))
    series = np.arange(0, small_catalog.n_series, SHARDS)
    now = int(batches[119].ts_ns.max())
    for name, values in plain.columns(series, now).items():
        np.testing.assert_array_equal(values, broken.columns(series, now)[name], err_msg=name)
    assert "window model Broken failed" in caplog.text
    # a model trained for another catalog (other indicators) is refused, not used
    other = ShardScorer(catalog, 0, SHARDS)
    model.indicators_ = (*model.indicators_[:-1], "renamed")
    try:
        other.update(catalog, batches[0], Source(model))
    finally:
        model.indicators_ = tuple(i.id for i in small_catalog.indicators)
    assert other.windows is None and other._window_failed


def test_registry_models_hot_reload_the_window_model(tmp_path, small_catalog, model) -> None:
    registry = ModelRegistry(tmp_path)
    card = ModelCard(family="window_model", version="", model_class="CityWindowModel", description="test",
                     training=TrainingData("test", "", "", 0, 0, ""), features=(), parameters={}, metrics={})
    models = RegistryModels(tmp_path, poll_s=0.0)
    assert models.window_model() is None
    version = registry.save("window_model", model, card)
    registry.promote("window_model", version)
    loaded = models.window_model()
    assert isinstance(loaded, CityWindowModel) and models.model_info() == {"window_model": version}


def test_a_window_model_saved_under_the_old_module_names_still_loads(tmp_path, small_catalog, model) -> None:
    """Artifacts saved before the modules were renamed (issue 13) name ``vitals.scoring.window_model`` and
    ``vitals.detectors.window_model``: rewritten to those names, a fresh artifact loads and scores the same."""
    import zipfile

    from vitals.detectors.window_forest import FEATURES as WINDOW_FEATURES
    from vitals.registry.trust import dump_artifact, load_artifact

    new = tmp_path / "new.skops"
    dump_artifact(model, new)
    old = tmp_path / "old.skops"
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "schema.json":
                text = data.decode()
                assert "vitals.scoring.city_window_model" in text and "vitals.detectors.window_forest" in text
                data = (text.replace("vitals.scoring.city_window_model", "vitals.scoring.window_model")
                        .replace("vitals.detectors.window_forest", "vitals.detectors.window_model").encode())
            dst.writestr(item, data)
    loaded = load_artifact(old)
    assert isinstance(loaded, CityWindowModel)
    raw = np.random.default_rng(3).normal(size=(8, len(WINDOW_FEATURES)))
    indicator = np.zeros(8, dtype=np.int64)
    np.testing.assert_array_equal(loaded.score(indicator, raw)[0], model.score(indicator, raw)[0])
