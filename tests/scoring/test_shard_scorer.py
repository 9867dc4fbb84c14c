"""Scores, expected band and explanations computed per shard in the flow, and their export."""

from __future__ import annotations

import pickle
from datetime import timedelta

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from vitals.batches import ReadingBatch
from vitals.exporter import ExportHub, ExportPolicy
from vitals.scoring import DETECTORS, FEATURES, ShardScorer
from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig
from vitals.state import ShardState, split_by_shard

SHARDS = 2


@pytest.fixture(scope="module")
def batches(small_catalog):
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=4, duration=timedelta(hours=8), step_s=60,
                                                       incidents=(), faults=FaultRates.none()))
    return [b for b in sim.batches(0, 1)]


def _feed(catalog, batches, shard=0):
    scorer, state = ShardScorer(catalog, shard, SHARDS), ShardState(catalog, shard, SHARDS)
    for b in batches:
        for k, part in split_by_shard(b, catalog, SHARDS):
            if k == shard:
                state.update(part)
                scorer.update(catalog, part, None)
    return scorer, state


def _spike(catalog, batch: ReadingBatch, series: int, factor: float) -> ReadingBatch:
    ind, street = divmod(series, catalog.n_streets)
    t = int(batch.ts_ns.max()) + 30 * 10**9
    last = batch.value[(batch.indicator == ind) & (batch.street == street)]
    base = float(last[-1]) if len(last) else catalog.indicators[ind].seasonality.base
    value = base + factor * catalog.indicators[ind].seasonality.noise
    value = float(np.clip(value, catalog.indicators[ind].valid_min, catalog.indicators[ind].valid_max))
    return ReadingBatch(np.array([t]), np.array([ind], np.int16), np.array([street], np.int32), np.array([value]))


