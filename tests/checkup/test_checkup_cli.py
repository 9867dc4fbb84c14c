"""`vitals checkup` on a small replayed history (2 simulated days, 38 streets, 8 indicators, history written by
`vitals replay`): the JSON document, the HTML report, and the report in headless Chromium (integration)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser_testing import external_urls, open_in_chromium

from vitals.cli import main

INDICATORS = ("water_pressure,substation_load,underpass_ponding,rainfall_1h,traffic_index,gas_concentration,"
              "crowd_occupancy,hotline_tickets")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("checkup")
    # local days 2026-03-02 and 2026-03-03 (UTC+8)
    assert main(["simulate", "--days", "2", "--streets", "38", "--seed", "5", "--start", "2026-03-01T16:00:00Z",
                 "--step", "60", "--indicators", INDICATORS, "--incidents-per-day", "4", "--no-progress",
                 "--out", str(root / "r.parquet")]) == 0
    subprocess.run([sys.executable, "-m", "vitals", "replay", str(root / "r.parquet"), "--streets", "38",
                    "--metrics-port", "0", "--history-dir", str(root / "h"),
                    "--partitions", "1", "--shards", "1", "--no-progress",
                    "--dead-letters", str(root / "dead.jsonl")], check=True, capture_output=True,
                   timeout=240)
    assert main(["checkup", "--history", str(root / "h"), "--from", "2026-03-03", "--to", "2026-03-03",
                 "--streets", "38", "--out", str(root / "report" / "checkup.html"),
                 "--json", str(root / "json" / "checkup.json")]) == 0  # new directories: made (were tracebacks)
    return root, json.loads((root / "json" / "checkup.json").read_text())


def test_json_covers_the_period_and_the_previous_one(checked: tuple[Path, dict]) -> None:
    _, doc = checked
    now, before = doc["period"], doc["previous"]
    assert (now["from"], now["to"], before["from"], before["to"]) == ("2026-03-03",) * 2 + ("2026-03-02",) * 2
    assert now["series"] == before["series"] == 8 * 38
    assert now["coverage"] > 0.8 and 0 < now["share_warning"] < 0.5
    assert now["incidents"] >= 1 and now["alerts"]["blue"] >= now["alerts"]["orange"] >= now["incidents_orange"]
    assert len(doc["districts"]) == 38 and len(doc["streets"]) == 20
    scores = [d["score"] for d in doc["districts"]]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 100
    top = doc["districts"][0]
    assert top["reasons_en"] and top["reasons_zh"] and "previous_score" in top
    assert {r["domain"] for r in doc["district_domain"]} <= {"water", "power", "drainage", "traffic", "gas",
                                                               "crowds", "hotline"}
    assert all(i["peak"] >= 2 for i in doc["incidents"])
    assert doc["score"]["weights"] == {"exposure": 0.25, "frequency": 0.25, "severity": 0.25, "recovery": 0.25}


def test_report_has_both_summaries_and_the_ranking(checked: tuple[Path, dict]) -> None:
    root, doc = checked
    page = (root / "report" / "checkup.html").read_text()
    assert "重庆市城市体检" in page and "Chongqing city check-up" in page
    assert page.count("<img") == 4 and external_urls(page) == []
    assert doc["districts"][0]["name_zh"] in page and "最脆弱的区县" in page
    assert page.count("<details class='district'>") == 38


def test_stdout_json_and_errors(checked: tuple[Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = checked
    capsys.readouterr()
    assert main(["checkup", "--history", str(root / "h"), "--from", "2026-03-03", "--days", "1", "--streets",
                 "38", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["period"]["to"] == "2026-03-03"
    assert main(["checkup", "--history", str(root / "h"), "--from", "2026-04-01", "--to", "2026-04-02"]) == 1
    assert "no vitals snapshots" in capsys.readouterr().err


@pytest.mark.integration
def test_report_in_chromium(checked: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = checked
    check = open_in_chromium(root / "report" / "checkup.html", tmp_path)
    assert check.errors == [] and "城市体检" in check.title
    assert len(check.images) == 4 and check.broken_images == []


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "0"], "--days must be >= 1, got 0"),  # said "--to D is before --from D+1"
    (["--top", "-1"], "--top must be >= 1, got -1"),  # cut the last street of the ranking
    (["--out", "{tmp}"], "--out {tmp}: is a directory; the report needs a file name"),  # after the whole checkup
])
def test_checkup_misuse_is_one_line_first(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                          message: str) -> None:
    code = main(["checkup", "--history", str(tmp_path / "nothing-here"), *[a.format(tmp=tmp_path) for a in args]])
    assert code == 1
    assert capsys.readouterr().err == f"vitals checkup: error: {message.format(tmp=tmp_path)}\n"


def test_a_history_without_snapshots_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: a readings file, or a history of a run too short to pass a 5-minute boundary, was told to "run the
    pipeline with --history-dir" (which the user had done)."""
    (tmp_path / "h" / "readings").mkdir(parents=True)
    (tmp_path / "r.parquet").write_bytes(b"PAR1")
    for history, message in (("h", "holds readings but no vitals snapshots yet"),
                             ("r.parquet", "is a file; --history takes the directory a run wrote with --history-dir"),
                             ("none", "run the pipeline with --history-dir")):
        assert main(["checkup", "--history", str(tmp_path / history), "--days", "1"]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
