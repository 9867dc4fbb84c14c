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
