"""Training on a long history in bounded memory: the grid built from readings in chunks equals the grid of all of
them at once (and a pandas oracle), the fingerprint does not depend on order or chunks, a history read in small
batches trains on the same grid as the same readings in memory, the window model's cells computed in blocks of
series equal the whole grid's (sampled too), and a backtest holds out at most ``MAX_HOLDOUT_STEPS``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.forecasting.grid import MAX_HOLDOUT_STEPS, GridExtent, SeriesGrid
from vitals.scoring import city_window_model
from vitals.scoring.city_window_model import grid_cells
from vitals.training import data as training_data
from vitals.training import from_frame, from_history
from vitals.training.fingerprint import ReadingsFingerprint

T0 = 1_780_000_000 * 10**9
STEP = 300


def _readings(seed: int, n: int, streets: int = 4) -> tuple[np.ndarray, ...]:
    """Readings with ties: repeated event times (some with another value), NaN and out-of-range values."""
    rng = np.random.default_rng(seed)
    ind = rng.integers(0, 6, n).astype(np.int16)
    street = rng.integers(0, streets, n).astype(np.int32)
    ts = T0 + rng.integers(0, 40, n).astype(np.int64) * rng.choice([10, 60, 150]) * 10**9
    value = np.round(rng.normal(50.0, 30.0, n), 1)
    value[rng.random(n) < 0.05] = np.nan
    value[rng.random(n) < 0.03] = -1e9
    return ind, street, ts, value


def _oracle(catalog: Catalog, ind: np.ndarray, street: np.ndarray, ts: np.ndarray, value: np.ndarray) -> pd.DataFrame:
    """pandas: the valid readings' last value per series and step (latest event time, the later row on ties),
    carried forward, as a series x step frame."""
    frame = pd.DataFrame({"sid": catalog.series_id(ind, street), "ts": ts, "value": value})
    ok = np.isfinite(value) & (value >= catalog.valid_min_array[ind]) & (value <= catalog.valid_max_array[ind])
    frame = frame[ok]
    start = frame["ts"].min() // (STEP * 10**9) * (STEP * 10**9)
    frame = frame.assign(step=(frame["ts"] - start) // (STEP * 10**9)).sort_values(["sid", "step", "ts"],
                                                                                    kind="stable")
    last = frame.groupby(["sid", "step"]).tail(1)
    n_steps = int((frame["ts"].max() + 1 - start + STEP * 10**9 - 1) // (STEP * 10**9))
    table = last.pivot(index="sid", columns="step", values="value").reindex(columns=range(n_steps))
    return table.ffill(axis=1)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 400), cuts=st.lists(st.floats(0, 1), max_size=5))
def test_a_grid_built_in_chunks_is_the_grid_of_all_readings(small_catalog: Catalog, seed: int, n: int,
                                                             cuts: list[float]) -> None:
    ind, street, ts, value = _readings(seed, n)
    ok = np.isfinite(value) & (value >= small_catalog.valid_min_array[ind])
    ok &= value <= small_catalog.valid_max_array[ind]
    if not ok.any():
        return
    whole = SeriesGrid.from_readings(small_catalog, ind, street, ts, value, step_s=STEP)
    parts = np.split(np.arange(n), sorted({int(c * n) for c in cuts}))
    extent = GridExtent(small_catalog)
    for p in parts:
        extent.add(ind[p], street[p], ts[p], value[p])
    builder = extent.builder(STEP)
    for p in parts:
        builder.add(ind[p], street[p], ts[p], value[p])
    chunked = builder.finish()
    np.testing.assert_array_equal(chunked.values, whole.values)
    np.testing.assert_array_equal(chunked.series, whole.series)
    assert (chunked.start_ns, chunked.step_s) == (whole.start_ns, whole.step_s)
    oracle = _oracle(small_catalog, ind, street, ts, value)
    np.testing.assert_array_equal(whole.series, oracle.index.to_numpy())
    np.testing.assert_array_equal(whole.values, oracle.to_numpy(dtype=np.float32))


def test_the_fingerprint_is_of_the_readings_not_their_order_or_chunks() -> None:
    ind, street, ts, value = _readings(3, 5_000)
    one = ReadingsFingerprint()
    one.add(ind, street, ts, value)
    order = np.random.default_rng(4).permutation(ts.size)
    shuffled = ReadingsFingerprint()
    for part in np.array_split(order, 7):
        shuffled.add(ind[part], street[part], ts[part], value[part])
    assert shuffled.hexdigest() == one.hexdigest() and len(one.hexdigest()) == 64
    for change in ("value", "ts", "street", "indicator", "twice", "swap"):
        i, s, t, v = (a.copy() for a in (ind, street, ts, value))
        if change == "value":
            v[10] = np.nextafter(v[10], np.inf)
        elif change == "ts":
            t[10] += 1
        elif change == "street":
            s[10] ^= 1
        elif change == "indicator":
            i[10] ^= 1
        elif change == "swap":  # two readings trade values: the same values, other readings
            v[10], v[11] = v[11], v[10]
            assert v[10] != v[11]
        other = ReadingsFingerprint()
        other.add(i, s, t, v)
        if change == "twice":
            other.add(i[:1], s[:1], t[:1], v[:1])
        assert other.hexdigest() != one.hexdigest(), change


def test_a_history_read_in_small_batches_trains_on_the_readings_grid(tmp_path: Path, small_catalog: Catalog,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Three files (one with an unknown indicator), read 997 rows at a time: the same grid, rows, range and
    fingerprint as the same rows as one DataFrame."""
    ind, street, ts, value = _readings(5, 6_000, streets=8)
    frame = pd.DataFrame({"ts": pd.to_datetime(ts, utc=True),
                          "indicator": [small_catalog.indicators[i].id for i in ind],
                          "area": [small_catalog.streets[s].id for s in street], "value": value})
    frame.loc[17, "indicator"] = "not_in_the_catalog"
    for k, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        target = tmp_path / "readings" / f"date=2026-06-0{k + 1}"
        target.mkdir(parents=True)
        frame.iloc[part].to_parquet(target / "part-0.parquet")
    monkeypatch.setattr(training_data, "HISTORY_BATCH_ROWS", 997)
    seen: list[tuple[int, int]] = []
    read = from_history(small_catalog, tmp_path, step_s=STEP, check_grid=lambda s, t: seen.append((s, t)))
    memory = from_frame(small_catalog, frame, step_s=STEP)
    assert read.rows == memory.rows == len(frame) - 1 and read.sha256 == memory.sha256
    assert (read.start_ns, read.end_ns) == (memory.start_ns, memory.end_ns)
    np.testing.assert_array_equal(read.grid.values, memory.grid.values)
    np.testing.assert_array_equal(read.grid.series, memory.grid.series)
    assert seen == [(memory.grid.n_series, memory.grid.n_steps)]


