"""A catalog of one's own city: listed areas, partial thresholds, time zone, flat-is-normal, one-pass errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from vitals_testing import SECOND_CITY

from vitals.catalog import load_catalog, parse_catalog
from vitals.cli import main as cli_main
from vitals.errors import CatalogError
from vitals.health.hysteresis import LevelRules
from vitals.health.levels import warning_levels
from vitals.health.series_quality import stuck_flags

TS = np.full(3, 1_700_000_000 * 10**9, dtype=np.int64)


def _doc() -> dict[str, Any]:
    return yaml.safe_load(SECOND_CITY.read_text(encoding="utf-8"))


def _problems(doc: Any, **kw: Any) -> str:
    with pytest.raises(CatalogError) as err:
        parse_catalog(doc, source="mine.yaml", **kw)
    return str(err.value)


def test_listed_stations_keep_their_ids_names_and_coordinates():
    c = load_catalog(SECOND_CITY)
    assert [s.id for s in c.streets] == ["RIB-01", "RIB-02", "ALT-01", "ALT-02", "porto_novo_s001",
                                         "porto_novo_s002"]
    well = c.streets[c.street_index["ALT-02"]]
    assert (well.name_zh, well.name_en, well.lat, well.lon, well.district_id) == (
        "Largo do Poço", "Well Square", 38.743, -9.149, "alto")
    assert c.districts[1].name_en == "Upper Town" and c.districts[0].listed and not c.districts[2].listed
    assert c.city.timezone == "Europe/Lisbon" and c.city.timezone_offset_hours == 0.0


def test_streets_total_cannot_rescale_listed_streets():
    assert "cannot apply: this catalog lists its streets" in _problems(_doc(), streets_total=40)


def test_levels_with_only_orange_and_red():
    c = load_catalog(SECOND_CITY)
    river = np.full(3, c.indicator_index["river_level"])
    assert warning_levels(c, river, np.array([5.0, 7.0, 9.0]), TS).tolist() == [0, 3, 4]
    pressure = np.full(3, c.indicator_index["water_pressure"])
    assert warning_levels(c, pressure, np.array([3.0, 1.2, 0.5]), TS).tolist() == [0, 3, 4]
    noise = np.full(3, c.indicator_index["street_noise"])
    assert warning_levels(c, noise, np.array([20.0, 100.0, 140.0]), TS).tolist() == [0, 0, 0]
    rules = LevelRules(c)
    raw, lowered = rules.raw_and_lowered(river, np.array([6.5, 6.45, 6.3]))
    assert raw.tolist() == [3, 0, 0] and lowered.tolist() == [3, 3, 0]  # margin: 5 % of the 1.5 m gap


def test_flat_is_normal_keeps_a_run_of_zeros_from_looking_stuck():
    c = load_catalog(SECOND_CITY)
    rain, river = c.indicator_index["rainfall_10m"], c.indicator_index["river_level"]
    flat = c.flat_normal_array[[rain, rain, river]]
    day = 86_400 * 10**9
    got = stuck_flags(np.full(3, day), np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64),
                      np.full(3, 600.0), last=np.array([0.0, 2.0, 3.0]), flat_normal=flat)
    assert got.tolist() == [0.0, 1.0, 1.0]


def test_without_seasonality_the_expectation_is_flat_below_the_first_threshold():
    rain = load_catalog(SECOND_CITY).indicator("rainfall_10m")
    assert rain.seasonality.profile == "flat" and rain.seasonality.base == 5.0 and rain.flat_normal == "zero"
    assert rain.metric == "vitals_rainfall_10m" and rain.weight == 1.0 and rain.basis == "value"


def test_every_mistake_in_one_pass():
    doc = _doc()
    doc["colour"] = "blue"
    doc["city"]["timezone"] = "Mars/Olympus"
    del doc["indicators"][0]["unit"]
    doc["indicators"][0]["bad"] = "sideways"
    doc["indicators"][1]["thresholds"] = {"orange": 8, "red": 6.5}
    doc["indicators"][2]["flat_is_normal"] = "sometimes"
    doc["indicators"][5]["seasonality"].pop("noise")
    doc["areas"]["districts"][0]["stations"][1]["lat"] = 123
    doc["areas"]["districts"][1]["streets"][0]["id"] = "RIB-01"
    doc["areas"]["districts"][2]["streets_count"] = 3
    text = _problems(doc)
    for expected in (
        "<top>: unknown section(s) colour",
        "city: `timezone` 'Mars/Olympus' is not an IANA time zone",
        "indicators[0] (air_no2): missing field(s) unit",
        "indicators[0] (air_no2): `bad` must be up, down or both",
        "indicators[1] (river_level): thresholds out of order (orange=8, red=6.5)",
        "indicators[2] (rainfall_10m): `flat_is_normal` must be false, true",
        "indicators[5] (heat): `seasonality` is missing noise",
        "areas.districts[0] (ribeira).streets[1] (RIB-02): `lat` must be within [-90, 90]",
        "areas (street ids): duplicate id 'RIB-01'",
        "areas.districts[2] (porto_novo): unknown field(s) streets_count",
    ):
        assert expected in text, (expected, text)
    assert "mine.yaml has 10 problem(s)" in text


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["city"].update(timezone_offset_hours=3), "does not match timezone Europe/Lisbon"),
    (lambda d: d["city"].pop("timezone"), "missing field `timezone`"),
    (lambda d: d["indicators"][5].pop("seasonality"), "basis zscore needs a `seasonality`"),
    (lambda d: d["indicators"][0].update(thresholds={"orange": 2000}), "lie outside valid_range"),
    (lambda d: d["areas"]["districts"][2].update(stations=[]), "either `streets`"),
    (lambda d: d["areas"]["districts"][0].update(stations=[]), "non-empty list of streets"),
    (lambda d: d["areas"]["districts"][0]["stations"].append({"id": "x y", "name": "?", "lat": 1, "lon": 1}),
     "`id` must be letters, digits"),
    (lambda d: [d["indicators"][0].pop(k) for k in ("name", "name_en")], "needs a name"),
])
def test_single_mistakes(mutate, expected):
    doc = copy.deepcopy(_doc())
    mutate(doc)
    assert expected in _problems(doc)


def test_cli_check_and_show(capsys):
    assert cli_main(["catalog", "check", str(SECOND_CITY)]) == 0
    assert "OK (6 indicators in 5 domains, 3 districts, 6 streets, 36 series)" in capsys.readouterr().out
    assert cli_main(["catalog", "show", "--catalog", str(SECOND_CITY)]) == 0
    assert "river_level" in capsys.readouterr().out
    assert cli_main(["catalog", "show", "--catalog", str(SECOND_CITY), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # strict JSON: no NaN for the levels not set
    assert doc["indicators"][1]["thresholds"] == {"orange": 6.5, "red": 8.0}


def test_alerts_and_dashboards_build_for_the_second_city(tmp_path: Path, capsys):
    assert cli_main(["alerts", "build", "--catalog", str(SECOND_CITY), "--out", str(tmp_path / "a")]) == 0
    rules = (tmp_path / "a" / "prometheus").rglob("*.yml")
    text = "\n".join(p.read_text(encoding="utf-8") for p in rules)
    assert "vila_serena" in text or "RIB-01" in text
    assert "nan" not in text.lower().replace("name", "")
    assert cli_main(["dashboards", "build", "--catalog", str(SECOND_CITY), "--out", str(tmp_path / "d")]) == 0
    dash = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "d").rglob("*.json"))
    assert "Cais do Sodré" in dash or "Ribeira" in dash
    assert "NaN" not in dash


def test_the_documented_example_is_a_valid_catalog():
    from vitals_testing import REPO

    text = (REPO / "docs" / "catalog.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    c = parse_catalog(yaml.safe_load(example), source="docs/catalog.md")
    assert [s.id for s in c.streets][:3] == ["NO-0301-001", "NO-0301-002", "grorud_torg"]
    assert c.n_streets == 7 and c.city.timezone == "Europe/Oslo" and c.city.timezone_offset_hours == 1.0
    assert not c.indicator("ferry_queue").thresholds.given()
    assert c.indicator("snowfall_10m").flat_normal == "zero"


def test_seasonality_follows_daylight_saving_time():
    """Lisbon: UTC+0 in winter, UTC+1 in summer; the commute profile peaks at 8:00 local time in both."""
    import pandas as pd

    from vitals.catalog import SeasonalModel
    from vitals.catalog.seasonality import local_time

    c = load_catalog(SECOND_CITY)
    seasonal = SeasonalModel(c)
    no2 = c.indicator_index["air_no2"]  # commute profile, weekdays
    for day, peak_utc in (("2026-01-14", 8), ("2026-07-15", 7)):
        minutes = pd.date_range(f"{day}T05:00Z", f"{day}T11:00Z", freq="1min").as_unit("ns").asi8
        expected = seasonal.expected(np.full(minutes.size, no2), minutes)
        assert pd.Timestamp(minutes[int(np.argmax(expected))], tz="UTC").hour == peak_utc
    switch = pd.to_datetime(["2026-03-29T00:59Z", "2026-03-29T01:00Z", "2026-10-25T00:59Z", "2026-10-25T01:00Z"])
    assert local_time("Europe/Lisbon").offset_s(switch.as_unit("ns").asi8).tolist() == [0, 3600, 3600, 0]
    shanghai = local_time("Asia/Shanghai").offset_s(pd.date_range("2000", "2090", freq="97D").as_unit("ns").asi8)
    assert (shanghai == 8 * 3600).all()  # the model city: no daylight saving, as before


def test_a_key_given_twice_is_refused_not_the_last_one_kept(tmp_path: Path, capsys):
    """A second ``thresholds:`` line in an entry (or any key twice in one mapping) replaced the first without a
    word: here the red threshold alone would stand, the orange one gone. Now one line naming both lines."""
    lines = SECOND_CITY.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(k for k, line in enumerate(lines) if line.lstrip().startswith("thresholds:"))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    edited = tmp_path / "city.yaml"
    edited.write_text("".join([*lines[: at + 1], f"{indent}thresholds: {{red: 9}}\n", *lines[at + 1:]]),
                      encoding="utf-8")
    with pytest.raises(CatalogError, match=rf"found the key 'thresholds' a second time \(first at line {at + 1}\) "
                                           rf"at line {at + 2}, column {len(indent) + 1}") as err:
        load_catalog(edited)
    assert "\n" not in str(err.value)
    assert cli_main(["catalog", "check", str(edited)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
