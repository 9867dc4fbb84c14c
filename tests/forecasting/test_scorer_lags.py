"""The flow's forecast window (ShardScorer on its fine lag grid) has the training grid's meaning: values as of
now and every 5 minutes before (to the minute), the last one the newest reading."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.scoring import ShardScorer

START_NS = 1_767_225_600 * 10**9  # 2026-01-01 00:00 UTC
MIN_NS = 60 * 10**9


class _Recorder:
    """A forecaster that records the windows it is asked to predict from (and predicts nothing)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, np.ndarray]] = []

    def predict(self, catalog: Catalog, window: np.ndarray, indicator: np.ndarray, now_ns: int) -> Any:
        self.calls.append((now_ns, np.array(window)))
        msg = "recorded"
        raise ValueError(msg)  # the scorer keeps its last forecasts; we only need the window


class _Models:
    def __init__(self, model: _Recorder) -> None:
        self.model = model

    def forecaster(self) -> _Recorder:
        return self.model

    def window_model(self) -> None:
        return None


def _readings(catalog: Catalog, n_min: int, seed: int) -> pd.DataFrame:
    """Random readings of three series at irregular times (some minutes silent), values a noisy ramp."""
    rng = np.random.default_rng(seed)
    n = 4 * n_min
    ts = START_NS + np.sort(rng.choice(n_min * 60, n, replace=False)).astype(np.int64) * 10**9
    street = rng.integers(0, 3, n)
    ind = np.full(n, catalog.indicator_index["metro_load"])
    value = 50.0 + (ts - START_NS) / 1e11 + rng.normal(size=n)
    return pd.DataFrame({"ts": ts, "ind": ind, "street": street, "value": value})


def _oracle(frame: pd.DataFrame, times: np.ndarray, n_streets: int) -> np.ndarray:
    """The last reading strictly before each time, per street."""
    out = np.full((n_streets, times.size), np.nan)
    for street in range(n_streets):
        rows = frame[frame.street == street].sort_values("ts", kind="stable")
        pos = np.searchsorted(rows.ts.to_numpy(), times, side="left") - 1
        out[street] = np.where(pos >= 0, rows.value.to_numpy()[np.maximum(pos, 0)], np.nan)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_forecast_window_is_as_of_now_every_step(small_catalog: Catalog, seed: int) -> None:
    frame = _readings(small_catalog, 150, seed)
    recorder = _Recorder()
    scorer = ShardScorer(small_catalog, 0, 1)
    minute = (frame.ts - START_NS) // MIN_NS
    for _, part in frame.groupby(minute, sort=True):  # one batch per minute, like the stream
        scorer.update(small_catalog, ReadingBatch(part.ts.to_numpy(), part.ind.to_numpy(np.int16),
                                                  part.street.to_numpy(np.int32), part.value.to_numpy()),
                      _Models(recorder))
        assert scorer.forecast_at_ns == 0  # read the forecasts after every batch, as a view would: every tick runs
    assert len(recorder.calls) > 100
    ind = small_catalog.indicator_index["metro_load"]
    rows = ind * small_catalog.n_streets + np.arange(3)
    for now_ns, window in recorder.calls[-40:]:
        seen = np.flatnonzero(scorer.seen)
        got = window[np.searchsorted(seen, rows)]
        # now, and the end of now's minute minus 5, 10 ... 60 minutes (the fine grid's resolution: a minute)
        times = (now_ns // MIN_NS + 1) * MIN_NS - np.arange(12, -1, -1, dtype=np.int64) * 5 * MIN_NS
        times[-1] = now_ns + 1
        oracle = _oracle(frame, times, 3)
        assert got.shape == (3, 13)
        np.testing.assert_allclose(got, oracle.astype(np.float32), rtol=1e-6)
        newest = frame[frame.ts <= now_ns].sort_values("ts").groupby("street").value.last().to_numpy()
        np.testing.assert_allclose(got[:, -1], newest.astype(np.float32), rtol=1e-6)
    restored = pickle.loads(pickle.dumps(scorer))
    assert restored.lag_window(now_ns).tobytes() == scorer.lag_window(now_ns).tobytes()


def test_coarse_grid_is_the_last_complete_step(small_catalog: Catalog) -> None:
    frame = _readings(small_catalog, 90, 3)
    scorer = ShardScorer(small_catalog, 0, 1, lag_resolution_s=300)
    scorer.lags.update(frame.ind.to_numpy() * small_catalog.n_streets + frame.street.to_numpy(),
                       frame.ts.to_numpy(), frame.value.to_numpy())
    now = START_NS + 87 * MIN_NS
    assert scorer.lag_window(now).shape[1] == 13
    got = scorer.lag_window(now)[small_catalog.indicator_index["metro_load"] * small_catalog.n_streets]
    oracle = _oracle(frame, START_NS + 85 * MIN_NS - np.arange(12, -1, -1, dtype=np.int64) * 5 * MIN_NS, 3)[0]
    np.testing.assert_allclose(got, oracle.astype(np.float32), rtol=1e-6)
    with pytest.raises(ConfigError, match="multiple"):
        ShardScorer(small_catalog, 0, 1, lag_resolution_s=70)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_a_tick_read_later_predicts_the_window_as_of_the_tick(small_catalog: Catalog, seed: int) -> None:
    """A tick's window is built when read (or before the lag buffer next changes): whatever readings arrive between
    the tick and the read (late ones inside its window, the step in progress, steps that push old ones out of the
    ring), the window predicted is the one a read right after the tick sees."""
    rng = np.random.default_rng(seed)
    frame = _readings(small_catalog, 180, seed)
    frame["ts"] -= np.where(rng.random(len(frame)) < 0.3, rng.integers(0, 20 * 60, len(frame)) * 10**9, 0)  # late
    eager_model, lazy_model = _Recorder(), _Recorder()
    eager, lazy = ShardScorer(small_catalog, 0, 1), ShardScorer(small_catalog, 0, 1)
    late_inside = 0
    clock = 0
    for idx in np.array_split(np.arange(len(frame)), 400):  # file order, some late: not every batch ticks
        part = frame.iloc[idx]
        batch = ReadingBatch(part.ts.to_numpy(), part.ind.to_numpy(np.int16), part.street.to_numpy(np.int32),
                             part.value.to_numpy())
        late_inside += int((part.ts.to_numpy() <= clock).sum())
        eager.update(small_catalog, batch, _Models(eager_model))
        eager.horizons  # noqa: B018 - read after every batch: each tick's window as of the tick
        lazy.update(small_catalog, batch, _Models(lazy_model))
        if rng.random() < 0.15:
            lazy.horizons  # noqa: B018 - read now and then
        clock = max(clock, int(part.ts.max()))
    lazy.horizons  # noqa: B018
    by_time = {now: window for now, window in eager_model.calls}
    for now, window in lazy_model.calls:
        assert window.tobytes() == by_time[now].tobytes()
    assert late_inside > 100 and len(by_time) > 100
    assert 10 < len(lazy_model.calls) < len(eager_model.calls) / 2
