"""The train loop end to end: a DataFrame or Parquet history -> train -> registry (card figures), and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vitals.catalog import Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.cli import main
from vitals.errors import HistoryError
from vitals.registry import ModelRegistry
from vitals.training import ForecasterTrainer, from_frame, from_history, train

START = pd.Timestamp("2026-03-02", tz="UTC")


def history_frame(catalog: Catalog, days: int = 2, streets: int = 3) -> pd.DataFrame:
    """Readings every 5 minutes at the seasonal expected value plus noise, with a ramp on one street."""
    rng = np.random.default_rng(2)
    seasonal = SeasonalModel(catalog)
    ts = pd.date_range(START, periods=days * 288, freq="5min")
    ts_ns = ts.as_unit("ns").asi8
    parts = []
    for i, ind in enumerate(catalog.indicators[:6]):
        for s in catalog.streets[:streets]:
            v = seasonal.expected(np.full(ts_ns.size, i), ts_ns) + ind.seasonality.noise * rng.normal(size=ts_ns.size)
            parts.append(pd.DataFrame({"ts": ts, "indicator": ind.id, "area": s.id, "value": v}))
    frame = pd.concat(parts, ignore_index=True)
    return pd.concat([frame, pd.DataFrame({"ts": [START], "indicator": ["nope"], "area": ["x"], "value": [1.0]})])


def test_train_from_frame_registers_a_card(tmp_path: Path, small_catalog: Catalog) -> None:
    frame = history_frame(small_catalog)
    data = from_frame(small_catalog, frame)
    assert data.rows == len(frame) - 1  # the unknown indicator row is dropped
    assert data.grid.n_series == 18
    reg = ModelRegistry(tmp_path)
    trainer = ForecasterTrainer(params={"max_rows": 20_000})
    [result] = train(data, small_catalog, reg, promote=True, trainers=[trainer], progress=False)
    assert result.version == "v0001" and reg.promoted("forecaster") == "v0001"
    card = reg.card("forecaster", "v0001")
    assert card.training.start.startswith("2026-03-02") and card.training.rows == data.rows
    assert card.training.sha256 == data.sha256 and len(data.sha256) == 64
    assert card.metrics["mae_30m"] < card.metrics["mae_30m_persistence"]
    # the model city's 5-minute grid: the keys as before but `mae_1h` for `mae_60m`, warnings within 30 minutes
    assert [k for k in card.metrics if k.startswith(("mae_", "warned_"))] == [
        f"mae_{h}{s}" for h in ("15m", "30m", "1h") for s in ("", "_persistence", "_seasonal")
    ] + ["warned_15m_before_share"]
    assert card.metrics["early_warning_within_s"] == 1800 and "within 30m" in card.notes
    assert card.parameters["horizons_s"] == [900, 1800, 3600]
    # same data, same fingerprint; different data, different fingerprint
    assert from_frame(small_catalog, frame).sha256 == data.sha256
    frame.loc[0, "value"] += 1.0
    assert from_frame(small_catalog, frame).sha256 != data.sha256


def test_history_reader(tmp_path: Path, small_catalog: Catalog) -> None:
    frame = history_frame(small_catalog, days=1).iloc[:-1]
    target = tmp_path / "readings" / "date=2026-03-02"
    target.mkdir(parents=True)
    frame.to_parquet(target / "part-0.parquet")
    data = from_history(small_catalog, tmp_path)
    assert data.rows == len(frame)
    with pytest.raises(HistoryError, match="no Parquet history"):
        from_history(small_catalog, tmp_path / "missing")
    with pytest.raises(HistoryError, match="missing"):
        from_frame(small_catalog, frame.drop(columns=["area"]))


def test_cli_train_list_promote_rollback(tmp_path: Path, small_catalog: Catalog,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    frame = history_frame(small_catalog, days=2).iloc[:-1]
    (tmp_path / "hist").mkdir()
    frame.to_parquet(tmp_path / "hist" / "readings.parquet")
    models = str(tmp_path / "models")
    for _ in range(2):
        assert main(["train", "--history", str(tmp_path / "hist"), "--streets", "76", "--models-dir", models,
                     "--max-rows", "20000", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["models"][0]["version"] == "v0002" and summary["models"][0]["promoted"] is False
    assert main(["models", "--models-dir", models, "promote", "forecaster", "v0001"]) == 0
    assert main(["models", "--models-dir", models, "promote", "forecaster", "v0002"]) == 0
    assert main(["models", "--models-dir", models, "rollback", "forecaster"]) == 0
    capsys.readouterr()
    assert main(["models", "--models-dir", models, "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    forecasters = [(m["version"], m["promoted"]) for m in listed if m["family"] == "forecaster"]
    assert forecasters == [("v0001", True), ("v0002", False)]  # other families (detectors) may be listed too
    assert main(["models", "--models-dir", models, "show", "forecaster"]) == 0
    assert "# Model card: forecaster v0001" in capsys.readouterr().out
    assert main(["models", "--models-dir", models, "rollback", "forecaster"]) == 1  # nothing earlier


def test_a_failed_run_promotes_nothing(tmp_path: Path, small_catalog: Catalog) -> None:
    class Broken:
        family = "window_model"

        def fit(self, data, catalog, progress):
            raise RuntimeError("out of memory")

    data = from_frame(small_catalog, history_frame(small_catalog, days=1))
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(data, small_catalog, reg, promote=True, progress=False,
              trainers=[ForecasterTrainer(params={"max_rows": 5_000}, refit=False), Broken()])
    assert reg.versions("forecaster") == ["v0001"] and reg.promoted("forecaster") is None


HISTORY = Path(__file__).parents[1] / "streaming" / "data" / "history_main"


def test_a_history_whose_grid_does_not_fit_is_refused_before_the_grid(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The history is read in batches; its first pass finds the grid's size, and a grid needing more memory than is
    available is refused in one line before it is allocated (the training holds the grid, not the readings); one
    that fits is built."""
    from vitals.catalog import load_catalog
    from vitals.cli import train_cmd

    grid = from_history(load_catalog(streets_total=76), HISTORY).grid
    cells = grid.n_series * grid.n_steps
    need = cells * train_cmd.HISTORY_GRID_BYTES_PER_CELL + train_cmd.HISTORY_TRAINING_FIXED_BYTES
    monkeypatch.setattr(train_cmd, "available_memory", lambda: need - 1)
    args = ["train", "--history", str(HISTORY), "--streets", "76", "--no-progress", "--models-dir", str(tmp_path / "m")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (f"--history {HISTORY}: a grid of {grid.n_series:,} series x {grid.n_steps:,} steps of 300 s, {cells:,} "
            "cells, held in memory for the training") in err and err.count("\n") == 1, err
    assert not (tmp_path / "m").exists()
    monkeypatch.setattr(train_cmd, "available_memory", lambda: need)
    main(args)  # goes on to build it (and stops there: the fixture's 25 minutes are too short to train on)
    err = capsys.readouterr().err
    assert "held in memory" not in err and "history too short" in err


def test_train_misuse_is_one_line_before_any_training(tmp_path: Path, small_catalog: Catalog,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Before: --models-dir naming a file was a NotADirectoryError traceback after the whole training; --step 0
    trained on the default 300 s grid (0 read as "not given"); --max-rows 0 fitted on no rows and stored the
    model (a 2.7 kB forecaster worse than persistence) without a word."""
    from vitals.errors import ModelError
    from vitals.forecasting.model import EarlyWarningForecaster

    blocker = tmp_path / "models.txt"
    blocker.write_text("x")
    base = ["train", "--history", str(HISTORY), "--streets", "76", "--no-progress"]
    for extra, message in ((["--models-dir", str(blocker)],
                            f"models directory {blocker} (the models_dir setting: --models-dir, VITALS_MODELS_DIR "
                            "or the config file) is not a directory"),
                           (["--models-dir", str(tmp_path / "m"), "--step", "0"],
                            "--step 0: the grid step is a whole number of seconds >= 1"),
                           (["--models-dir", str(tmp_path / "m"), "--max-rows", "0"],
                            "--max-rows 0: the training samples at least one row"),
                           # horizons in minutes, checked before the history is read (was: in seconds, after it)
                           (["--models-dir", str(tmp_path / "m"), "--horizons", "7"],
                            "--horizons 7: each horizon must be a positive multiple of the grid step (300 s = 5 min)"),
                           (["--models-dir", str(tmp_path / "m"), "--horizons", "30,15"], "in increasing order")):
        assert main([*base, *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m").exists() and blocker.read_text() == "x"
    # --simulate-days that cannot run: refused before simulating (1e9 was an OverflowError traceback; 365 days of
    # the full city held ~4.4 billion readings in memory until the machine ran out)
    sim = ["train", "--models-dir", str(tmp_path / "m"), "--no-progress", "--simulate-days"]
    for days, message in (("1e9", "the simulation would end after 2262-04-11"), ("0", "a positive number of days"),
                          ("nan", "a positive number of days"), ("1e4", "GB available; simulate fewer days")):
        assert main([*sim, days]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m").exists()
    with pytest.raises(ModelError, match="step_s must be positive"):
        from_history(small_catalog, HISTORY, step_s=0)
    grid = from_history(small_catalog, HISTORY).grid
    with pytest.raises(ModelError, match="max_rows must be >= 1"):
        EarlyWarningForecaster(step_s=grid.step_s, max_rows=0).fit(grid, small_catalog)
