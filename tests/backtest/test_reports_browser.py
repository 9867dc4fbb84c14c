"""The backtest reports in headless Chromium: each is one offline file (no external URL, the network cut), loads
without errors, and every plot is present and decodes. Integration: skipped without Debian's chromium on a laptop,
failed without it in CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_testing import external_urls, open_in_chromium
from vitals_testing import copy_nab_subset

from vitals.cli import main

pytestmark = pytest.mark.integration


def test_city_backtest_report_in_chromium(city_run, tmp_path: Path) -> None:  # fixture: tests/backtest/conftest.py
    page = city_run.report.read_text()
    assert external_urls(page) == []
    check = open_in_chromium(city_run.report, tmp_path)
    assert check.errors == [] and check.title == "city-vitals city backtest"
    plots = city_run.figures["events_orange"] + city_run.figures["false_alarms_warning"]
    assert len(check.images) == plots and check.broken_images == []
    assert all(i["w"] >= 600 for i in check.images)


def test_nab_report_in_chromium(nab_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = ("realKnownCause/rogue_agent_key_hold.csv", "artificialWithAnomaly/art_daily_jumpsup.csv")
    small = copy_nab_subset(nab_dir, tmp_path / "nab", files)
    report = tmp_path / "nab.html"
    assert main(["backtest", "--nab", str(small), "--out", str(tmp_path / "out"), "--report", str(report)]) == 0
    capsys.readouterr()
    page = report.read_text()
    assert external_urls(page) == [] and "timestamp" in page
    check = open_in_chromium(report, tmp_path / "browser")
    assert check.errors == []
    assert sorted(i["alt"] for i in check.images) == sorted(files) and check.broken_images == []


def test_the_check_sees_a_broken_plot_and_an_external_load(tmp_path: Path) -> None:
    """The check itself: a page with an undecodable image and an external stylesheet fails it."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>bad</title>"
                   "<link rel='stylesheet' href='https://example.com/x.css'></head><body>"
                   "<img alt='broken' src='data:image/png;base64,AAAA'></body></html>")
    assert external_urls(bad.read_text()) == ["https://example.com/x.css"]
    check = open_in_chromium(bad, tmp_path / "browser")
    assert check.broken_images == ["broken"]
    assert any("x.css" in e for e in check.errors)
