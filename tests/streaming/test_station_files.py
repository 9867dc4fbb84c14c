"""One file per station, replayed in one partition (the layout docs/sources.md suggests): each file keeps its own
watermark, so a station whose file starts years before the previous one ended loses nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from vitals_testing import SECOND_CITY

from vitals.cli import main
from vitals.readings.dead_letters import read_dead_letters

STATIONS = {"RIB-01": "2021-01-01", "RIB-02": "2019-06-01", "ALT-01": "2023-03-01", "ALT-02": "2020-01-01"}


def _station_files(root: Path, rows: int = 300) -> int:
    root.mkdir()
    for k, (station, start) in enumerate(STATIONS.items()):
        ts = pd.date_range(start, periods=rows, freq="10min", tz="UTC")
        values = 3.0 + 0.1 * np.sin(np.arange(rows) / 20)
        frame = pd.DataFrame({"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "indicator": "river_level", "area": station,
                              "sensor": "", "value": values})
        frame.to_csv(root / f"{k:02d}-{station}.csv", index=False)
    return rows * len(STATIONS)


def test_files_in_one_partition_keep_their_own_watermark(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    total = _station_files(tmp_path / "stations")
    back = tmp_path / "stations" / "99-back.csv"  # a file that goes back in time by a day
    back.write_text("ts,indicator,area,sensor,value\n2022-05-02T00:00:00Z,river_level,RIB-01,,3\n"
                    "2022-05-01T00:00:00Z,river_level,RIB-01,,3\n")
    dead = tmp_path / "dl.jsonl"
    with caplog.at_level(logging.WARNING):
        assert main(["replay", str(tmp_path / "stations"), "--catalog", str(SECOND_CITY), "--partitions", "1",
                     "--metrics-port", "0", "--no-progress", "--dead-letters", str(dead)]) == 0
    out = capsys.readouterr().out
    assert f"{total + 2:,} readings" in out and f"{total + 1:,} accepted" in out and "late=1" in out
    assert [e["reason"] for e in read_dead_letters(dead)] == ["late"]
    assert "99-back.csv goes back in time" in caplog.text and "00-RIB-01.csv" not in caplog.text
