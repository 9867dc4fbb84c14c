"""Oracle for the vitals snapshots a batch crosses (docs/history.md): captured at each boundary and rendered
together at the end of the batch (``ShardProcessor(batch_snapshots=True)``, the default) they are the rows a
view at each boundary gives (``batch_snapshots=False``), bit for bit: on random sparse and dense series in
random batch splits, with late and duplicate readings, several shards, scoring on, and a resume from a pickled
shard memory after a crash that rewrites a window's file whole."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.history import read_vitals, write_vitals
from vitals.state import ShardState
from vitals.state.sharding import split_by_shard
from vitals.state.view import VitalsView
from vitals.stream.shard_step import ShardOutput, ShardProcessor, ShardPublish, ShardRunner, VitalsChunk

T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
SHARDS = 3
# the flow's default: 30-minute windows here (710 series per shard); a resume inside a window rewrites its 6
# snapshots whole (at 400 rows each 5-minute snapshot was its own window and file: 6x the Parquet files)
CHUNK_ROWS = 5_000


def _feed(catalog: Catalog, seed: int, days: int = 2) -> ReadingBatch:
    """A few series, some hourly, some every 2 or 10 minutes, over ``days``; values wander across the
    thresholds, some stay flat (stuck); ~3 % of readings arrive up to 40 minutes late and ~2 % are repeated
    (duplicates, some in a later batch), in arrival order."""
    rng = np.random.default_rng(seed)
    series = rng.choice(catalog.n_series, size=9, replace=False)
    parts = []
    for k, sid in enumerate(series.tolist()):
        step = 3600 if k % 3 else int(rng.choice([120, 600]))
        ts = T0 + np.arange(0, days * 86_400, step, dtype=np.int64) * S + rng.integers(0, 30, 1) * S
        ts = ts[rng.random(len(ts)) > 0.1]  # gaps
        ind, street = catalog.split_series_id(np.array([sid]))
        lo, hi = float(catalog.valid_min_array[ind[0]]), float(catalog.valid_max_array[ind[0]])
        walk = np.clip(0.5 + np.cumsum(rng.normal(0, 0.05, len(ts))), 0.01, 0.99)
        value = np.round(lo + (hi - lo) * walk, 1 if k % 4 else 0)  # coarse: runs of equal values
        if k == 4:
            value[:] = value[0]  # a flat line
        parts.append(pd.DataFrame({"ts": ts, "ind": ind[0], "street": street[0], "value": value}))
    df = pd.concat(parts).sort_values("ts", kind="stable").reset_index(drop=True)
    arrive = df["ts"].to_numpy() + np.where(rng.random(len(df)) < 0.03, rng.integers(1, 2400, len(df)) * S, 0)
    df = df.iloc[np.argsort(arrive, kind="stable")]
    dup = df.sample(frac=0.02, random_state=seed)
    df = pd.concat([df, dup]).iloc[np.argsort(np.concatenate([np.arange(len(df)), dup.index.to_numpy() + 7]),
                                              kind="stable")]
    return ReadingBatch(df["ts"].to_numpy(np.int64), df["ind"].to_numpy(np.int16), df["street"].to_numpy(np.int32),
                        df["value"].to_numpy(np.float64), partition="p0")


def _batches(feed: ReadingBatch, seed: int) -> list[ReadingBatch]:
    """The feed cut into batches of random sizes (1 reading .. most of a day), numbered."""
    rng = np.random.default_rng(seed + 1000)
    cuts = np.unique(rng.choice(np.arange(1, len(feed)), size=max(1, len(feed) // 60), replace=False))
    idx = np.split(np.arange(len(feed)), cuts)
    return [ReadingBatch(b.ts_ns, b.indicator, b.street, b.value, partition="p0", seq=seq)
            for seq, b in enumerate(feed.take(i) for i in idx)]


class Flow:
    """Shard runners fed the batches split by shard, as the flow does."""

    def __init__(self, catalog: Catalog, *, batch_snapshots: bool, scoring: bool, models: Any = None) -> None:
        self.catalog = catalog
        self.processor = ShardProcessor(catalog, SHARDS, vitals_chunk_rows=CHUNK_ROWS, scoring=scoring,
                                        batch_snapshots=batch_snapshots, models=models)
        self.runners: dict[int, ShardRunner] = {}

    def feed(self, batch: ReadingBatch) -> list[ShardOutput]:
        out: list[ShardOutput] = []
        for shard, part in split_by_shard(batch, self.catalog, SHARDS):
            runner = self.runners.setdefault(shard, ShardRunner(self.processor, None))
            out.extend(runner.on_batches([part]))
        return out

    def eof(self) -> list[ShardOutput]:
        return [o for r in self.runners.values() for o in r.on_eof()]

    def saved(self) -> dict[int, bytes]:
        """The shard memories as Bytewax snapshots them (pickled)."""
        return {k: pickle.dumps(r.memory) for k, r in self.runners.items()}

    def resume(self, saved: dict[int, bytes]) -> None:
        self.runners = {k: ShardRunner(self.processor, pickle.loads(b)) for k, b in saved.items()}


def _write(root: Path, catalog: Catalog, outputs: list[ShardOutput]) -> int:
    chunks = [o for o in outputs if isinstance(o, VitalsChunk)]
    for c in chunks:
        write_vitals(root, catalog, c.snapshots, c.name)
    return sum(len(c.snapshots) for c in chunks)


def _frame(root: Path) -> pd.DataFrame:
    df = read_vitals(root)
    return df.sort_values(["at", "series"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize(("seed", "scoring", "days"), [(1, False, 1), (2, True, 1)])
def test_batch_snapshots_are_the_per_boundary_views(tmp_path, small_catalog, seed, scoring, days) -> None:
    batches = _batches(_feed(small_catalog, seed, days), seed)
    reference = Flow(small_catalog, batch_snapshots=False, scoring=scoring)
    n_ref = _write(tmp_path / "ref", small_catalog, [o for b in batches for o in reference.feed(b)]
                   + reference.eof())
    # the new path, crashing after 2/3 of the batches and resuming from the memories saved at 1/3
    flow = Flow(small_catalog, batch_snapshots=True, scoring=scoring)
    third = len(batches) // 3
    n_new = _write(tmp_path / "new", small_catalog, [o for b in batches[:third] for o in flow.feed(b)])
    saved = flow.saved()
    _write(tmp_path / "new", small_catalog, [o for b in batches[third:2 * third] for o in flow.feed(b)])
    flow.resume(saved)
    n_new += _write(tmp_path / "new", small_catalog, [o for b in batches[third:] for o in flow.feed(b)] + flow.eof())
    ref, new = _frame(tmp_path / "ref"), _frame(tmp_path / "new")
    assert n_ref > 150 * days and len(ref) > 500 * days  # many boundaries and rows: the comparison means something
    assert ref["at"].nunique() > 100 * days and ref["series"].nunique() == 9
    assert (ref["level"] > 0).any() and (ref["stuck"] > 0).any() and ref["rate_1h"].notna().any()
    assert not new.duplicated(["at", "series"]).any()
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    assert n_new >= n_ref  # each snapshot written once per run; the resumed part rewrote its windows whole


def test_render_of_captures_is_the_view_at_each_moment(small_catalog) -> None:
    """State level: captures taken between batches, rendered together, equal the views taken then."""
    feed = _feed(small_catalog, 5)
    state = ShardState(small_catalog, 0, 1)
    captures, views = [], []
    rng = np.random.default_rng(5)
    for batch in _batches(feed, 5):
        state.update(batch)
        if rng.random() < 0.5:
            at = state.clock_ns + int(rng.integers(0, 7200)) * S
            captures.append(state.capture(at))
            views.append(state.view(at))
    rendered = state.render(captures)
    assert len(rendered) == len(views) > 20
    for got, want in zip(rendered, views, strict=True):
        assert got.now_s == want.now_s and np.array_equal(got.series, want.series)
        assert list(got.columns) == list(want.columns)
        for name, column in want.columns.items():
            np.testing.assert_array_equal(got.columns[name], column, err_msg=name)


def _snapshot_rows(root: Path) -> pd.DataFrame:
    return _frame(root).drop(columns=["ewma"])


def test_snapshots_do_not_depend_on_the_batching(tmp_path, small_catalog) -> None:
    """Late readings (~3 %, up to 40 minutes) fold in where they arrived, after the boundaries the clock had
    passed, in whatever batches the input comes: the same snapshots from the whole feed in one batch and in two
    random splits (the EWMA to 1e-12: its decayed sums are grouped by the fold's pieces). Cut by interval in
    time order, as until 2026-12-03, 15 % of the snapshots' anomaly scores depended on the batching."""
    feed = _feed(small_catalog, 3)
    splits = {"one": [ReadingBatch(feed.ts_ns, feed.indicator, feed.street, feed.value, partition="p0")],
              **{f"split{s}": _batches(feed, s) for s in (3, 4)}}
    for name, batches in splits.items():
        flow = Flow(small_catalog, batch_snapshots=True, scoring=True)
        _write(tmp_path / name, small_catalog, [o for b in batches for o in flow.feed(b)] + flow.eof())
    first = _frame(tmp_path / "one")
    assert len(first) > 500 and first["at"].nunique() > 100
    for name in splits:
        got = _frame(tmp_path / name)
        pd.testing.assert_frame_equal(got.drop(columns=["ewma"]), first.drop(columns=["ewma"]), check_exact=True)
        np.testing.assert_allclose(got["ewma"], first["ewma"], rtol=1e-12)


def test_scores_do_not_depend_on_the_history(small_catalog) -> None:
    """The history on (a batch folded in pieces, cut at each boundary) and off (each batch whole): the scorer
    gets the readings in arrival order either way, so the final scores, bands and levels are the same (floats to
    1e-9: the anomaly hold and the EWMA decay in other steps). Without the repeated readings, whose originals
    40 minutes late can fall out of the duplicate ring when a batch is cut (docs/vitals.md: a duplicate beyond
    `duplicate_depth` is accepted; upstream the lateness check rejects such late readings first)."""
    feed = _feed(small_catalog, 3)
    keys = pd.DataFrame({"t": feed.ts_ns, "i": feed.indicator, "s": feed.street})
    unique = feed.take(np.flatnonzero(~keys.duplicated().to_numpy()))
    batches = _batches(ReadingBatch(unique.ts_ns, unique.indicator, unique.street, unique.value, partition="p0"), 3)
    final: dict[bool, dict[int, VitalsView]] = {}
    for history in (True, False):
        flow = Flow(small_catalog, batch_snapshots=True, scoring=True)
        flow.processor.keep_history = history
        out = [o for b in batches for o in flow.feed(b)] + flow.eof()
        final[history] = {o.shard: o.view for o in out if isinstance(o, ShardPublish) and o.final}
    assert sorted(final[False]) == sorted(final[True]) and len(final[True]) >= 2
    for shard, view in final[False].items():
        on = final[True][shard]
        assert np.array_equal(view.series, on.series)
        assert {"anomaly_score", "expected_lower", "expected_upper", "level"} <= set(view.columns)
        for column, values in view.columns.items():
            if values.dtype.kind == "f":
                np.testing.assert_allclose(values, on.columns[column], rtol=1e-9, atol=1e-9, err_msg=column)
            else:
                np.testing.assert_array_equal(values, on.columns[column], err_msg=column)


class _Promotions:
    """A model source whose promoted forecaster changes at given batches (hot reloads)."""

    def __init__(self, models: list[Any]) -> None:
        self.models = models
        self.current = 0

    def forecaster(self) -> Any:
        return self.models[self.current]

    def window_model(self) -> None:
        return None


def test_forecasts_at_boundaries_are_the_per_boundary_views(tmp_path, small_catalog) -> None:
    """Forecasts on, a forecaster promoted twice mid-stream (and the first one back): the snapshots captured in
    random batch splits and rendered at the end of each batch are bit for bit the per-boundary views
    (``batch_snapshots=False``) of the same batches, and the second model's rows are its own."""
    import copy

    from tests.forecasting.test_forecasting import ramp_grid
    from vitals.forecasting.model import EarlyWarningForecaster

    first = EarlyWarningForecaster(max_rows=20_000).fit(ramp_grid(small_catalog), small_catalog)
    second = copy.deepcopy(first)
    for regressors in second.regressors_.values():
        for regressor in regressors:
            regressor.coef_ = regressor.coef_ * 1.5
    batches = _batches(_feed(small_catalog, 4, days=1), 4)
    swaps = {len(batches) // 3: 1, 2 * len(batches) // 3: 2}
    frames = {}
    for name in ("per_boundary", "captured"):
        source = _Promotions([first, second, copy.deepcopy(first)])  # a new holder: promoted again
        flow = Flow(small_catalog, batch_snapshots=name == "captured", scoring=True, models=source)
        out: list[ShardOutput] = []
        for k, batch in enumerate(batches):
            source.current = swaps.get(k, source.current)
            out.extend(flow.feed(batch))
        _write(tmp_path / name, small_catalog, out + flow.eof())
        frames[name] = _frame(tmp_path / name)
    ref, new = frames["per_boundary"], frames["captured"]
    forecast = [c for c in ref.columns if c.startswith("forecast_")]
    assert forecast and ref[forecast[0]].notna().sum() > 300 and ref["at"].nunique() > 100
    assert (ref[[c for c in forecast if "level" in c]] > 0).to_numpy().any()
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    at = ref["at"].drop_duplicates().sort_values().to_numpy()
    during = ref["at"].between(at[len(at) // 3 + 5], at[2 * len(at) // 3 - 5])
    alone = Flow(small_catalog, batch_snapshots=True, scoring=True, models=_Promotions([first]))
    _write(tmp_path / "first", small_catalog, [o for b in batches for o in alone.feed(b)] + alone.eof())
    only_first = _frame(tmp_path / "first")
    assert not np.array_equal(only_first.loc[during, forecast[0]].to_numpy(), ref.loc[during, forecast[0]].to_numpy(),
                              equal_nan=True)  # the second model's forecasts are its own


@pytest.mark.parametrize("limit", [0, 4])
def test_shards_above_the_capture_limit_are_viewed_at_each_boundary(tmp_path, small_catalog, monkeypatch,
                                                                     limit) -> None:
    """A shard with more series than ``CAPTURE_MAX_SERIES`` (the dense city) is viewed at each boundary a batch
    crosses instead of captured: 0, every shard viewed; 4, shards captured while they have few series and viewed
    once they have more, captures and views mixed in one batch's snapshots. Either way the snapshots are the
    per-boundary views bit for bit, across a resume from pickled memories (the views' cache starts empty)."""
    from vitals.stream import shard_step

    batches = _batches(_feed(small_catalog, 3, 1), 3)
    reference = Flow(small_catalog, batch_snapshots=False, scoring=True)
    _write(tmp_path / "ref", small_catalog, [o for b in batches for o in reference.feed(b)] + reference.eof())
    monkeypatch.setattr(shard_step, "CAPTURE_MAX_SERIES", limit)
    captured_series: list[int] = []
    capture = ShardState.capture

    def counted(self: ShardState, now_ns: int) -> Any:
        captured_series.append(self.series_with_readings())
        return capture(self, now_ns)

    monkeypatch.setattr(ShardState, "capture", counted)
    flow = Flow(small_catalog, batch_snapshots=True, scoring=True)
    half = len(batches) // 2
    _write(tmp_path / "new", small_catalog, [o for b in batches[:half] for o in flow.feed(b)])
    flow.resume(flow.saved())
    _write(tmp_path / "new", small_catalog, [o for b in batches[half:] for o in flow.feed(b)] + flow.eof())
    pd.testing.assert_frame_equal(_frame(tmp_path / "new"), _frame(tmp_path / "ref"), check_exact=True)
    assert all(n <= limit for n in captured_series)
    assert bool(captured_series) == (limit > 0)  # with 4: shards of 4 series captured (those of 5 were viewed)