def test_window_cells_in_blocks_of_series_are_the_whole_grids(small_catalog: Catalog,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 3 series give the cells of one block of all; sampled, the windows drawn are those
    ``default_rng(seed).choice(n, max_windows, replace=False)`` picks from all the windows, keys made dense."""
    rng = np.random.default_rng(6)
    n_series, n_steps = 40, 300
    values = np.round(rng.normal(50.0, 10.0, (n_series, n_steps)), 0).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    series = np.sort(rng.choice(small_catalog.n_series, n_series, replace=False))
    ind, street = small_catalog.split_series_id(series)
    grid = SeriesGrid(values=values, series=series, indicator=ind.astype(np.int16), street=street.astype(np.int32),
                      start_ns=T0, step_s=STEP)
    exclude = rng.random(values.shape) < 0.05
    whole = grid_cells(grid, small_catalog, 3600, 3, exclude)
    monkeypatch.setattr(city_window_model, "CELLS_BLOCK", 3 * n_steps)
    blocks = grid_cells(grid, small_catalog, 3600, 3, exclude)
    assert all(np.array_equal(a, b) for a, b in zip(whole.arrays(), blocks.arrays(), strict=True))
    n = int(whole.key.max()) + 1
    chosen = np.zeros(n, dtype=bool)
    chosen[np.random.default_rng(9).choice(n, 50, replace=False)] = True
    oracle = whole.select(chosen[whole.key])
    _, oracle.key = np.unique(oracle.key, return_inverse=True)
    sampled = grid_cells(grid, small_catalog, 3600, 3, exclude, max_windows=50, seed=9)
    assert int(sampled.key.max()) + 1 == 50
    assert all(np.array_equal(a, b) for a, b in zip(oracle.arrays(), sampled.arrays(), strict=True))
    everything = grid_cells(grid, small_catalog, 3600, 3, exclude, max_windows=n, seed=9)
    assert all(np.array_equal(a, b) for a, b in zip(whole.arrays(), everything.arrays(), strict=True))


def test_a_backtest_holds_out_30_percent_at_most_three_days_of_five_minutes() -> None:
    def grid(steps: int, step_s: int = STEP) -> SeriesGrid:
        return SeriesGrid(values=np.zeros((1, steps), np.float32), series=np.zeros(1, np.int64),
                          indicator=np.zeros(1, np.int16), street=np.zeros(1, np.int32), start_ns=T0, step_s=step_s)

    assert MAX_HOLDOUT_STEPS == 3 * 288
    assert grid(7 * 288).holdout_start(0.3) == int(7 * 288 * 0.7)  # a week: 30 %
    assert grid(30 * 288).holdout_start(0.3) == 27 * 288  # a month: the last 3 days
    assert grid(30 * 24, 3600).holdout_start(0.3) == int(30 * 24 * 0.7)  # hourly: 864 steps are 36 days


def test_a_bad_history_file_is_one_line_naming_it(tmp_path: Path, small_catalog: Catalog,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A file without a column it needs, and a time a replay would reject in a later batch (its row numbered in
    the file, not in the batch)."""
    from vitals.errors import HistoryError

    (tmp_path / "a").mkdir()
    pd.DataFrame({"ts": [1.78e9], "indicator": ["pm25"], "value": [3.0]}).to_parquet(tmp_path / "a" / "x.parquet")
    with pytest.raises(HistoryError, match=r"x.parquet has no column area; training reads the columns ts, "):
        from_history(small_catalog, tmp_path / "a")
    (tmp_path / "b").mkdir()
    ts = [f"2026-03-02T00:{m:02d}:00Z" for m in range(50)]
    ts[37] = "yesterday"
    pd.DataFrame({"ts": ts, "indicator": "pm25", "area": small_catalog.streets[0].id,
                  "value": 30.0}).to_parquet(tmp_path / "b" / "y.parquet")
    monkeypatch.setattr(training_data, "HISTORY_BATCH_ROWS", 10)
    with pytest.raises(HistoryError, match=r"file y.parquet: 1 ts value\(s\) in rows 30..39 .* row 37: cannot read"):
        from_history(small_catalog, tmp_path / "b")


def test_planned_works_leave_their_readings_out_of_the_training(tmp_path: Path, small_catalog: Catalog,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``vitals train --planned-works``: the history read without the works' readings is the training set of the
    same readings with those rows dropped (grid, rows, fingerprint), and its source says how many were left out."""
    from vitals.planned_works import PlannedWorks, Works

    ind, street, ts, value = _readings(6, 6_000, streets=8)
    frame = pd.DataFrame({"ts": pd.to_datetime(ts, utc=True),
                          "indicator": [small_catalog.indicators[i].id for i in ind],
                          "area": [small_catalog.streets[s].id for s in street], "value": value})
    target = tmp_path / "readings" / "date=2026-06-01"
    target.mkdir(parents=True)
    frame.to_parquet(target / "part-0.parquet")
    middle = int(np.median(ts))
    marked_indicator = np.zeros(small_catalog.n_indicators, bool)
    marked_indicator[ind[0]] = True
    marked_street = np.zeros(small_catalog.n_streets, bool)
    marked_street[[0, 1]] = True
    works = PlannedWorks([Works("w", middle, middle + 6 * 3600 * 10**9, marked_indicator, marked_street)])
    inside = (ts >= middle) & (ts < middle + 6 * 3600 * 10**9) & (ind == ind[0]) & np.isin(street, [0, 1])
    assert 0 < inside.sum() < len(ts)
    monkeypatch.setattr(training_data, "HISTORY_BATCH_ROWS", 997)
    read = from_history(small_catalog, tmp_path, step_s=STEP, planned=works, planned_source="works.yaml")
    memory = from_frame(small_catalog, frame[~inside], step_s=STEP)
    assert read.rows == memory.rows == len(frame) - inside.sum() and read.sha256 == memory.sha256
    np.testing.assert_array_equal(read.grid.values, memory.grid.values)
    assert read.source.endswith(f"(planned works works.yaml: {inside.sum():,} readings left out)")
