"""The committed files under dashboards/grafana are exactly what `vitals dashboards build` makes, and the CLI
builds, checks and shows them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from grafana_testlib import default_bundle

from vitals.cli import main
from vitals.grafana import differences

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "dashboards" / "grafana"


def test_committed_files_equal_a_fresh_build() -> None:
    problems = differences(default_bundle(), COMMITTED)
    assert problems == [], "run `vitals dashboards build` and commit dashboards/grafana: " + "; ".join(problems)


def test_every_file_parses() -> None:
    for rel, text in default_bundle().files.items():
        doc = json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)
        assert doc, rel


def test_build_then_check(tmp_path: Path) -> None:
    out = tmp_path / "grafana"
    assert main(["dashboards", "check", "--out", str(out)]) == 1  # nothing there yet
    assert main(["dashboards", "build", "--out", str(out)]) == 0
    assert main(["dashboards", "check", "--out", str(out)]) == 0
    wall = out / "dashboards" / "city" / "city-wall.json"
    wall.write_text(wall.read_text().replace('"10s"', '"1m"'))
    (out / "dashboards" / "city" / "stray.json").write_text("{}")
    assert differences(default_bundle(), out) == ["changed: dashboards/city/city-wall.json",
                                                  "not generated: dashboards/city/stray.json"]
    assert main(["dashboards", "check", "--out", str(out)]) == 1


def test_build_options_reach_the_provisioning_files(tmp_path: Path) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path), "--prometheus-url", "http://prom.example:9090",
                 "--dashboards-path", "/srv/dash"]) == 0
    ds = yaml.safe_load((tmp_path / "provisioning" / "datasources" / "city-vitals.yaml").read_text())
    assert ds["datasources"][0]["url"] == "http://prom.example:9090"
    providers = yaml.safe_load((tmp_path / "provisioning" / "dashboards" / "city-vitals.yaml").read_text())
    assert [p["options"]["path"] for p in providers["providers"]] == ["/srv/dash/city", "/srv/dash/pipeline"]


def test_show_lists_dashboards_and_queries(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "show"]) == 0
    listing = capsys.readouterr().out
    for uid in ("city-wall", "district", "indicator-detail", "pipeline-health"):
        assert uid in listing
    assert main(["dashboards", "show", "--queries"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 80 and all(line.count("\t") >= 2 for line in lines)
