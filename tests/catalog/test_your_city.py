"""docs/your-city.md, followed with the second city: check the catalog, replay per-station files in one partition,
see the named areas on /metrics, train, backtest on the history, build alert rules and dashboards.

The `vitals ...` lines are taken from the page's shell blocks and run as written, with the paths replaced by
temporary ones (and, for the replay, `--metrics-port 0 --no-progress`: the test serves the replay's export hub
on a free port itself and scrapes it, as `curl` does in step 3; the paced replay of step 3 only adds `--speed`).
The readings are a simulated week of the city (no sensor faults, so every reading is valid), one CSV file per
station, every file covering the same days: read one after the other in one partition, each next file starts
days before the previous one ended.
"""

from __future__ import annotations

import json
import shlex
import shutil
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from vitals_testing import REPO, SECOND_CITY

from pipelines.run import run_pipeline
from vitals.catalog import load_catalog
from vitals.cli import build_parser
from vitals.cli import main as cli_main
from vitals.cli.options import settings_from_args
from vitals.exporter.hub import ExportHub
from vitals.exporter.server import MetricsServer
from vitals.registry import ModelRegistry
from vitals.services import free_port

DOC = REPO / "docs" / "your-city.md"
DAYS = 3


def doc_commands() -> list[str]:
    """The `vitals ...` lines of the page's shell blocks, in order."""
    lines, inside = [], False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh"
            continue
        if inside and line.startswith("vitals "):
            lines.append(line.strip())
    return lines


def test_the_walk_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    city = tmp_path / "city"
    city.mkdir()
    catalog = city / "my_city.yaml"
    shutil.copy(SECOND_CITY, catalog)
    # the user's files: one CSV per station (a simulated city split by area), and labels of known incidents
    assert cli_main(["simulate", "--catalog", str(catalog), "--days", str(DAYS), "--seed", "5", "--start",
                     "2026-03-02T00:00:00Z", "--faults", "none", "--out", str(tmp_path / "sim.parquet"),
                     "--labels", str(city / "labels.json"), "--no-progress"]) == 0
    readings = pd.read_parquet(tmp_path / "sim.parquet")
    stations = city / "stations"
    stations.mkdir()
    for area, part in readings.groupby("area", observed=True):
        part.assign(ts=part.ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(stations / f"{area}.csv", index=False)
    assert len(list(stations.glob("*.csv"))) == 6
    capsys.readouterr()

    paths = {"my_city.yaml": str(catalog), "stations/": str(stations), "var/history": str(city / "history"),
             "labels.json": str(city / "labels.json"), "deploy/": f"{city / 'deploy'}/"}

    def argv(line: str) -> list[str]:
        """The command's arguments (after `vitals`) with the page's paths replaced by the test's."""
        out = []
        for word in shlex.split(line)[1:]:
            mapped = word
            for doc_path, path in paths.items():
                if word == doc_path or (doc_path.endswith("/") and word.startswith(doc_path)):
                    mapped = path + word[len(doc_path):]
                    break
            out.append(mapped)
        return out

    commands = doc_commands()
    check, replay, paced, train, backtest, alerts, dashboards = commands

    # 1. check the catalog
    assert cli_main(argv(check)) == 0
    assert "OK (6 indicators in 5 domains, 3 districts, 6 streets, 36 series)" in capsys.readouterr().out

    # 2 + 3. replay the station files in one partition; scrape /metrics for the named areas
    assert paced == f"{replay.replace(' --history-dir var/history', '')} --speed 3600"
    args = build_parser().parse_args([*argv(replay), "--metrics-port", "0", "--no-progress", "--dead-letters",
                                      str(city / "dead_letters.jsonl")])
    settings = settings_from_args(args, source="file", path=args.path)
    loaded = load_catalog(catalog)
    hub = ExportHub(loaded, min_publish_interval_s=0.0)
    summary = run_pipeline(settings, catalog=loaded, hub=hub)
    assert summary.inputs == len(readings) and summary.accepted == len(readings)  # none lost as late
    assert not any(summary.rejected.values())
    server = MetricsServer(hub, port=free_port()).start()
    try:
        with urllib.request.urlopen(f"{server.url}", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        server.stop()
    info = next(line for line in metrics.splitlines() if line.startswith("vitals_area_info{")
                and 'street="RIB-01"' in line)
    assert 'name_zh="Cais do Sodré"' in info and 'district="ribeira"' in info and 'lat="38.706"' in info
    assert any(line.startswith("vitals_warning_level{") and 'street="ALT-02"' in line
               for line in metrics.splitlines())
    history = pd.read_parquet(city / "history" / "readings")
    assert len(history) == len(readings)
    # vitals snapshots every 5 minutes of event time with readings (10-minute indicators: one per 10 minutes)
    vitals = pd.read_parquet(city / "history" / "vitals")
    span_s = (history["ts"].max() - history["ts"].min()).total_seconds()
    assert vitals["at"].nunique() >= span_s // 600 - 1 and not vitals.duplicated(["at", "series"]).any()

    # 4. train: both families, on the catalog's cadence (10 minutes), promoted into models/ next to the catalog
    assert cli_main([*argv(train), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "grid step 600 s" in out
    registry = ModelRegistry(city / "models")
    assert registry.promoted("forecaster") == "v0001" and registry.promoted("window_model") == "v0001"
    forecaster = registry.load("forecaster")
    assert forecaster.step_s == 600 and forecaster.horizons_s == (1800, 3600, 7200)
    assert json.loads(out.strip().splitlines()[-1])["series"] == 36

    # 5. backtest on the history with the user's labels and the promoted models
    assert cli_main(argv(backtest)) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (figures["streets"], figures["districts"], figures["series"]) == (6, 3, 36)
    assert figures["events_orange"] > 0 and figures["recall_warning"] >= 0.9
    assert figures["false_alarms_warning_full_scale_per_indicator_district_day"] is None  # every area measured

    # 6 + 7. alert rules and dashboards for the city
    assert cli_main(argv(alerts)) == 0 and cli_main(argv(dashboards)) == 0
    rules = "\n".join(p.read_text(encoding="utf-8") for p in (city / "deploy" / "alerting").rglob("*.yml"))
    assert "vitals_river_level" in rules and "vitals_air_no2_micrograms_per_cubic_meter" in rules
    boards = "\n".join(p.read_text(encoding="utf-8") for p in (city / "deploy" / "grafana").rglob("*.json"))
    assert "Ribeira" in boards and "Alto da Serra" in boards
