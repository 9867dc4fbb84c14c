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


def _forests(rng: np.random.Generator, n: int) -> dict[int, object]:
    """Fitted forests of several families: sizes, sample counts (denominators and depths) and feature subsets
    differ; some family codes have none."""
    from sklearn.ensemble import IsolationForest

    out: dict[int, object] = {}
    for code in rng.choice(np.arange(2 * n), n, replace=False):
        train = rng.normal(size=(int(rng.integers(5, 800)), 6)) * rng.uniform(0.1, 10.0, 6)
        out[int(code)] = IsolationForest(n_estimators=int(rng.integers(1, 30)), max_samples=int(rng.integers(2, 300)),
                                         max_features=float(rng.choice([1.0, 0.5])), random_state=int(code)).fit(train)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_all_families_in_one_walk_equal_one_forest_scores_call_per_family(seed: int) -> None:
    """``family_scores`` (every family's forest joined, one compiled walk) gives per window exactly what
    ``forest_scores`` of its family's scikit-learn forest gives (tree.apply, scikit-learn's sums), 0 for a family
    without a forest or a code outside the model; the scikit-learn forests and their array forms alike."""
    from vitals.detectors.window_forest import family_scores, forest_arrays, forest_scores

    rng = np.random.default_rng(seed)
    forests = _forests(rng, int(rng.integers(1, 8)))
    n = int(rng.integers(1, 4000))
    family = rng.integers(-1, 2 * len(forests) + 2, n)
    x = rng.normal(size=(n, 6)) * rng.uniform(0.1, 20.0, 6)
    x[rng.random(x.shape) < 0.02] = np.nan
    expected = np.zeros(n)
    for f, forest in forests.items():
        sel = family == f
        if sel.any():
            expected[sel] = forest_scores(forest, x[sel])
    assert (expected > 0).any()
    owner = object.__new__(WindowFeatureModel)
    assert family_scores(owner, forests, family, x).tobytes() == expected.tobytes()
    plain = {f: forest_arrays(forest) for f, forest in forests.items()}
    assert family_scores(owner, plain, family, x).tobytes() == expected.tobytes()  # a new dict of other forests
    for f in list(forests)[:1]:  # a refitted family: the joined form follows
        forests[f] = _forests(np.random.default_rng(seed + 50), 1).popitem()[1]
        sel = family == f
        if sel.any():
            expected[sel] = forest_scores(forests[f], x[sel])
    assert family_scores(owner, forests, family, x).tobytes() == expected.tobytes()


def test_the_walk_compares_float32_inputs_with_float64_thresholds_as_scikit_learn() -> None:
    """Inputs at a threshold and one float32 step either side of it (thresholds are float64 midpoints of float32
    values: compared in float32 they would send some of these the other way)."""
    from sklearn.ensemble import IsolationForest

    from vitals.detectors.window_forest import forest_arrays

    rng = np.random.default_rng(2)
    forest = IsolationForest(n_estimators=20, max_samples=128, random_state=0).fit(rng.normal(size=(500, 3)))
    nodes = forest_arrays(forest)
    assert nodes is not None
    inner = nodes.left >= 0
    at = nodes.threshold[inner].astype(np.float32)
    edge = np.concatenate([at, np.nextafter(at, np.float32(np.inf)), np.nextafter(at, np.float32(-np.inf))])
    x = np.repeat(edge[:, None], 3, axis=1).astype(np.float64)
    x[:, 1:] = rng.permuted(x[:, 1:], axis=0)
    np.testing.assert_array_equal(nodes.scores(x), -forest.score_samples(x))
    assert np.array_equal(nodes.scores(x[:0]), np.empty(0))