def test_a_spike_raises_the_score_and_explains_it(small_catalog, batches):
    scorer, state = _feed(small_catalog, batches)
    view = state.view()
    quiet = scorer.columns(view.series, int(view.now_s * 1e9))
    assert np.isfinite(quiet["anomaly_score"]).all() and (quiet["anomaly_score"] >= 0).all()
    assert np.median(quiet["anomaly_score"]) < 0.3
    lower, mid, upper = quiet["expected_lower"], quiet["expected_mid"], quiet["expected_upper"]
    ok = np.isfinite(mid)
    assert ok.mean() > 0.9 and (lower[ok] <= mid[ok]).all() and (mid[ok] <= upper[ok]).all()
    # a jump of 12 noise standard deviations on a tunnel CO series (1-minute cadence: past the warm-up)
    co = small_catalog.indicator_index["tunnel_co"]
    target = next(int(s) for s in view.series if s // small_catalog.n_streets == co)
    spike = _spike(small_catalog, batches[-1], target, 12.0)
    scorer.update(small_catalog, spike, None)
    cols = scorer.columns(np.array([target]), int(spike.ts_ns[0]))
    assert cols["anomaly_score"][0] > max(0.25, 5 * np.median(quiet["anomaly_score"]))
    assert DETECTORS[int(cols["explain_detector"][0])] in ("seasonal_baseline", "data_quality", "range_novelty",
                                                                  "regime_change")
    assert FEATURES[int(cols["explain_feature"][0])]
    # a normal reading next: the onset score is held (decaying with event time) for the scrapes to see
    calm = _spike(small_catalog, spike, target, 0.0)
    calm = ReadingBatch(calm.ts_ns + 60 * 10**9, calm.indicator, calm.street, batches[-1].value[:0].copy()
                        if False else np.array([float(batches[-1].value[0]) * 0 + spike.value[0] - 12.0 *
                                                small_catalog.indicators[co].seasonality.noise]))
    scorer.update(small_catalog, calm, None)
    held = scorer.columns(np.array([target]), int(calm.ts_ns[0]))["anomaly_score"][0]
    later = scorer.columns(np.array([target]), int(calm.ts_ns[0]) + 1800 * 10**9)["anomaly_score"][0]
    assert 0.5 * cols["anomaly_score"][0] < held <= cols["anomaly_score"][0]
    assert later < held


def test_scorer_pickles_to_identical_columns(small_catalog, batches):
    scorer, state = _feed(small_catalog, batches[:200])
    copy = pickle.loads(pickle.dumps(scorer))
    view = state.view()
    now = int(view.now_s * 1e9)
    for name, values in scorer.columns(view.series, now).items():
        np.testing.assert_array_equal(values, copy.columns(view.series, now)[name], err_msg=name)
    for b in batches[200:260]:  # and keeps scoring identically afterwards
        for k, part in split_by_shard(b, small_catalog, SHARDS):
            if k == 0:
                np.testing.assert_array_equal(scorer.detector.update_score(
                    small_catalog.series_id(part.indicator, part.street) // SHARDS, part.ts_ns, part.value),
                    copy.detector.update_score(
                    small_catalog.series_id(part.indicator, part.street) // SHARDS, part.ts_ns, part.value))


def test_explanations_are_exported_for_anomalous_series(small_catalog, batches):
    scorer, state = _feed(small_catalog, batches)
    view = state.view()
    co = small_catalog.indicator_index["tunnel_co"]
    target = next(int(s) for s in view.series if s // small_catalog.n_streets == co)
    spike = _spike(small_catalog, batches[-1], target, 15.0)
    state.update(spike)
    scorer.update(small_catalog, spike, None)
    view = state.view()
    view = type(view)(view.series, view.indicator, view.street,
                      {**view.columns, **scorer.columns(view.series, int(view.now_s * 1e9))}, view.now_s)
    score = float(scorer.columns(np.array([target]), int(view.now_s * 1e9))["anomaly_score"][0])
    hub = ExportHub(small_catalog, registry=CollectorRegistry(), policy=ExportPolicy(
        explain_min=score * 0.99, street_sparse_min=(("vitals_anomaly_score", score * 0.99),)))
    hub.publish(0, view)
    text = hub.scrape().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    info = families.get("vitals_anomaly_explanation_info") or families["vitals_anomaly_explanation"]
    street = small_catalog.streets[target % small_catalog.n_streets].id
    samples = [s for s in info.samples if s.labels["street"] == street]
    assert samples and samples[0].labels["detector"] in DETECTORS and samples[0].value == 1.0
    scores = {s.labels["street"] for s in families["vitals_anomaly_score"].samples}
    assert {s.labels["street"] for s in info.samples} <= scores


class _Linear:
    """A deterministic forecaster: each horizon's value is the newest window value plus the tick's minute; counts
    its calls. ``fail_after``: calls after that many raise (a model gone bad)."""

    horizons_s = (900, 1800)

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def predict(self, catalog, window, indicator, now_ns):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            msg = "gone bad"
            raise ValueError(msg)
        last = np.nan_to_num(np.asarray(window, dtype=np.float64)[:, -1])
        minute = (now_ns // 60_000_000_000) % 1000
        value = last[:, None] + minute + np.array([1.0, 2.0])[None, :]
        level = (value % 5).astype(np.int8)
        secs = np.column_stack([value[:, 0] * k for k in (1, 2, 3, 4)])
        return type("F", (), {"horizons_s": self.horizons_s, "value": value, "level": level,
                              "seconds_to_level": secs})()


class _Holder:
    def __init__(self, model) -> None:
        self.model = model

    def forecaster(self):
        return self.model

    def window_model(self):
        return None


def _shard_parts(catalog, batches):
    return [part for b in batches for k, part in split_by_shard(b, catalog, SHARDS) if k == 0]


def test_deferred_forecasts_equal_forecasts_made_at_every_tick(small_catalog, batches):
    """Forecasts are predicted when read: a scorer read only now and then publishes exactly what one read after
    every batch (each tick predicted at once) publishes, with fewer predictions."""
    parts = _shard_parts(small_catalog, batches[:240])
    eager_model, lazy_model = _Linear(), _Linear()
    eager, lazy = ShardScorer(small_catalog, 0, SHARDS), ShardScorer(small_catalog, 0, SHARDS)
    series = np.arange(small_catalog.n_series)[np.arange(small_catalog.n_series) % SHARDS == 0]
    for i, part in enumerate(parts):
        eager.update(small_catalog, part, _Holder(eager_model))
        lazy.update(small_catalog, part, _Holder(lazy_model))
        now = int(part.ts_ns.max())
        want = eager.columns(series, now)
        if i % 7 == 6:
            got = lazy.columns(series, now)
            assert want.keys() == got.keys() and any(k.startswith("forecast_") for k in got)
            for name, values in want.items():
                np.testing.assert_array_equal(got[name], values, err_msg=name)
    assert eager_model.calls > 100
    assert lazy_model.calls < eager_model.calls / 3
    # a pickle (a recovery snapshot) predicts the pending tick first: the copy reads the same forecasts
    lazy.update(small_catalog, parts[-1], _Holder(lazy_model))
    eager.update(small_catalog, parts[-1], _Holder(eager_model))
    copy = pickle.loads(pickle.dumps(lazy))
    now = int(parts[-1].ts_ns.max())
    for name, values in eager.columns(series, now).items():
        np.testing.assert_array_equal(copy.columns(series, now)[name], values, err_msg=name)


def test_a_new_model_predicts_the_old_models_pending_tick(small_catalog, batches):
    """A tick of a newly promoted model first predicts the old model's pending tick (as it would have been), and a
    model failing later keeps the last forecasts read."""
    parts = _shard_parts(small_catalog, batches[:60])
    first, second = _Linear(), _Linear(fail_after=0)
    scorer = ShardScorer(small_catalog, 0, SHARDS)
    for part in parts[:-1]:
        scorer.update(small_catalog, part, _Holder(first))
    assert first.calls == 0
    scorer.update(small_catalog, parts[-1], _Holder(second))
    assert first.calls == 1
    kept = scorer.forecast_value.copy()
    assert second.calls == 1 and np.isfinite(kept).any()  # the second model failed: the first's forecasts stay
