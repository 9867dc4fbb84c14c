"""docs/extending.md runs: every fenced block whose first line names a file (``# my_city/...``) is written to
that file, then the new source and sink go through the real ``vitals run``, the new detector through the
detector contract and the notebook API, and the new indicator through the catalog, the simulator and the
exporter."""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vitals.catalog import load_catalog
from vitals.config import load_settings
from vitals.detectors import score_series
from vitals.detectors.registry import DETECTORS
from vitals.errors import ConfigError
from vitals.exporter.render import VitalsRenderer
from vitals.exporter.testing import synthetic_view
from vitals.simulator import CitySimulator, SimulatorConfig
from vitals.simulator.output import write_readings
from vitals.sources.registry import SOURCES
from vitals.stream.sinks import SINKS

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"^```(\w+)\n# (\S+)\n(.*?)^```$", re.S | re.M)
STREETS = 76


def doc_files() -> dict[str, str]:
    """File name -> content of the doc's named blocks (the name line dropped)."""
    return {name: body for _, name, body in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """The doc's files under ``tmp_path``, importable as ``my_city.*``; registrations undone afterwards."""
    for name, body in doc_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == "my_city" or m.startswith("my_city.")]:
            del sys.modules[module]
        SOURCES.unregister("sqlite")
        SINKS.unregister("levels_csv")
        DETECTORS.unregister("ewma_z")


def test_the_doc_names_every_example() -> None:
    assert set(doc_files()) == {"my_city/sqlite_source.py", "my_city/levels_csv.py", "city.yaml",
                                "my_city/ewma_z.py", "my_city/noise_indicator.yaml"}


def _readings_db(where: Path) -> int:
    """A SQLite table of two simulated hours of the 76-street city, plus two readings no catalog knows."""
    sim = CitySimulator(load_catalog(streets_total=STREETS), SimulatorConfig(seed=3, duration=timedelta(hours=2)))
    write_readings(where / "day.jsonl", sim)
    rows = [json.loads(line) for line in (where / "day.jsonl").read_text().splitlines()]
    rows += [{"ts": rows[-1]["ts"], "indicator": "no_such_indicator", "area": rows[-1]["area"], "value": 1.0}] * 2
    (where / "var").mkdir()
    with sqlite3.connect(where / "var" / "readings.db") as db:
        db.execute("CREATE TABLE readings (ts TEXT, indicator TEXT, area TEXT, value REAL)")
        db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?)",
                       [(r["ts"], r["indicator"], r["area"], r["value"]) for r in rows])
    return len(rows)


def test_the_new_source_and_sink_run_in_vitals_run(plugin_dir: Path) -> None:
    total = _readings_db(plugin_dir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(REPO)]), "VITALS_SCORING": "false"}
    env.pop("BYTEWAX_DATAFLOW_API_ENABLED", None)
    done = subprocess.run(
        [sys.executable, "-m", "vitals", "run", "--config", "city.yaml", "--streets", str(STREETS), "--speed", "0",
         "--metrics-port", "0", "--shards", "2", "--dead-letters", "var/dead.jsonl"],
        cwd=plugin_dir, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = re.search(r"([\d,]+) readings in .*: ([\d,]+) accepted; rejected: (.*)", done.stdout)
    assert summary is not None, done.stdout
    inputs, accepted = (int(summary[i].replace(",", "")) for i in (1, 2))
    assert inputs == total and "unknown_indicator=2" in summary[3] and accepted > 0.9 * total
    with (plugin_dir / "var" / "levels-p0.csv").open() as f:
        rows = list(csv.DictReader(f))
    finals = [r for r in rows if r["final"] == "1"]
    assert sorted(r["shard"] for r in finals) == ["0", "1"]
    assert sum(int(r["accepted"]) for r in finals) == accepted
    dead = [json.loads(line) for line in (plugin_dir / "var" / "dead.jsonl").read_text().splitlines()]
    assert [d["partition"] for d in dead if d["reason"] == "unknown_indicator"] == ["sqlite-0", "sqlite-0"]


def test_a_typo_in_the_new_section_is_the_documented_line(plugin_dir: Path) -> None:
    config = plugin_dir / "typo.yaml"
    config.write_text("plugins: [my_city.sqlite_source]\nsource: sqlite\nsources:\n  sqlite: {databse: x}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config, {})
    expected = "sources.sqlite: unknown setting(s) databse; known: database, table, follow"
    assert str(err.value) == f"config file {config}: {expected}"
    assert expected in " ".join(DOC.read_text(encoding="utf-8").split())
    with pytest.raises(ConfigError, match="sqlite_table 'a b' must be a plain table name"):
        load_settings(None, {"VITALS_PLUGINS": "my_city.sqlite_source"}, source="sqlite", sqlite_table="a b")


def test_the_new_detector_keeps_the_contract(plugin_dir: Path) -> None:
    importlib.import_module("my_city.ewma_z")
    contract = importlib.import_module("detectors.test_contract")
    suite = contract.TestContract()
    checks = [name for name in dir(suite) if name.startswith("test_")]
    assert len(checks) >= 6
    for check in checks:
        getattr(suite, check)("ewma_z")
    rng = np.random.default_rng(0)
    values = pd.Series(rng.normal(10, 1, 500), index=pd.date_range("2026-01-01", periods=500, freq="5min", tz="UTC"))
    values.iloc[400] += 20
    scored = score_series(values, detector="ewma_z", alpha=0.05)
    assert scored["score"].idxmax() == values.index[400]


def test_the_new_indicator_reaches_catalog_simulator_and_metrics(plugin_dir: Path) -> None:
    entry = (plugin_dir / "my_city" / "noise_indicator.yaml").read_text(encoding="utf-8")
    shipped = (REPO / "vitals" / "data" / "catalog.yaml").read_text(encoding="utf-8")
    indented = "".join(f"  {line}\n" for line in entry.splitlines())
    city = plugin_dir / "my_city.yaml"
    city.write_text(shipped.replace("indicators:\n", "indicators:\n" + indented, 1), encoding="utf-8")
    catalog = load_catalog(city, streets_total=STREETS)
    before = load_catalog(streets_total=STREETS)
    code = catalog.indicator_index["street_noise"]
    assert catalog.n_series > before.n_series
    sim = CitySimulator(catalog, SimulatorConfig(seed=1, duration=timedelta(hours=1)))
    batch = next(sim.batches(0, 1, 0))
    assert np.any(batch.indicator == code)
    text = VitalsRenderer(catalog).render(synthetic_view(catalog, 1), None).text.decode()
    assert "vitals_street_noise_decibels{" in text
