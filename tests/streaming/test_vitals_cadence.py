"""The history's snapshot cadence (``--history-vitals-every``, docs/history.md "Snapshot cadence"): a coarser
cadence writes the snapshots at its own boundaries only, each the same snapshot the default cadence writes at that
boundary; a resume may not change it; a cadence that does not divide a day is one line; the check-up reads a
coarser history with snapshots that hold for their own interval."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streaming_support import START, run_to_end, spawn, vitals_cmd

from vitals.checkup.load import read_snapshots
from vitals.history import read_vitals
from vitals.history_files import snapshot_interval_s
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.simulator.output import write_readings

NS = 1_000_000_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_catalog):
    root = tmp_path_factory.mktemp("cadence")
    sim = CitySimulator(small_catalog, SimulatorConfig(seed=5, start=START, duration=timedelta(hours=3), step_s=60))
    write_readings(root / "day.parquet", sim)
    out = {}
    for every in (300, 900, 3600):
        history = root / f"history-{every}"
        run_to_end(vitals_cmd("replay", root / "day.parquet", "--streets", "76", "--metrics-port", "0",
                              "--no-progress", "--history-dir", history, "--history-vitals-every", str(every),
                              "--dead-letters", root / f"dead-{every}.jsonl"), root / f"log-{every}.txt")
        out[every] = history
    return root, out


def _vitals(history: Path) -> pd.DataFrame:
    frame = read_vitals(history).drop(columns=["date"])
    return frame.sort_values(["at", "series"]).reset_index(drop=True)


@pytest.mark.parametrize("every", [900, 3600])
def test_a_coarser_cadence_keeps_the_default_snapshots_at_its_boundaries(runs, every):
    _, histories = runs
    fine, coarse = _vitals(histories[300]), _vitals(histories[every])
    at = coarse["at"].astype("int64").to_numpy()
    assert len(coarse) > 0 and (at % (every * NS) == 0).all()
    assert coarse["at"].nunique() == len({t for t in fine["at"].astype("int64") if t % (every * NS) == 0})
    same = fine[fine["at"].isin(coarse["at"])].reset_index(drop=True)
    assert len(same) == len(coarse)
    # the pieces a batch is folded in follow the boundaries, so sums are grouped differently: the EWMA's decayed
    # sums (float64) and the window buckets' sums (float32: means and rates) may differ in their last bits
    sums = {"ewma": 1e-12, **{f"{s}_{w}": 1e-6 for s in ("mean", "rate") for w in ("5m", "1h", "24h")}}
    exact = [c for c in coarse.columns if c not in sums and c != "peak_level"]
    pd.testing.assert_frame_equal(same[exact], coarse[exact], check_exact=True)
    # the worst level since the previous snapshot: at a coarse boundary, the worst of the fine snapshots' in the
    # coarse interval (ending at that boundary)
    bucket = -(-fine["at"].astype("int64") // (every * NS))
    worst = fine.assign(b=bucket).groupby(["series", "b"])["peak_level"].max()
    want = worst.loc[list(zip(coarse["series"], at // (every * NS), strict=True))].to_numpy()
    np.testing.assert_array_equal(coarse["peak_level"].to_numpy(), want)
    assert (coarse["peak_level"] > coarse["level"]).any()  # a warning seen between coarse snapshots
    for column, rtol in sums.items():
        np.testing.assert_allclose(same[column], coarse[column], rtol=rtol, err_msg=column)
    assert len(coarse) * every / 300 <= len(fine) * 1.01  # a third / a twelfth of the rows


def test_the_checkup_holds_each_snapshot_for_its_own_interval(runs, small_catalog):
    _, histories = runs
    day = START.date()
    coverage = {}
    for every, history in histories.items():
        snap = read_snapshots(history, small_catalog, day, day)
        assert snapshot_interval_s(snap.at_ns) == every
        coverage[every] = float(snap.hold_s.sum())
        if every == 3600:  # the old fixed limit (15 minutes) would leave three quarters of every hour uncovered
            fixed = read_snapshots(history, small_catalog, day, day, max_hold_s=900.0)
            assert float(fixed.hold_s.sum()) < 0.5 * coverage[every]
    # the same series-time, within the last interval that the coarser history ends earlier
    assert coverage[3600] == pytest.approx(coverage[300], rel=0.35)
    assert coverage[900] == pytest.approx(coverage[300], rel=0.15)


def test_the_checkup_says_the_interval_it_read(runs, tmp_path):
    _, histories = runs
    day = START.date().isoformat()
    between: dict[int, int] = {}
    for every in (300, 900):
        out = tmp_path / f"checkup-{every}.json"
        run_to_end(vitals_cmd("checkup", "--history", histories[every], "--from", day, "--to", day, "--streets", "76",
                              "--json", out, "--out", tmp_path / f"checkup-{every}.html"), tmp_path / "log.txt")
        period = json.loads(out.read_text())["period"]
        assert period["snapshot_interval_s"] == every
        between[every] = period["episodes_between_snapshots"]
        seen = f" ({between[every]} warnings only between snapshots)" if between[every] else ""
        assert f"<th>vitals snapshots every</th><td class='num'>{every / 60:.1f} min{seen}</td>" in (
            tmp_path / f"checkup-{every}.html").read_text()
    assert 0 <= between[300] < between[900]  # farther apart, more warnings fall between two snapshots


def test_a_resume_may_not_change_the_cadence(runs, tmp_path):
    root, _ = runs
    args = ("replay", root / "day.parquet", "--streets", "76", "--metrics-port", "0", "--no-progress",
            "--history-dir", tmp_path / "history", "--recovery-dir", tmp_path / "recovery",
            "--dead-letters", tmp_path / "dead.jsonl")
    run_to_end(vitals_cmd(*args, "--history-vitals-every", "900"), tmp_path / "first.txt")
    proc = spawn(vitals_cmd(*args), tmp_path / "second.txt")
    assert proc.wait(120) == 1
    text = (tmp_path / "second.txt").read_text()
    assert "belongs to another run: --history-vitals-every 900 -> 300" in text and "Traceback" not in text


@pytest.mark.parametrize("every", ["700", "30", "86401", "450.5"])
def test_a_cadence_that_does_not_divide_a_day_is_one_line(runs, tmp_path, every):
    root, _ = runs
    proc = spawn(vitals_cmd("replay", root / "day.parquet", "--streets", "76", "--metrics-port", "0",
                            "--history-dir", tmp_path / "h", "--history-vitals-every", every), tmp_path / "log.txt")
    assert proc.wait(60) == 1
    lines = (tmp_path / "log.txt").read_text().strip().splitlines()
    assert lines[-1] == ("vitals replay: error: invalid settings: sink history: history_vitals_every_s must be whole "
                         f"seconds from 60 to 86400 that divide a day (e.g. 300, 900, 3600), got {float(every):g}")
    assert not (tmp_path / "h").exists()
