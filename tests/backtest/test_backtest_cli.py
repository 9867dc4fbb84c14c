"""`vitals backtest --nab` on two small NAB files: files, row counts, score range, causality, report."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vitals_testing import copy_nab_subset

from vitals.backtest.nab_run import load_nab, run_detector
from vitals.cli import main

FILES = ("realKnownCause/rogue_agent_key_hold.csv", "artificialWithAnomaly/art_daily_jumpsup.csv")


@pytest.fixture(scope="module")
def small_nab(nab_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_nab_subset(nab_dir, tmp_path_factory.mktemp("nab"), FILES)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")


def test_cli_writes_one_score_per_input_row(small_nab: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "results", tmp_path / "reports" / "report.html"  # a new directory: made (was a traceback)
    assert main(["backtest", "--nab", str(small_nab), "--out", str(out), "--report", str(report)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(printed[-1])
    assert figures["files"] == 2 and figures["windows"] == 3
    assert -100.0 <= figures["nab_standard"] <= 100.0
    for name in FILES:
        source = pd.read_csv(small_nab / "data" / name)
        result = pd.read_csv(out / name)
        assert list(result.columns) == ["timestamp", "value", "anomaly_score", "label"]
        assert len(result) == len(source)
        assert (result["timestamp"] == source["timestamp"]).all()
        assert result["anomaly_score"].between(0.0, 1.0).all()
        first_scored = min(int(0.15 * len(source)), 750)
        assert (result["anomaly_score"].iloc[:60] == 0).all()  # warm-up
        assert result["anomaly_score"].iloc[first_scored:].max() > 0  # warm-up ended within probation
    parser = _Images()
    text = report.read_text()
    parser.feed(text)
    assert len(parser.images) == 2 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert re.search(rf"{figures['nab_standard']:.2f}", text)


def test_scores_are_causal(small_nab: Path, tmp_path: Path) -> None:
    full = load_nab(small_nab)
    run_detector(full)
    cut = 900
    for name in FILES:
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.read_csv(small_nab / "data" / name).iloc[:cut].to_csv(path, index=False)
    prefix = load_nab(tmp_path, labels_required=False)
    run_detector(prefix)
    for a, b in zip(full, prefix, strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(a.scores[:cut], b.scores)


def test_an_out_that_is_a_file_is_one_line_before_the_run(tmp_path: Path, nab_dir: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `vitals backtest --nab DIR --out FILE` ran the detector over every file, then failed with a
    NotADirectoryError traceback."""
    given = tmp_path / "results"
    given.write_text("x")
    assert main(["backtest", "--nab", str(nab_dir), "--out", str(given)]) == 1
    assert capsys.readouterr().err == (f"vitals backtest: error: --out {given}: is not a directory; the NAB scoring "
                                       "needs a directory\n")


@pytest.mark.parametrize(("text", "message"), [
    (None, "--labels {path}: cannot read it: Is a directory"),
    ("", "--labels {path}: not JSON (Expecting value"),
    ("[1, 2]", "--labels {path}: holds a JSON list, not an object"),
    ('{"SERIES": [["then", "later"]]}', "--labels {path}: SERIES: windows must be [[start, end], ...] of ISO times"),
    ('{"SERIES": [1]}', "--labels {path}: SERIES: windows must be [[start, end], ...] of ISO times"),
])
def test_labels_that_are_not_labels_are_one_line(tmp_path: Path, small_catalog, text: str | None,
                                                 message: str) -> None:
    """Before: a traceback each (IsADirectoryError, JSONDecodeError, AttributeError, dateutil's ParserError,
    TypeError) from `vitals backtest --history H --labels L`, after reading the history."""
    from vitals.backtest.city import load_label_events
    from vitals.errors import ConfigError

    series = f"{small_catalog.indicators[0].id}/{small_catalog.streets[0].id}"
    path = tmp_path / "labels.json"
    if text is None:
        path.mkdir()
    else:
        path.write_text(text.replace("SERIES", series))
    with pytest.raises(ConfigError) as caught:
        load_label_events(small_catalog, path)
    assert str(caught.value).startswith(message.format(path=path).replace("SERIES", series)), caught.value


def test_a_city_report_that_is_a_directory_is_refused_before_the_run(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--history", str(tmp_path / "h"), "--labels", str(tmp_path / "l.json"),
                 "--report", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"vitals backtest: error: --report {tmp_path}: is a directory; the report "
                                       "needs a file name\n")
