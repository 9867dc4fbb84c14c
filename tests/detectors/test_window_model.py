"""IsolationForest window model: fitted per family, scored at window close, calibrated, picklable."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vitals.detectors import WindowFeatureModel
from vitals.detectors.window_forest import window_features
from vitals.errors import NotFittedError

NS = 1_000_000_000


def history(seed: int, n_series: int = 20, hours: int = 48, shifted: tuple[int, ...] = ()) -> tuple[
        np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    steps = hours * 12
    t = 1_699_999_200 * NS + np.arange(steps) * 300 * NS
    s = np.repeat(np.arange(n_series)[None, :], steps, axis=0)
    v = 50.0 + rng.normal(0, 1, (steps, n_series)) + np.arange(n_series)
    for h in shifted:
        v[h * 12:(h + 1) * 12, h % n_series] += 8.0
    return s.ravel(), np.repeat(t, n_series), v.ravel()


def test_window_features_match_pandas() -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    s = rng.integers(0, 3, 300)
    w = rng.integers(0, 5, 300)
    v = rng.normal(size=300)
    gs, gw, feats = window_features(s, w, v)
    frame = pd.DataFrame({"s": s, "w": w, "v": v}).groupby(["s", "w"])["v"]
    expected = frame.agg(["mean", "min", "max"]).loc[list(zip(gs, gw, strict=True))].to_numpy()
    np.testing.assert_allclose(feats[:, [0, 2, 3]], expected)
    np.testing.assert_allclose(feats[:, 1], frame.std(ddof=0).loc[list(zip(gs, gw, strict=True))].to_numpy())


def test_scores_closed_windows_and_beats_chance() -> None:
    model = WindowFeatureModel(window_s=3600).fit(*history(1), n_series=20, families=np.arange(20) % 2)
    shifted = tuple(range(0, 48, 3))
    s, t, v = history(2, shifted=shifted)
    out = model.update(s, t, v)
    assert out.scores.size == 20 * 47  # the last window of each series is still open
    assert np.all((out.scores >= 0) & (out.scores <= 1))
    hour = (out.window_start_ns - t[0]) // (3600 * NS)
    truth = np.isin(hour, shifted) & (out.series == hour % 20)
    assert roc_auc_score(truth, out.scores) > 0.9


def test_not_fitted() -> None:
    """(Clone and the pickle round trip: ``test_contract_components.py::test_window_model_contract``.)"""
    with pytest.raises(NotFittedError):
        WindowFeatureModel().update([0], [0], [1.0])


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_forest_scores_equal_score_samples(max_features: float) -> None:
    """The fast evaluation of a fitted IsolationForest gives exactly ``-score_samples`` (oracle)."""
    from sklearn.ensemble import IsolationForest

    from vitals.detectors.window_forest import forest_scores

    rng = np.random.default_rng(5)
    for trial in range(4):
        train = rng.normal(size=(int(rng.integers(20, 2000)), 6)) * rng.uniform(0.1, 10.0, 6)
        forest = IsolationForest(n_estimators=int(rng.integers(1, 60)), max_samples=int(rng.integers(2, 300)),
                                 max_features=max_features, random_state=trial).fit(train)
        x = rng.normal(size=(int(rng.integers(1, 3000)), 6)) * rng.uniform(0.1, 20.0, 6)
        x[rng.random(x.shape) < 0.01] = np.nan
        np.testing.assert_array_equal(forest_scores(forest, x), -forest.score_samples(x))
        np.testing.assert_array_equal(forest_scores(forest, x[:1]), -forest.score_samples(x[:1]))
