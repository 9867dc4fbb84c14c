"""``vitals history export`` on a history the flow wrote: a local period, indicators, districts and streets give the
rows a pandas filter of the readers' frames gives, in the readers' order, as Parquet and as CSV (UTC and city
times, names, Excel's byte order mark); vitals with chosen columns; sub-second times kept; no match is an empty file
that says what the history holds; misuse in one line, no file left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.history.conftest import INDICATORS
from vitals.catalog import load_catalog
from vitals.cli import main
from vitals.history import read_readings, read_vitals
from vitals.history_export import Period, export, period_of
from vitals.history_files import history_files

ZONE = "Asia/Shanghai"  # the shipped model city's


def _local_day(frame: pd.DataFrame, column: str, first: str, last: str) -> pd.DataFrame:
    local = frame[column].dt.tz_convert(ZONE).dt.strftime("%Y-%m-%d")
    return frame[(local >= first) & (local <= last)]


def test_a_local_day_of_some_series_as_parquet_is_the_readers_rows(flow_history: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "day.parquet"
    assert main(["history", "export", str(flow_history), "--out", str(out), "--from", "2026-03-01", "--to",
                 "2026-03-01", "--indicator", "water_pressure,rainfall_1h", "--district", "yubei,jiangbei",
                 "--no-progress", "--streets", "38"]) == 0
    said = capsys.readouterr().out
    frame = read_readings(flow_history).drop(columns=["date", "domain"])
    want = _local_day(frame, "ts", "2026-03-01", "2026-03-01")
    want = want[want["indicator"].isin(["water_pressure", "rainfall_1h"])
                & want["district"].isin(["yubei", "jiangbei"])]
    got = pd.read_parquet(out)
    assert 0 < len(got) < len(frame)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    # the local day is 2026-02-28T16:00Z .. 2026-03-01T16:00Z: the history starts at 00:00Z
    assert got["ts"].min() < pd.Timestamp("2026-03-01T00:10Z")
    assert pd.Timestamp("2026-03-01T15:50Z") < got["ts"].max() < pd.Timestamp("2026-03-01T16:00Z")
    assert f"wrote {len(want):,} readings rows of {len(want.groupby(['indicator', 'area'])):,} series" in said


def test_csv_for_people_times_names_and_excel(flow_history: Path, tmp_path: Path) -> None:
    out = tmp_path / "week.csv"
    assert main(["history", "export", str(flow_history), "--out", str(out), "--street", "yubei_s001,yuzhong_s001",
                 "--names", "zh", "--excel", "--no-progress", "--streets", "38"]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    got = pd.read_csv(out, encoding="utf-8-sig")
    want = read_readings(flow_history)
    want = want[want["area"].isin(["yubei_s001", "yuzhong_s001"])].reset_index(drop=True)
    assert list(got.columns) == ["ts", "local_time", "indicator", "indicator_name", "area", "area_name", "district",
                                 "district_name", "sensor", "value"]
    assert (pd.to_datetime(got["ts"], utc=True) == want["ts"]).all()
    assert (got["local_time"] == want["ts"].dt.tz_convert(ZONE).dt.strftime("%Y-%m-%d %H:%M:%S")).all()
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-15)
    catalog = load_catalog(streets_total=38)
    assert set(got["indicator_name"]) == {catalog.indicator(i).name_zh for i in INDICATORS.split(",")}
    assert set(zip(got["area"], got["area_name"], strict=True)) == {
        (s.id, s.name_zh) for s in catalog.streets if s.id in {"yubei_s001", "yuzhong_s001"}}
    assert "渝北区" in set(got["district_name"])


def test_vitals_with_chosen_columns_and_a_period_of_times(flow_history: Path, tmp_path: Path) -> None:
    catalog = load_catalog(streets_total=38)
    out = tmp_path / "v.parquet"
    period = period_of(catalog, "2026-03-01T20:00+08:00", "2026-03-02T02:00Z")
    result = export(flow_history, out, catalog, kind="vitals", period=period, districts=["yubei"],
                    columns=["level", "mean_1h", "level", "area"])  # each once, keys first
    got = pd.read_parquet(out)
    assert list(got.columns) == ["at", "indicator", "area", "district", "level", "mean_1h"]
    want = read_vitals(flow_history)
    want = want[(want["at"] >= pd.Timestamp("2026-03-01T12:00Z")) & (want["at"] < pd.Timestamp("2026-03-02T02:00Z"))
                & (want["district"] == "yubei")]
    want = want.sort_values(["indicator", "area", "at"], kind="stable")[list(got.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert result.rows == len(want) > 0 and result.first == "2026-03-01T12:00:00Z"
    assert result.last == "2026-03-02T01:55:00Z"


def test_sub_second_times_keep_their_digits(history: Path, tmp_path: Path) -> None:
    path = history_files(history / "readings")[0]
    table = pq.read_table(path)
    shifted = pa.array(table.column("ts").cast(pa.int64()).to_numpy() + 123_000_000, pa.timestamp("ns", tz="UTC"))
    pq.write_table(table.set_column(0, "ts", shifted), path)
    out = tmp_path / "ms.csv"
    catalog = load_catalog(streets_total=38)
    export(history, out, catalog, streets=[table.column("area")[0].as_py()],
           indicators=[table.column("indicator")[0].as_py()])
    got = pd.read_csv(out)
    assert got["ts"].str.endswith(".123Z").any() and got["ts"].str.endswith(".000Z").any()
    assert got["local_time"].str.endswith(".123").any()


def test_no_match_is_an_empty_file_that_says_what_the_history_holds(flow_history: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.csv"
    assert main(["history", "export", str(flow_history), "--out", str(out), "--from", "2027-01-01",
                 "--no-progress", "--streets", "38"]) == 0
    assert "no row matched; the history holds 2026-03-01 .. 2026-03-02 (UTC days)" in capsys.readouterr().out
    assert pd.read_csv(out).empty and list(pd.read_csv(out).columns)[:2] == ["ts", "local_time"]
    assert main(["history", "export", str(flow_history), "--out", str(tmp_path / "n.json"), "--json", "--from",
                 "2027-01-01", "--to", "2027-01-01T01:00Z", "--no-progress", "--streets", "38"]) == 1  # .json: no
    capsys.readouterr()
    assert main(["history", "export", str(flow_history), "--out", str(out), "--json", "--from", "2027-01-01",
                 "--no-progress", "--streets", "38"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--indicator", "water_presure"], "--indicator 'water_presure' is not one of the catalog's indicator ids"),
    (["--district", "yubie"], "did you mean yubei?"),
    (["--from", "2026-03-01T08:00"], "give a local day (2025-06-02) or a time with a zone"),
    (["--from", "2026-03-02", "--to", "2026-03-01"], "--to 2026-03-01 is not after --from 2026-03-02"),
    (["--names", "zh", "--out", "X.parquet"], "--names adds columns to a CSV export"),
    (["--columns", "level"], "--columns chooses among the vitals columns"),
    (["--kind", "vitals", "--columns", "ewma_9h"], "--columns 'ewma_9h' is not a column of the vitals history"),
    (["--out", "X.xlsx"], "writes Parquet (.parquet) or CSV (.csv), not .xlsx files"),
    (["--out", "DIR"], "is a directory"),
    (["--out", "HISTORY/readings/x.csv"], "is inside the history"),
])
def test_misuse_in_one_line(flow_history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                            message: str) -> None:
    (tmp_path / "DIR").mkdir()
    args = [a.replace("X.", str(tmp_path / "x.")).replace("DIR", str(tmp_path / "DIR"))
            .replace("HISTORY", str(flow_history)) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "x.csv")]
    assert main(["history", "export", str(flow_history), *out, *args, "--no-progress", "--streets", "38"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["DIR"]  # no file, no temporary file left
    assert not (flow_history / "readings" / "x.csv").exists()


def test_no_history(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no readings history under"):
        export(tmp_path / "h", tmp_path / "x.csv", load_catalog(), period=Period())


def test_csv_values_missing_as_empty_cells_and_float32_in_short_form(flow_history: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.csv"
    export(flow_history, out, load_catalog(streets_total=38), kind="vitals", streets=["yubei_s001"])
    text = out.read_text()
    assert "nan" not in text.lower() and ",," in text
    got = pd.read_csv(out)
    want = read_vitals(flow_history)
    want = want[want["area"] == "yubei_s001"].sort_values(["indicator", "area", "at"], kind="stable")
    want = want.reset_index(drop=True)
    floats = [c for c in want.columns if want[c].dtype == np.float64]
    assert floats and got[floats].isna().equals(want[floats].isna())
    np.testing.assert_allclose(got[floats].to_numpy(float), want[floats].to_numpy(float), rtol=1e-7, atol=0)
    narrow = [c for c in floats if np.array_equal(want[c].astype(np.float32).astype(np.float64), want[c],
                                                  equal_nan=True) and want[c].notna().any()]
    assert narrow  # some columns hold float32 state only: printed short, equal as float32
    for c in narrow:
        assert (got[c].astype(np.float32).fillna(-1) == want[c].astype(np.float32).fillna(-1)).all(), c
