"""City backtest measures on hand-made timelines (alert holds, recall, false alarms, lead times, observed
crossings, labels files), and a short causal run of a simulated incident through the flow's shard code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from vitals.backtest.city import load_label_events, measure, run_city
from vitals.backtest.city_measures import (
    Hold,
    Timeline,
    alarms,
    detected,
    false_alarms,
    firing,
    incident_lead_times,
    lead_times,
    observed_orange,
)
from vitals.catalog import Catalog
from vitals.labels import LabelledWindow

REPO = Path(__file__).resolve().parents[2]
MIN = 60 * 10**9
T0 = 1_772_409_600 * 10**9


def timeline(level: list[list[int]], early: list[list[int]], anomaly: list[list[float]] | None = None) -> Timeline:
    lv = np.asarray(level, dtype=np.int8)
    n, t = lv.shape
    return Timeline(ticks_ns=T0 + np.arange(t, dtype=np.int64) * MIN, series=np.arange(n, dtype=np.int64) * 10,
                    level=lv, early=np.asarray(early, dtype=bool),
                    anomaly=np.asarray(anomaly if anomaly is not None else np.zeros((n, t)), dtype=np.float32))


def test_firing_follows_for_and_keep_firing_for() -> None:
    cond = np.array([[0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0]], dtype=bool)
    # for 2 min: true at ticks 1, 2, 3 -> fires at 3 (held 2 min); keep 3 min: firing through tick 6
    np.testing.assert_array_equal(firing(cond, 60.0, Hold(120, 180))[0].astype(int),
                                  [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    # for 0: every true tick fires at once; keep 0: only while true
    np.testing.assert_array_equal(firing(cond, 60.0, Hold(0, 0)), cond)
    # a run shorter than the hold never fires
    assert not firing(np.array([[1, 1, 0, 1, 1, 0]], dtype=bool), 60.0, Hold(120, 600)).any()


def test_recall_false_alarms_and_lead_times_by_hand() -> None:
    #            ticks: 0  1  2  3  4  5  6  7  8  9 10 11
    early = [[0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],   # series 0: warned from tick 2 (fires at 4 with a 2 min hold)
             [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # series 10: never warned
             [1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0]]   # series 20: warnings outside any window
    level = [[0, 0, 0, 0, 0, 0, 3, 3, 3, 0, 0, 0],
             [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
             [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
    tl = timeline(level, early)
    events = [LabelledWindow(0, T0 + 1 * MIN, T0 + 9 * MIN, orange_ns=T0 + 6 * MIN, incident=7),
              LabelledWindow(10, T0 + 1 * MIN, T0 + 9 * MIN, orange_ns=T0 + 7 * MIN, incident=7),
              LabelledWindow(20, T0 + 4 * MIN, T0 + 5 * MIN)]  # no orange: not an orange event
    fire = alarms(tl, {"early": Hold(120, 0), "level": Hold(0, 0)})
    assert detected(tl, fire["early"], events) == [True, False]
    assert detected(tl, fire["warning"], events) == [True, False]
    # series 20: early fires at tick 2 (run 0..2) and at tick 10 (run 8..10): both outside its window
    false = false_alarms(tl, fire["early"], events, after_s=0.0, warmup_ns=0)
    np.testing.assert_array_equal(false, [0, 0, 2])
    # a warm-up up to tick 5 drops the first one; a window widened by 6 min after its end covers the second
    assert false_alarms(tl, fire["early"], events, after_s=0.0, warmup_ns=T0 + 5 * MIN).tolist() == [0, 0, 1]
    assert false_alarms(tl, fire["early"], events, after_s=360.0, warmup_ns=T0 + 5 * MIN).tolist() == [0, 0, 0]
    # lead: series 0 crosses at tick 6, first early firing at tick 4 -> 120 s; series 10 never warned -> 0
    np.testing.assert_allclose(lead_times(tl, fire["early"], events, slow_onset_s=0), [120.0, 0.0])
    # slow onset: crossing at least 5.5 min after the window start keeps only series 10 (6 min)
    np.testing.assert_allclose(lead_times(tl, fire["early"], events, slow_onset_s=330), [0.0])
    # per incident: first orange (tick 6) minus first warning of any of its series (tick 4)
    np.testing.assert_allclose(incident_lead_times(tl, fire["early"], events, slow_onset_s=0), [120.0])


def test_observed_orange_when_labels_have_no_crossing() -> None:
    tl = timeline([[0, 1, 2, 3, 3, 0], [0, 0, 0, 0, 0, 0]], [[0] * 6, [0] * 6])
    events = observed_orange(tl, [LabelledWindow(0, T0, T0 + 5 * MIN), LabelledWindow(10, T0, T0 + 5 * MIN),
                                  LabelledWindow(0, T0, T0 + 5 * MIN, orange_ns=T0 + 4 * MIN)])
    assert [e.orange_ns for e in events] == [T0 + 3 * MIN, -1, T0 + 4 * MIN]


def test_labels_file_with_and_without_truth(tmp_path: Path, small_catalog: Catalog) -> None:
    ind, street = small_catalog.indicators[3].id, small_catalog.streets[5].id
    labels = {f"{ind}/{street}": [["2026-03-02 01:00:00.000000", "2026-03-02 03:00:00.000000"]],
              "no_such/indicator": [["2026-03-02 01:00:00.000000", "2026-03-02 02:00:00.000000"]]}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    truth = {"incidents": [{"index": 4, "series": [
        {"indicator": ind, "street": street, "window_start": "2026-03-02T01:00:00+00:00",
         "orange_at": "2026-03-02T01:40:00+00:00"}]}]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    sid = 3 * small_catalog.n_streets + 5
    start = T0 + 60 * MIN
    assert load_label_events(small_catalog, tmp_path / "labels.json") == [LabelledWindow(sid, start, start + 120 * MIN)]
    with_truth = load_label_events(small_catalog, tmp_path / "labels.json", tmp_path / "truth.json")
    assert with_truth == [LabelledWindow(sid, start, start + 120 * MIN, start + 40 * MIN, 4)]


def test_causal_run_of_a_simulated_incident(small_catalog: Catalog) -> None:
    from vitals.simulator import CitySimulator, FaultRates, IncidentSpec, SimulatorConfig
    from vitals.simulator.config import DEFAULT_START
    from vitals.training.data import simulated_windows

    if not (REPO / "models" / "forecaster" / "promoted.json").exists():
        pytest.fail("the shipped forecaster is missing from models/")
    spec = IncidentSpec("gas_leak", "yuzhong", DEFAULT_START + timedelta(hours=3), onset=timedelta(minutes=60),
                        plateau=timedelta(minutes=30), recovery=timedelta(minutes=30), severity=3.6)
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=2, duration=timedelta(hours=5), step_s=60,
                                                       incidents=(spec,), faults=FaultRates.none()))
    events = list(simulated_windows(small_catalog, sim.incidents()))
    tl = run_city(small_catalog, sim.batches(), models_dir=REPO / "models")
    assert tl.level.shape == (small_catalog.n_series, 300) and tl.ticks_ns[1] - tl.ticks_ns[0] == MIN
    figures = measure(tl, events, small_catalog, warmup_s=2 * 3600)
    assert figures["events_orange"] >= 1
    assert figures["recall_warning"] == 1.0  # the warning level (or the early warning) catches the gas leak
    assert figures["recall_early"] is not None and figures["recall_early"] > 0
    assert figures["lead_time_median_s"] is not None and figures["lead_time_median_s"] > 0
    # the early warning never fires while a series is already at orange (the rule's `unless`)
    assert not (tl.early & (tl.level >= 3)).any()


def test_cli_history_labels_report(city_run) -> None:  # the fixture is in tests/backtest/conftest.py
    doc = city_run.figures
    # without --streets the streets and series come from the history (not the 1,031 of the full catalog)
    assert doc["streets"] == 38 and 900 < doc["series"] <= 38 * 28 and doc["events_orange"] >= 1
    assert doc["recall_warning"] == 1.0
    page = city_run.report.read_text()
    # every orange event has its plot, and so has every false alarm of the warning (fewer than the plot limit)
    events = page.count("<details class='event'")
    assert events == doc["events_orange"]
    assert page.count("<details class='false-alarm'") == doc["false_alarms_warning"]
    assert page.count("data:image/png;base64,") == events + doc["false_alarms_warning"]
    assert f"All orange events ({events})" in page and "Missed orange events (0)" in page
    # readable labels, not the JSON keys; durations in minutes
    assert "recall_warning" not in page and "lead_time_median_s" not in page
    assert "median lead time per slow-onset event" in page
    assert f"{doc['lead_time_median_s'] / 60:.1f} min" in page
    assert "变电站负载率" in page or "substation" in page.lower()


def test_planned_works_in_the_city_backtest(small_catalog: Catalog, city_run, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A works over one district's power series for two of three simulated hours: those series score no anomaly
    in it (their held score stays what it was before), every other series' anomaly score and every warning level
    are those of the run without works; on the command line a works on a street the history does not have marks
    nothing, and a bad file is one line."""
    from vitals.planned_works import load_planned_works
    from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig

    sim = CitySimulator(small_catalog, SimulatorConfig(seed=3, duration=timedelta(hours=3), step_s=60,
                                                       incidents=(), faults=FaultRates.none()))
    batches = list(sim.batches())
    start = int(batches[0].received_ns)
    works_file = tmp_path / "works.yaml"
    works_file.write_text(f"- {{id: w, from: {np.datetime_as_string(np.datetime64(start + 3600 * 10**9, 'ns'))}Z, "
                          "to: 2099-01-01, district: jiangbei, domain: power}\n")
    works = load_planned_works(works_file, small_catalog)
    plain = run_city(small_catalog, batches, models_dir=REPO / "models")
    planned = run_city(small_catalog, batches, models_dir=REPO / "models", planned=works)
    indicator, street = small_catalog.split_series_id(plain.series)
    marked = works.works[0].indicators[indicator] & works.works[0].streets[street]
    want = [small_catalog.indicators[i].domain == "power" and small_catalog.streets[t].district_id == "jiangbei"
            for i, t in zip(indicator, street, strict=True)]
    assert marked.sum() > 0 and marked.tolist() == want
    np.testing.assert_array_equal(planned.level, plain.level)
    np.testing.assert_array_equal(planned.anomaly[~marked], plain.anomaly[~marked])
    inside = plain.ticks_ns >= start + 3600 * 10**9
    held = planned.anomaly[marked][:, inside]
    assert (np.diff(held, axis=1) <= 0).all()  # no new score inside the works: the held peak only decays
    assert (np.diff(plain.anomaly[marked][:, inside], axis=1) > 0).any()  # without the works, new scores there

    from vitals.cli import main

    root = city_run.root
    works_file.write_text("- {id: elsewhere, from: 2026-03-02, to: 2026-03-02, street: yubei_s030}\n")
    args = ["backtest", "--history", str(root / "city.parquet"), "--labels", str(root / "labels.json"),
            "--models-dir", str(REPO / "models"), "--planned-works", str(works_file)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recall_warning"] == 1.0
    works_file.write_text("- {id: a, from: 2026-03-02, to: 2026-03-02, district: jiangbie}\n")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "did you mean jiangbei" in err and err.count("\n") == 1


def test_forecaster_params_reach_the_promoted_forecaster(small_catalog: Catalog) -> None:
    from vitals.simulator import CitySimulator, FaultRates, SimulatorConfig

    sim = CitySimulator(small_catalog, SimulatorConfig(seed=3, duration=timedelta(minutes=3), step_s=60,
                                                       incidents=(), faults=FaultRates.none()))
    batches = list(sim.batches())
    tl = run_city(small_catalog, batches, models_dir=REPO / "models", forecaster_params={"deviation_guard": 1.0})
    assert tl.level.shape == (small_catalog.n_series, 3)
    with pytest.raises(ValueError, match="no_such_param"):
        run_city(small_catalog, batches, models_dir=REPO / "models", forecaster_params={"no_such_param": 1.0})


def test_cli_history_of_another_catalog_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd
    from vitals_testing import SECOND_CITY

    from vitals.cli import main

    ts = pd.date_range("2026-03-02", periods=30, freq="10min", tz="UTC")
    pd.DataFrame({"ts": ts, "indicator": "river_level", "area": "RIB-01", "value": 3.0}).to_parquet(
        tmp_path / "h.parquet")
    (tmp_path / "labels.json").write_text(json.dumps({"river_level/RIB-01": []}))
    args = ["backtest", "--history", str(tmp_path / "h.parquet"), "--labels", str(tmp_path / "labels.json")]
    assert main(args) == 1  # the shipped catalog does not know the history's series
    err = capsys.readouterr().err
    assert "the history has area(s) RIB-01 that catalog" in err and "--catalog FILE" in err
    assert main([*args, "--catalog", str(SECOND_CITY), "--models-dir", str(REPO / "models")]) == 1
    assert "trained for another catalog" in capsys.readouterr().err
    (tmp_path / "labels.json").write_text(json.dumps({"river_level/RIB-09": []}))
    assert main([*args, "--catalog", str(SECOND_CITY)]) == 1
    assert "name no series of catalog" in capsys.readouterr().err


def test_a_history_read_with_categorical_ids_replays_as_its_strings(tmp_path: Path, small_catalog: Catalog) -> None:
    """read_history gives the ids as categoricals (each string compared once, not once a reading): the catalog, the
    series and every batch are those of the same frame with string ids; a null or unknown area is named."""
    import pandas as pd

    from vitals.backtest.city import catalog_for_history, history_batches, history_series, read_history
    from vitals.errors import ConfigError

    rng = np.random.default_rng(3)
    n = 3_000
    frame = pd.DataFrame({
        "ts": pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(rng.integers(0, 7_200, n), unit="s"),
        "indicator": rng.choice([i.id for i in small_catalog.indicators[:5]], n),
        "area": rng.choice([s.id for s in small_catalog.streets[:9]], n), "value": rng.normal(50, 5, n)})
    frame.to_parquet(tmp_path / "readings.parquet")
    read = read_history(tmp_path)
    assert isinstance(read["area"].dtype, pd.CategoricalDtype)
    a, b = catalog_for_history(small_catalog, read), catalog_for_history(small_catalog, frame)
    assert [s.id for s in a.streets] == [s.id for s in b.streets] and a.n_streets == 9
    np.testing.assert_array_equal(history_series(a, read), history_series(b, frame))
    for x, y in zip(history_batches(a, read), history_batches(b, frame), strict=True):
        for field in ("ts_ns", "indicator", "street", "value"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
    bad = read.copy()
    bad["area"] = bad["area"].cat.add_categories(["nowhere"])
    bad.loc[3, "area"], bad.loc[4, "area"] = None, "nowhere"
    with pytest.raises(ConfigError, match="area\\(s\\) nan, nowhere that catalog"):
        catalog_for_history(small_catalog, bad)
    with pytest.raises(ConfigError, match="area\\(s\\) nan, nowhere that catalog"):  # was a TypeError
        catalog_for_history(small_catalog, bad.assign(area=bad["area"].astype(object)))


def test_cli_a_history_larger_than_memory_is_refused_before_the_replay(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan (a part at a time) finds the series and minutes; a backtest whose timeline would not fit in the
    memory available is refused in one line before the replay (a month of the full city needs ~70 GB)."""
    import pandas as pd

    from vitals.cli import backtest_cmd, main, train_cmd

    ts = pd.date_range("2026-03-02", periods=30, freq="10min", tz="UTC")  # 291 minutes, first to last
    pd.DataFrame({"ts": ts, "indicator": "pm25", "area": "yuzhong_s001", "value": 30.0}).to_parquet(
        tmp_path / "h.parquet")
    (tmp_path / "labels.json").write_text("{}")
    need = 291 * backtest_cmd.CITY_BACKTEST_BYTES_PER_CELL + backtest_cmd.CITY_BACKTEST_FIXED_BYTES
    monkeypatch.setattr(train_cmd, "available_memory", lambda: need - 1)
    args = ["backtest", "--history", str(tmp_path / "h.parquet"), "--labels", str(tmp_path / "labels.json")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (f"--history {tmp_path / 'h.parquet'}: 1 series x 291 minutes, 291 series-minutes, held in memory for "
            "the backtest, need") in err and "backtest a part of it" in err and err.count("\n") == 1, err
    monkeypatch.setattr(train_cmd, "available_memory", lambda: need)
    main(args)
    assert "held in memory" not in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["shards", "one_file_in_time_order", "one_file_shuffled"])
def test_a_streamed_history_replays_the_batches_of_the_whole_history(tmp_path: Path, small_catalog: Catalog,
                                                                     layout: str) -> None:
    """Read a row group (or a group of overlapping ones) at a time, the batches are those of the whole history
    sorted at once: the same readings per minute, in the same order (ties in the files' order), the same received
    times and sequence numbers; also the same catalog and series."""
    import pandas as pd

    from vitals.backtest.city import catalog_for_history, history_batches, history_series, read_history, stream_history

    rng = np.random.default_rng(8)
    n = 6_000
    seconds = np.sort(rng.integers(0, 3 * 3600, n))
    seconds[rng.random(n) < 0.02] -= 240  # late readings, written in arrival order: row groups overlap
    ts = pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(np.maximum(seconds, 0), unit="s")
    frame = pd.DataFrame({"ts": ts, "indicator": rng.choice([i.id for i in small_catalog.indicators[:6]], n),
                          "area": rng.choice([s.id for s in small_catalog.streets[:12]], n),
                          "value": np.round(rng.normal(50, 5, n), 1)})
    if layout == "shards":  # like the flow: per shard files, row groups of a few minutes each, overlapping
        for k in range(3):
            part = frame[frame["area"].map(small_catalog.street_index) % 3 == k]
            (tmp_path / "date=2026-03-02").mkdir(exist_ok=True)
            part.to_parquet(tmp_path / "date=2026-03-02" / f"shard-{k}.parquet", row_group_size=257)
    else:
        part = frame if layout == "one_file_in_time_order" else frame.sample(frac=1.0, random_state=3)
        part.to_parquet(tmp_path / "h.parquet", row_group_size=500)
    whole = read_history(tmp_path)
    streamed = stream_history(tmp_path)
    assert streamed.rows == len(frame)
    a, b = catalog_for_history(small_catalog, whole), catalog_for_history(small_catalog, streamed)
    assert [s.id for s in a.streets] == [s.id for s in b.streets]
    np.testing.assert_array_equal(history_series(a, whole), streamed.series(b))
    n_batches = 0
    for x, y in zip(history_batches(a, whole), streamed.batches(b), strict=True):
        for field in ("ts_ns", "indicator", "street", "value"):
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
            assert getattr(x, field).dtype == getattr(y, field).dtype
        assert (x.received_ns, x.seq) == (y.received_ns, y.seq)
        n_batches += 1
    assert n_batches > 100
    if layout == "one_file_in_time_order":  # held a few row groups at a time, late readings and all
        assert streamed.max_held <= 3 * 500  # of 6,000


def test_firing_in_blocks_of_rows_and_a_timeline_filled_in_place(small_catalog: Catalog,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """firing computed a few rows at a time is firing of the whole (rows are independent); run_city's timeline is
    the same whether its columns were allocated for the batches expected (``total``) or grew from none."""
    from vitals.backtest import city_measures
    from vitals.backtest.city import simulate_city
    from vitals.backtest.city_measures import Hold, firing

    rng = np.random.default_rng(5)
    condition = rng.random((37, 500)) < 0.3
    whole = firing(condition, 60.0, Hold(for_s=180.0, keep_s=300.0))
    monkeypatch.setattr(city_measures, "FIRING_BLOCK_CELLS", 3 * 500)
    np.testing.assert_array_equal(firing(condition, 60.0, Hold(for_s=180.0, keep_s=300.0)), whole)
    cat, batches, _ = simulate_city(streets=38, days=0.05, seed=2)
    batches = list(batches)
    grown = run_city(cat, iter(batches), models_dir=REPO / "models")
    sized = run_city(cat, iter(batches), models_dir=REPO / "models", total=len(batches) + 7)
    for field in ("ticks_ns", "series", "level", "early", "anomaly"):
        np.testing.assert_array_equal(getattr(grown, field), getattr(sized, field))
    assert grown.level.shape == (cat.n_series, len(batches)) and len(batches) > 16  # it grew past its start


def test_measure_in_blocks_of_series_is_measure_of_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The alarm rules run a block of series at a time, each block with its series' events: every figure is the
    whole timeline's (a block of 5 series against one block of all)."""
    from vitals.backtest import city

    cat, batches, events = city.simulate_city(streets=38, days=1.0, seed=11)
    tl = run_city(cat, batches, models_dir=REPO / "models")
    whole = measure(tl, events, cat)
    assert whole["events_orange"] > 0 and whole["incidents"] > 0 and whole["slow_onset_events"] > 0
    monkeypatch.setattr(city, "MEASURE_BLOCK_CELLS", 5 * tl.ticks_ns.size)
    assert measure(tl, events, cat) == whole
