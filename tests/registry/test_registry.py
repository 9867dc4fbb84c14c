"""Registry: save, list, promote, rollback, reload gives identical predictions; untrusted artifacts are refused;
model cards carry their fields; the watcher sees a promotion; vitals_model_info renders."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from prometheus_client import CollectorRegistry
from vitals_testing import REPO

from vitals.catalog import Catalog
from vitals.errors import RegistryError, UntrustedModelError
from vitals.forecasting.grid import SeriesGrid
from vitals.forecasting.model import EarlyWarningForecaster
from vitals.registry import (
    ModelCard,
    ModelInfoCollector,
    ModelRegistry,
    RegistryWatcher,
    TrainingData,
    hash_arrays,
    load_artifact,
)
from vitals.registry.card import current_metric_key

START_NS = 1_772_409_600 * 10**9  # 2026-03-02 00:00 UTC


def tiny_grid(catalog: Catalog, seed: int) -> SeriesGrid:
    rng = np.random.default_rng(seed)
    n_streets, steps = 3, 400
    ind = np.repeat(np.arange(catalog.n_indicators), n_streets)
    street = np.tile(np.arange(n_streets), catalog.n_indicators)
    base = catalog.valid_min_array[ind] + 0.1 * (catalog.valid_max_array[ind] - catalog.valid_min_array[ind])
    noise = np.array([i.seasonality.noise for i in catalog.indicators])[ind]
    values = base[:, None] + noise[:, None] * rng.normal(size=(ind.size, steps)).cumsum(axis=1) * 0.1
    return SeriesGrid(values=values.astype(np.float32), series=catalog.series_id(ind, street),
                      indicator=ind.astype(np.int16), street=street.astype(np.int32), start_ns=START_NS, step_s=300)


def card(model: EarlyWarningForecaster, grid: SeriesGrid) -> ModelCard:
    return ModelCard(
        family="forecaster", version="", model_class=type(model).__name__, description="test model",
        training=TrainingData(source="test", start="2026-03-02T00:00:00+00:00", end="2026-03-03T09:20:00+00:00",
                              rows=grid.values.size, series=grid.n_series, sha256=hash_arrays(grid.values)),
        features=tuple(model.feature_names_), parameters={"alpha": model.alpha},
        metrics={"mae_30m": 0.5, "mae_30m_persistence": 0.7},
    )


@pytest.fixture(scope="module")
def models(small_catalog: Catalog) -> tuple[list[EarlyWarningForecaster], SeriesGrid]:
    grid = tiny_grid(small_catalog, 1)
    fitted = [EarlyWarningForecaster(alpha=a, max_rows=20_000).fit(grid, small_catalog) for a in (0.1, 10.0)]
    return fitted, grid


def test_round_trip_promote_rollback(tmp_path: Path, small_catalog: Catalog, models: tuple) -> None:
    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    v1 = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    v2 = reg.save("forecaster", fitted[1], card(fitted[1], grid))
    assert (v1, v2) == ("v0001", "v0002")
    assert reg.versions("forecaster") == ["v0001", "v0002"]
    assert reg.promoted("forecaster") is None
    with pytest.raises(RegistryError, match="no promoted version"):
        reg.load("forecaster")
    reg.promote("forecaster", v1)
    reg.promote("forecaster", v2)
    infos = reg.describe()
    assert [(i.version, i.promoted) for i in infos] == [("v0001", False), ("v0002", True)]
    window = grid.values[:, -13:]
    now = int(grid.column_end_ns()[-1])
    for version, original in ((v1, fitted[0]), (v2, fitted[1])):
        assert (reg.version_dir("forecaster", version) / "model.arrays.npz").exists()  # save wrote the array form
        a = original.predict(small_catalog, window, grid.indicator, now)
        for loaded in (reg.load("forecaster", version), reg.load("forecaster", version, arrays=True)):
            b = loaded.predict(small_catalog, window, grid.indicator, now)
            np.testing.assert_array_equal(a.value, b.value)
            np.testing.assert_array_equal(a.seconds_to_level, b.seconds_to_level)
        assert type(loaded.regressors_[loaded.families_[0]][0]).__name__ == "LinearRegressor"
    assert reg.rollback("forecaster") == v1
    assert reg.promoted("forecaster") == v1
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback("forecaster")
    events = reg.pointer("forecaster")["events"]
    assert [e["action"] for e in events] == ["promote", "promote", "rollback"]
    with pytest.raises(RegistryError, match="no such version"):
        reg.promote("forecaster", "v0009")


def test_card_fields(tmp_path: Path, models: tuple) -> None:
    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    version = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    c = reg.card("forecaster", version)
    assert c.version == version and c.family == "forecaster"
    assert len(c.training.sha256) == 64 and c.training.rows == grid.values.size
    assert "deviation" in c.features and c.parameters["alpha"] == 0.1
    assert {"python", "numpy", "scikit-learn", "skops"} <= set(c.libraries)
    md = (tmp_path / "forecaster" / version / "card.md").read_text(encoding="utf-8")
    for needle in ("Training data", c.training.sha256, "mae_30m", "scikit-learn", "Parameters"):
        assert needle in md


class NotAModel:
    """A class from outside the trusted list."""


def test_untrusted_types_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.skops"
    sio.dump({"model": NotAModel(), "hook": os.system}, evil)
    with pytest.raises(UntrustedModelError, match="not trusted") as info:
        load_artifact(evil)
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert "NotAModel" in str(info.value)
    # the same through the registry: a tampered artifact in a version directory
    reg = ModelRegistry(tmp_path / "reg")
    (tmp_path / "reg" / "forecaster" / "v0001").mkdir(parents=True)
    evil.rename(tmp_path / "reg" / "forecaster" / "v0001" / "model.skops")
    with pytest.raises(UntrustedModelError):
        reg.load("forecaster", "v0001")


def test_garbage_artifact_is_a_registry_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RegistryError):
        load_artifact(bad)


def test_watcher_sees_promotion_and_exports_info(tmp_path: Path, models: tuple) -> None:
    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    v1 = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    v2 = reg.save("forecaster", fitted[1], card(fitted[1], grid))
    watcher = RegistryWatcher(reg, ["forecaster"])
    assert watcher.poll() == {} and watcher.model("forecaster") is None
    reg.promote("forecaster", v1)
    assert watcher.poll() == {"forecaster": v1}
    assert watcher.model("forecaster").alpha == 0.1
    assert watcher.poll() == {}  # unchanged pointer: nothing reloaded
    prom = CollectorRegistry()
    prom.register(ModelInfoCollector(watcher))
    assert prom.get_sample_value("vitals_model_info", {"family": "forecaster", "version": v1}) == 1.0
    reg.promote("forecaster", v2)
    assert watcher.poll() == {"forecaster": v2}
    assert watcher.model("forecaster").alpha == 10.0
    assert prom.get_sample_value("vitals_model_info", {"family": "forecaster", "version": v2}) == 1.0
    assert prom.get_sample_value("vitals_model_info", {"family": "forecaster", "version": v1}) is None
    restored = pickle.loads(pickle.dumps(watcher))
    assert restored.model("forecaster") is None
    assert restored.poll() == {"forecaster": v2}


def test_watcher_keeps_model_when_promoted_artifact_is_broken(tmp_path: Path, models: tuple) -> None:
    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    v1 = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    v2 = reg.save("forecaster", fitted[1], card(fitted[1], grid))
    reg.promote("forecaster", v1)
    failures = []
    watcher = RegistryWatcher(reg, ["forecaster"], on_error=lambda *args: failures.append(args))
    watcher.poll()
    reg.promote("forecaster", v2)
    (tmp_path / "forecaster" / v2 / "model.skops").write_bytes(b"corrupt")  # broken after its promotion
    assert watcher.poll() == {}
    assert watcher.version("forecaster") == v1
    assert [(f, v) for f, v, _ in failures] == [("forecaster", v2)]
    assert isinstance(failures[0][2], RegistryError)


def test_promote_refuses_an_artifact_the_pipeline_would_refuse(tmp_path: Path, models: tuple) -> None:
    """Issue 12, finding 7: `vitals models promote` loads through the trusted loader first."""
    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    v1 = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    reg.promote("forecaster", v1)
    v2 = reg.save("forecaster", fitted[1], card(fitted[1], grid))
    sio.dump({"model": NotAModel(), "hook": os.system}, tmp_path / "forecaster" / v2 / "model.skops")
    with pytest.raises(UntrustedModelError, match=f"cannot promote forecaster {v2}: .*not trusted"):
        reg.promote("forecaster", v2)
    assert reg.promoted("forecaster") == v1
    (tmp_path / "forecaster" / v2 / "model.skops").write_bytes(b"not a zip")
    with pytest.raises(RegistryError, match=f"cannot promote forecaster {v2}"):
        reg.promote("forecaster", v2)
    assert reg.promoted("forecaster") == v1
    from vitals.cli import main

    assert main(["models", "--models-dir", str(tmp_path), "promote", "forecaster", v2]) == 1
    assert reg.promoted("forecaster") == v1


def test_a_model_that_cannot_be_loaded_shows_in_the_metrics(tmp_path: Path, models: tuple) -> None:
    """The pipeline keeps running without the model, and says so: vitals_model_load_failed{family,version}."""
    from vitals.exporter import PipelineCollector, PipelineStats

    fitted, grid = models
    reg = ModelRegistry(tmp_path)
    v1 = reg.save("forecaster", fitted[0], card(fitted[0], grid))
    reg.promote("forecaster", v1)
    (tmp_path / "forecaster" / v1 / "model.skops").write_bytes(b"corrupt")
    stats = PipelineStats()
    prom = CollectorRegistry()
    prom.register(PipelineCollector(stats))
    watcher = RegistryWatcher(reg, ["forecaster"], on_error=stats.set_model_failed)
    assert watcher.poll() == {} and watcher.model("forecaster") is None
    labels = {"family": "forecaster", "version": v1}
    assert prom.get_sample_value("vitals_model_load_failed", labels) == 1.0
    stats.set_model("forecaster", v1)  # a version that loads clears it
    assert prom.get_sample_value("vitals_model_load_failed", labels) == 0.0


def test_invalid_names(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="invalid model family"):
        reg.versions("../etc")
    with pytest.raises(RegistryError, match="invalid version"):
        reg.load("forecaster", "latest")


@pytest.mark.parametrize(("old", "new"), [
    ("mae_60m", "mae_1h"), ("mae_60m_persistence", "mae_1h_persistence"), ("mae_360m_seasonal", "mae_6h_seasonal"),
    ("mae_90m", "mae_1h30m"), ("warned_180m_before_share", "warned_3h_before_share"), ("mae_15m", "mae_15m"),
    ("warned_15m_before_share", "warned_15m_before_share"), ("mae_1h", "mae_1h"), ("roc_auc_ramp", "roc_auc_ramp"),
    ("lead_time_median_s", "lead_time_median_s"), ("city14_seed5_lead_event_s", "city14_seed5_lead_event_s"),
])
def test_metric_keys_in_minutes_read_as_the_horizon_labels(old: str, new: str) -> None:
    assert current_metric_key(old) == new


def test_the_shipped_cards_read_with_todays_keys_and_their_figures() -> None:
    """Cards written before the keys followed the cadence (``mae_60m``, warnings within a fixed 30 minutes) read
    as today's keys with the same figures, in the same order."""
    reg = ModelRegistry(REPO / "models")
    versions = reg.versions("forecaster")
    assert versions
    for version in versions:
        raw = json.loads((reg.version_dir("forecaster", version) / "card.json").read_text(encoding="utf-8"))["metrics"]
        assert "mae_60m" in raw and "early_warning_within_s" not in raw  # written before
        metrics = reg.card("forecaster", version).metrics
        renamed = {("mae_1h" + k[len("mae_60m"):] if k.startswith("mae_60m") else k): v for k, v in raw.items()}
        assert metrics.pop("early_warning_within_s") == 1800
        assert list(metrics.items()) == list(renamed.items())
        assert "mae_1h" in metrics and "mae_60m" not in metrics
        assert reg.card("forecaster", version).headline().endswith("(warned within 30m)")
    # the window model's card has no such keys: read as written
    for version in reg.versions("window_model"):
        raw = json.loads((reg.version_dir("window_model", version) / "card.json").read_text(encoding="utf-8"))
        assert reg.card("window_model", version).metrics == raw["metrics"]


