"""The catalog: the default validates, every kind of mistake is reported, and fuzzed catalogs either
validate or raise CatalogError."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from vitals.catalog import DOMAINS, default_catalog_path, load_catalog, parse_catalog
from vitals.cli import main as cli_main
from vitals.errors import CatalogError, VitalsError
from vitals.health.levels import warning_levels


def _doc() -> dict[str, Any]:
    return yaml.safe_load(default_catalog_path().read_text(encoding="utf-8"))


def test_default_catalog_validates(catalog):
    assert catalog.n_indicators >= 25
    assert {i.domain for i in catalog.indicators} == set(DOMAINS)
    assert len(catalog.districts) == 38
    assert catalog.n_streets == 1031
    assert catalog.n_series >= 28_000
    assert len({s.id for s in catalog.streets}) == catalog.n_streets
    ids = {d.id for d in catalog.districts}
    assert {"yuzhong", "wanzhou", "jiangbei", "youyang"} <= ids
    for d in catalog.districts:
        assert 28 < d.lat < 33 and 105 < d.lon < 111, d


def test_street_count_is_configurable():
    c = load_catalog(streets_total=100)
    assert c.n_streets == 100
    assert len({s.district_id for s in c.streets}) == 38


def _problems(doc: Any) -> str:
    with pytest.raises(CatalogError) as err:
        parse_catalog(doc, source="test.yaml")
    return str(err.value)


def test_each_kind_of_mistake_is_reported_all_at_once():
    doc = _doc()
    doc["indicators"][0]["domain"] = "Weather Magic"
    doc["indicators"][1]["thresholds"] = {"blue": 10, "yellow": 35, "orange": 20, "red": 50}
    doc["indicators"][2]["id"] = doc["indicators"][3]["id"]
    del doc["indicators"][4]["unit"]
    doc["areas"]["districts"][0]["lat"] = "north"
    text = _problems(doc)
    assert "test.yaml" in text and "5 problem(s)" in text
    assert "indicators[0] (traffic_index): `domain` must be lower-case letters" in text
    assert "indicators[1] (expressway_speed): thresholds out of order" in text
    assert "strictly decreasing" in text
    assert "duplicate id 'metro_load'" in text
    assert "indicators[4] (station_entries_deviation): missing field(s) unit" in text
    assert "areas.districts[0] (wanzhou): `lat` must be a number" in text


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d.pop("indicators"), "missing section `indicators`"),
    (lambda d: d["indicators"][0].update(bad="sideways"), "`bad` must be up, down or both"),
    (lambda d: d["indicators"][0].update(metric="traffic_total"), "`metric` must match"),
    (lambda d: d["indicators"][0].update(valid_range=[10, 0]), "valid_range min 10 must be below max 0"),
    (lambda d: d["indicators"][0].update(cadence_s=-5), "`cadence_s` must be a whole number >= 1"),
    (lambda d: d["indicators"][0]["thresholds"].update(purple=3), "unknown level(s) purple"),
    (lambda d: d["indicators"][0]["seasonality"].update(profile="lunar"), "profile 'lunar' is unknown"),
    (lambda d: d["indicators"][0].update(colour="x"), "unknown field(s) colour"),
    (lambda d: d["indicators"][0]["thresholds"].update(red=80), "lie outside valid_range"),
    (lambda d: d["areas"]["districts"].append(dict(d["areas"]["districts"][0])), "duplicate id 'wanzhou'"),
])
def test_single_mistakes(mutate, expected):
    doc = _doc()
    mutate(doc)
    assert expected in _problems(doc)


def test_unreadable_files(tmp_path: Path):
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators: [unclosed")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad)


def test_cli_check_reports_problems(tmp_path: Path, capsys):
    doc = _doc()
    doc["indicators"][0]["domain"] = "No pe"
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(doc, allow_unicode=True))
    assert cli_main(["catalog", "check", str(f)]) == 1
    assert "`domain` must be lower-case" in capsys.readouterr().err
    assert cli_main(["catalog", "check", str(default_catalog_path())]) == 0
    assert "OK (28 indicators" in capsys.readouterr().out


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=8))


@given(st.data())
def test_fuzzed_catalogs_validate_or_raise_vitals_error(data):
    doc = _doc()
    doc["indicators"] = doc["indicators"][:3]
    doc["areas"]["districts"] = doc["areas"]["districts"][:3]
    for _ in range(data.draw(st.integers(1, 4))):
        section = data.draw(st.sampled_from(["indicators", "districts"]))
        items = doc["indicators"] if section == "indicators" else doc["areas"]["districts"]
        item = items[data.draw(st.integers(0, len(items) - 1))]
        key = data.draw(st.sampled_from(sorted(item)))
        item[key] = data.draw(_scalars)
    try:
        c = parse_catalog(copy.deepcopy(doc))
    except VitalsError:
        return
    assert c.n_indicators == 3


def test_levels_follow_thresholds(catalog):
    codes = np.arange(catalog.n_indicators)
    th = catalog.thresholds_array
    ts = np.full(codes.shape, 1_700_000_000 * 10**9, dtype=np.int64)
    value_only = ~catalog.zscore_array
    for level in range(4):
        v = th[:, level].copy()
        both = catalog.direction_array == 0
        v[both] = catalog.center_array[both] + th[both, level]
        got = warning_levels(catalog, codes, v, ts)
        assert (got[value_only] == level + 1).all(), (level, got)
    assert (warning_levels(catalog, codes, np.full(codes.shape, np.nan), ts) == 0).all()
