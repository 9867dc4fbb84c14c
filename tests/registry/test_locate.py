"""The models directory is found the same way by every command, and models of another catalog are refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from vitals_testing import REPO, SECOND_CITY

from vitals.catalog import default_catalog_path, load_catalog
from vitals.config import load_settings
from vitals.errors import ConfigError, ModelError
from vitals.registry import ModelRegistry
from vitals.registry.locate import check_all, models_dir


def test_resolution_order(tmp_path: Path):
    assert models_dir(None, None).path == REPO / "models"
    assert models_dir(None, str(default_catalog_path())).path == REPO / "models"
    assert models_dir(None, str(SECOND_CITY)).path == SECOND_CITY.parent / "models"
    assert models_dir(str(tmp_path), str(SECOND_CITY)).path == tmp_path
    config = tmp_path / "c.yaml"
    config.write_text(f"models_dir: {tmp_path / 'from_file'}\n")
    from_env = load_settings(config, {"VITALS_MODELS_DIR": str(tmp_path / "from_env")})
    assert from_env.models_dir == str(tmp_path / "from_env")
    assert load_settings(config, {}).models_dir == str(tmp_path / "from_file")
    with pytest.raises(ConfigError, match="does not exist"):
        models_dir(str(tmp_path / "nowhere"), None, must_exist=True)


def test_models_of_another_catalog_are_an_error():
    registry = ModelRegistry(REPO / "models")
    loaded = {"forecaster": (str(registry.promoted("forecaster")), registry.load("forecaster"))}
    where = models_dir(str(REPO / "models"), str(SECOND_CITY))
    with pytest.raises(ModelError, match="trained for another catalog") as err:
        check_all(loaded, load_catalog(SECOND_CITY), where)
    assert "vitals train --catalog" in str(err.value) and "not trained for air_no2" in str(err.value)
    assert check_all(loaded, load_catalog(streets_total=38), models_dir(None, None)).startswith(
        "models: forecaster v")
    assert "none promoted" in check_all({}, load_catalog(SECOND_CITY), models_dir(None, str(SECOND_CITY)))


def test_replay_says_which_models_it_uses(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                          capsys: pytest.CaptureFixture[str]):
    from vitals.cli import main

    readings = tmp_path / "r.csv"
    readings.write_text("ts,indicator,area,sensor,value\n2026-03-02T00:00:00Z,river_level,RIB-01,,3.1\n")
    common = ["replay", str(readings), "--catalog", str(SECOND_CITY), "--metrics-port", "0", "--no-progress",
              "--dead-letters", str(tmp_path / "dl.jsonl")]
    with caplog.at_level(logging.INFO):
        assert main(common) == 0
    assert f"models: none promoted in {SECOND_CITY.parent / 'models'}" in caplog.text
    assert main([*common, "--models-dir", str(REPO / "models")]) == 1  # the shipped models: another catalog
    err = capsys.readouterr().err
    assert "vitals replay: error: forecaster v" in err and "trained for another catalog" in err