def test_an_old_card_saved_again_is_written_with_todays_keys(tmp_path: Path, models: tuple) -> None:
    fitted, grid = models
    old = card(fitted[0], grid).to_dict()
    old["metrics"] = {"mae_60m": 0.4, "mae_60m_persistence": 0.6, "orange_crossings": 3, "lead_time_median_s": 900.0,
                      "mae_1h_seasonal": 0.5, "mae_60m_seasonal": 9.9}
    reg = ModelRegistry(tmp_path)
    version = reg.save("forecaster", fitted[0], ModelCard.from_dict(old))
    written = json.loads((tmp_path / "forecaster" / version / "card.json").read_text(encoding="utf-8"))["metrics"]
    # a key already in today's form wins over the old one of the same meaning
    assert written == {"mae_1h": 0.4, "mae_1h_persistence": 0.6, "early_warning_within_s": 1800,
                       "orange_crossings": 3, "lead_time_median_s": 900.0, "mae_1h_seasonal": 0.5}
    assert "| mae_1h | 0.4 |" in (tmp_path / "forecaster" / version / "card.md").read_text(encoding="utf-8")
    assert reg.card("forecaster", version).headline() == "median lead 15m (warned within 30m)"  # no mae_30m figure


def test_a_hand_edited_card_costs_its_own_row(tmp_path: Path, models: tuple, capsys: pytest.CaptureFixture[str],
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A card with a field deleted by hand: `models show` says which field (before: ``... card.json: 'training'``,
    the KeyError's bare text), and `models list` lists every other version with it (before: the listing stopped
    at that card). An unknown family or version is named as such (before: "has no promoted version" and
    "cannot read the model card ...: [Errno 2] ..."). """
    from vitals.cli import main as cli_main

    fitted, grid = models
    reg = ModelRegistry(tmp_path / "models")
    first, second = (reg.save("forecaster", m, card(m, grid)) for m in fitted)
    reg.promote("forecaster", second)
    path = reg.version_dir("forecaster", first) / "card.json"
    doc = json.loads(path.read_text())
    del doc["training"]
    path.write_text(json.dumps(doc))
    with pytest.raises(RegistryError, match=rf"model card {path} lacks the field 'training'"):
        reg.card("forecaster", first)
    infos = reg.describe()
    assert [(i.version, i.model_class, i.promoted) for i in infos] == [
        (first, "?", False), (second, "EarlyWarningForecaster", True)]
    base = ["models", "--models-dir", str(reg.root)]
    assert cli_main([*base, "list"]) == 0
    out = capsys.readouterr()
    assert f" {first} " in out.out and f"*{second} " in out.out and "model card unreadable" in out.out
    assert any("lacks the field 'training'" in r.getMessage() for r in caplog.records)
    for args, message in ((["show", "forecaster", first], "lacks the field 'training'"),
                          (["show", "forecaster", "v0042"], f"forecaster v0042 not found in {reg.root} (known: "),
                          (["show", "forcaster"], "no model family 'forcaster' in")):
        assert cli_main([*base, *args]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_a_mistyped_models_dir_is_one_line_not_an_empty_listing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`vitals models list --models-dir` naming no directory (a typo) said "no models in ..." with exit 0, as if
    the registry were empty; now every `vitals models` command refuses it in one line. An existing empty
    directory still lists as empty."""
    from vitals.cli import main as cli_main

    missing = tmp_path / "modles"
    for args in (["list"], ["show", "forecaster"], ["promote", "forecaster", "v0001"], ["rollback", "forecaster"]):
        assert cli_main(["models", "--models-dir", str(missing), *args]) != 0
        err = capsys.readouterr().err
        assert f"models directory {missing}" in err and "does not exist" in err and err.count("\n") == 1, err
    assert not missing.exists()
    (tmp_path / "empty").mkdir()
    assert cli_main(["models", "--models-dir", str(tmp_path / "empty"), "list"]) == 0
    assert "no models in" in capsys.readouterr().out


def test_a_promoted_version_that_is_gone_is_shown_not_hidden(tmp_path: Path, models: tuple,
                                                             capsys: pytest.CaptureFixture[str],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """promoted.json naming a version whose directory was deleted: `vitals models list` listed the other versions
    with none marked promoted and no word (the pipeline meanwhile scored without the family, logging an error).
    Now the missing version has its own row (promoted, MISSING), the warning says what to do, --json carries a
    "problem", and `models show FAMILY` names the dangling promotion. A lost artifact is named the same way."""
    import shutil

    from vitals.cli import main as cli_main

    fitted, grid = models
    reg = ModelRegistry(tmp_path / "models")
    first, second = (reg.save("forecaster", m, card(m, grid)) for m in fitted)
    reg.promote("forecaster", second)
    shutil.rmtree(reg.version_dir("forecaster", second))
    base = ["models", "--models-dir", str(reg.root)]
    assert cli_main([*base, "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[:2] for r in rows[1:]] == [["forecaster", f"*{second}"], ["forecaster", first]]
    assert "MISSING: promoted but not found" in rows[1]
    expected = (f"forecaster: promoted.json promotes {second}, but {reg.version_dir('forecaster', second)} is "
                f"missing: the pipeline scores without forecaster; promote a version (known: {first}) or roll back")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [expected]
    assert cli_main([*base, "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(d["version"], d["promoted"], d.get("problem")) for d in doc] == [(second, True, expected),
                                                                              (first, False, None)]
    assert cli_main([*base, "show", "forecaster"]) == 1
    assert capsys.readouterr().err == f"vitals models: error: {expected}\n"
    reg.promote("forecaster", first)
    assert cli_main([*base, "rollback", "forecaster"]) == 1  # was done: promoted.json pointing at nothing again
    assert capsys.readouterr().err == (f"vitals models: error: cannot roll back forecaster to {second}: "
                                       f"{reg.version_dir('forecaster', second)} (or its artifact) is missing; "
                                       f"promote a version instead (known: {first})\n")
    assert reg.promoted("forecaster") == first
    (reg.version_dir("forecaster", first) / "model.skops").unlink()
    assert "its artifact" in reg.missing_promoted("forecaster")
