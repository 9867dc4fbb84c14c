"""`vitals alerts build|check|render` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from vitals_testing import need_binary

from vitals.alerting import ALERT_RULES, ALERTMANAGER_CONFIG, RULE_TESTS_DIR
from vitals.catalog import Catalog
from vitals.cli import main


def test_build_writes_files_with_the_given_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                small_catalog: Catalog) -> None:
    code = main(["alerts", "build", "--out", str(tmp_path), "--streets", "76", "--channels", "webhook,email",
                 "--webhook-url", "http://hooks.example:8080/am/", "--grafana-url", "https://grafana.example"])
    assert code == 0
    counts = json.loads(capsys.readouterr().out.splitlines()[-1])
    c = small_catalog
    assert counts["catalog_constant_rules"] == 1 + len(c.districts) + c.n_streets + 2 * c.n_indicators
    config = yaml.safe_load((tmp_path / ALERTMANAGER_CONFIG).read_text())
    urls = [c["url"] for r in config["receivers"] for c in r["webhook_configs"]]
    assert urls == [f"http://hooks.example:8080/am/{r}" for r in
                    ("city-center", "district-centers", "street-centers", "platform")]
    assert all("wechat_configs" not in r for r in config["receivers"])
    assert "https://grafana.example/d/" in (tmp_path / ALERT_RULES).read_text()


def test_bad_channel_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "build", "--out", str(tmp_path), "--channels", "pager"]) == 1
    assert "channels" in capsys.readouterr().err


def test_render_needs_the_wecom_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VITALS_WECOM_API_SECRET", raising=False)
    assert main(["alerts", "render", "--out", str(tmp_path), "--streets", "76"]) == 1
    assert "VITALS_WECOM_API_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("VITALS_WECOM_API_SECRET", "from-the-environment")
    assert main(["alerts", "render", "--out", str(tmp_path), "--streets", "76"]) == 0
    assert "from-the-environment" in (tmp_path / ALERTMANAGER_CONFIG).read_text()


@pytest.mark.integration
def test_build_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need_binary("promtool")
    need_binary("amtool")
    assert main(["alerts", "build", "--out", str(tmp_path), "--streets", "76"]) == 0
    for slow in (tmp_path / RULE_TESTS_DIR).glob("*warning_level.test.yml"):  # test_promtool runs them all
        slow.unlink()
    assert main(["alerts", "check", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok   promtool test rules" in out and "ok   amtool check-config" in out
    # a broken Alertmanager config fails the check on its own: the rules and one (fast) rule test still pass (the
    # other rule tests passed just above; promtool would only run them again)
    for other in (tmp_path / RULE_TESTS_DIR).glob("*.test.yml"):
        if other.name != "catalog.test.yml":
            other.unlink()
    (tmp_path / ALERTMANAGER_CONFIG).write_text("route: {receiver: nobody}\n")
    assert main(["alerts", "check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL amtool check-config" in out
    assert "ok   promtool check rules" in out and "ok   promtool test rules" in out


@pytest.mark.parametrize("argv", [["alerts", "build", "--out"], ["alerts", "render", "--out"],
                                  ["dashboards", "build", "--out"], ["alerts", "check", "--dir"]])
def test_an_output_that_is_a_file_or_an_empty_check_dir_is_one_line(tmp_path: Path, argv: list[str],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming a file, or `alerts check` on a directory without the generated files: before, a
    NotADirectoryError / FileNotFoundError traceback."""
    given = tmp_path / "notes.txt"
    given.write_text("not a directory\n")
    dirs = [given, tmp_path / "empty"] if argv[1] == "check" else [given]
    (tmp_path / "empty").mkdir()
    for path in dirs:
        assert main([*argv, str(path), "--streets", "76"] if argv[1] != "check" else [*argv, str(path)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err, err
        assert ("is not a directory" in err) if argv[1] != "check" else (
            "lacks generated alerting files" in err and f"vitals alerts build --out {path}" in err)
    assert given.read_text() == "not a directory\n"


@pytest.mark.parametrize("argv", [
    ["alerts", "build", "--webhook-url", "notaurl"],
    ["alerts", "build", "--grafana-url", "grafana:3000"],
    ["dashboards", "build", "--prometheus-url", "ftp//x"],
    ["dashboards", "build", "--prometheus-url", "http://prometheus:90x0"],
])
def test_a_url_that_is_not_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str]) -> None:
    """Before: written into the rules, routes or datasource as given (exit 0); Alertmanager or Grafana failed
    on it later, far from the command that wrote it."""
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{argv[2]} {argv[3]!r} is not" in err, err
    assert not (tmp_path / "out").exists()
    if "http(s)" in err:  # the example is one of the option's own kind (a Grafana URL was shown an alert webhook)
        example = {"--webhook-url": "9095/alerts", "--grafana-url": "grafana", "--prometheus-url": ":9090"}[argv[2]]
        assert err.rstrip().endswith(example) or example in err.rsplit("e.g.", 1)[1], err
