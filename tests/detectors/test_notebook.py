"""The notebook API: score_series and the scikit-learn-style wrapper give the streaming scores, on pandas."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from vitals_testing import REPO

from vitals.detectors import DataQualityDetector, DefaultDetector, SeasonalBaseline
from vitals.detectors.notebook import NotebookDetector, make_detector, score_series
from vitals.errors import ModelError, NotFittedError
from vitals.metric_names import ANOMALY_THRESHOLD

ROWS = 700


def series(seed: int = 0, name: str = "v") -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=ROWS, freq="5min")
    hours = np.arange(ROWS) / 12.0
    values = 50 + 10 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 1, ROWS)
    values[[400, 550, 650]] += 30.0
    return pd.Series(values, index=index, name=name)


def streamed(det: DefaultDetector, x: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Scores and expected values row by row through the streaming API."""
    det.fit([], [], [], n_series=1)
    ts = x.index.as_unit("ns").asi8
    scores, expected = [], []
    for t, v in zip(ts, x.to_numpy(), strict=True):
        scores.append(det.update_score([0], [t], [v])[0])
        expected.append(det.band(np.array([0]))[1][0])
    return np.array(scores), np.array(expected)


def test_score_series_equals_streaming() -> None:
    x = series()
    out = score_series(x, detector="default", warmup=30)
    scores, expected = streamed(DefaultDetector(warmup=30), x)
    assert list(out.columns) == ["value", "score", "expected", "lower", "upper", "is_anomaly"]
    assert out.index.equals(x.index)
    np.testing.assert_array_equal(out["score"].to_numpy(), scores)
    np.testing.assert_array_equal(out["expected"].to_numpy(), expected)
    assert (out["lower"] <= out["expected"]).all() and (out["expected"] <= out["upper"]).all()
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), scores >= ANOMALY_THRESHOLD)
    assert out["is_anomaly"].iloc[[400, 550, 650]].any()


def test_instance_is_cloned_and_params_need_a_name() -> None:
    det = DefaultDetector(warmup=30)
    out = score_series(series(), detector=det)
    assert not hasattr(det, "n_series_")
    pd.testing.assert_frame_equal(out, score_series(series(), detector="default", warmup=30))
    with pytest.raises(ModelError, match="detector name"):
        score_series(series(), detector=det, warmup=10)


def test_thresholds_and_missing_band() -> None:
    x = series()
    seasonal = score_series(x, detector="seasonal_baseline")
    np.testing.assert_array_equal(seasonal["is_anomaly"], seasonal["score"] >= SeasonalBaseline().band_z)
    quality = score_series(x, detector=DataQualityDetector(valid_max=70.0), threshold=0.9)
    assert quality[["expected", "lower", "upper"]].isna().all().all()
    np.testing.assert_array_equal(quality["is_anomaly"], quality["score"] >= 0.9)
    assert quality["is_anomaly"].iloc[[400, 550, 650]].all()


def test_wide_frame_keeps_rows_order_and_skips_missing_cells() -> None:
    a, b = series(1, "a"), series(2, "b")
    b.iloc[100:120] = np.nan
    wide = pd.concat([a, b], axis=1)
    order = np.r_[0:300, 310:300:-1, 311:ROWS]  # backwards and duplicated timestamps stay as given
    wide = pd.concat([wide.iloc[order], wide.iloc[[5]]])
    out = score_series(wide, detector="default", warmup=30)
    assert out.columns.names == ["series", "field"] and out.index.equals(wide.index)
    assert out["b"]["score"].iloc[100:120].isna().all() and not out["b"]["is_anomaly"].iloc[100:120].any()
    alone = score_series(wide["b"].dropna(), detector="default", warmup=30)
    np.testing.assert_array_equal(out["b"]["score"].dropna().to_numpy(), alone["score"].to_numpy())
    pd.testing.assert_frame_equal(out["a"], score_series(wide["a"], detector="default", warmup=30), check_names=False)


def test_input_errors() -> None:
    with pytest.raises(ModelError, match="DatetimeIndex"):
        score_series(pd.Series([1.0, 2.0]))
    with pytest.raises(ModelError, match="numeric"):
        score_series(pd.Series(["a", "b"], index=pd.date_range("2024-01-01", periods=2, freq="h")))


def test_sklearn_wrapper_continues_the_stream() -> None:
    x = series(3)
    det = make_detector("default", warmup=30).fit(x.iloc[:500])
    scores = det.score_samples(x.iloc[500:])
    whole = score_series(x, detector="default", warmup=30)["score"]
    pd.testing.assert_series_equal(scores, whole.iloc[500:].rename("v"), check_names=False)
    pd.testing.assert_series_equal(det.score_samples(x.iloc[500:]), scores)  # scoring does not change the model
    pd.testing.assert_series_equal(det.decision_function(x.iloc[500:]), scores - ANOMALY_THRESHOLD)
    assert det.get_params()["params"] == {"warmup": 30}
    assert clone(det).get_params() == det.get_params()
    with pytest.raises(NotFittedError):
        clone(det).score_samples(x)
    with pytest.raises(ModelError, match="columns"):
        det.score_samples(x.rename("other"))


def test_sklearn_wrapper_on_a_wide_frame() -> None:
    wide = pd.concat([series(4, "a"), series(5, "b")], axis=1)
    det = NotebookDetector("seasonal_baseline", threshold=4.0).fit(wide.iloc[:300])
    got = det.decision_function(wide.iloc[300:])
    assert list(got.columns) == ["a", "b"] and got.index.equals(wide.index[300:])
    whole = score_series(wide, detector="seasonal_baseline").xs("score", axis=1, level="field")
    pd.testing.assert_frame_equal(got + 4.0, whole.iloc[300:], check_names=False)


def doc_blocks(heading: str) -> list[str]:
    """The python code blocks of one section of docs/detectors.md."""
    text = (REPO / "docs" / "detectors.md").read_text()
    section = text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_documented_notebook_example_runs(nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The section "In a notebook" runs as written, from a checkout next to ../shared (so the docs cannot rot)."""
    import matplotlib

    matplotlib.use("Agg")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "nab").symlink_to(nab_dir)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    blocks = doc_blocks("In a notebook")
    assert len(blocks) == 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/detectors.md", "exec"), namespace)
    x = namespace["x"]
    runs = namespace["runs"]
    assert isinstance(x, pd.Series) and isinstance(runs, dict) and len(x) == 1882
    assert set(runs) == {"default", "seasonal_baseline", "data_quality"}
    assert all(run.index.equals(x.index) for run in runs.values())
    margin = namespace["margin"]
    assert isinstance(margin, pd.Series) and margin.index.equals(x.index[1000:])


@pytest.mark.parametrize(("name", "threshold"), [("windowed_gaussian", 0.999999999999955), ("knn_cad", 1.0),
                                                 ("contextual_novelty", 0.7071929238985313)])
def test_reference_detectors_decide_at_their_nab_fit_threshold(name: str, threshold: float) -> None:
    """Not at the default's 0.40, where their scores mean nothing (windowed_gaussian's lie in [0.5, 1))."""
    x = series()
    out = score_series(x, detector=name)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), out["score"].to_numpy() >= threshold)
    assert make_detector(name).fit(x.iloc[:300]).threshold_ == threshold
