"""Colours of level panels and value panels agree with the catalog: the oracle is ``vitals.health.levels``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from grafana_testlib import dashboards_by_uid
from hypothesis import assume, given
from hypothesis import strategies as st

from vitals.catalog import Catalog
from vitals.catalog.model import LEVEL_COLOURS, LEVEL_NAMES, Indicator
from vitals.grafana import all_panel_queries, iter_panels
from vitals.grafana.panels import grafana_unit
from vitals.health.levels import warning_levels

COLOURS = [LEVEL_COLOURS[name] for name in LEVEL_NAMES]  # green, blue, yellow, orange, red
LEVEL_STEPS = [{"value": None, "color": "green"}, {"value": 1.0, "color": "blue"},
               {"value": 2.0, "color": "yellow"}, {"value": 3.0, "color": "orange"}, {"value": 4.0, "color": "red"}]


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return dashboards_by_uid()


def grafana_colour(steps: list[dict[str, Any]], value: float) -> str:
    """How Grafana picks a threshold colour: the last step whose value is at or below the value."""
    colour = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            colour = step["color"]
    return str(colour)


def level_of(catalog: Catalog, ind: Indicator, value: float) -> int:
    code = np.array([catalog.indicator_index[ind.id]], dtype=np.int16)
    return int(warning_levels(catalog, code, np.array([value]))[0])


def _level_mapped(panel: dict[str, Any]) -> bool:
    mappings = panel.get("fieldConfig", {}).get("defaults", {}).get("mappings") or []
    return any(m.get("options", {}).get("4", {}).get("color") == "red" for m in mappings)


def _wall_value_panels(boards: dict[str, dict[str, Any]], catalog: Catalog) -> dict[str, dict[str, Any]]:
    found = {}
    for panel in iter_panels(boards["city-domains"]):
        for target in panel.get("targets", []):
            if target.get("legendFormat") in catalog.indicator_index:
                found[target["legendFormat"]] = panel
    return found


def test_catalog_colours_are_the_four_warning_colours_plus_green() -> None:
    assert COLOURS == ["green", "blue", "yellow", "orange", "red"]


def test_every_level_panel_uses_the_catalog_level_colours(boards: dict[str, dict[str, Any]]) -> None:
    level_panels = [p for d in boards.values() for p in iter_panels(d) if _level_mapped(p)]
    assert len(level_panels) >= 8
    for panel in level_panels:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["thresholds"]["steps"] == LEVEL_STEPS, panel["title"]
        texts = {k: v["text"] for k, v in defaults["mappings"][0]["options"].items()}
        assert texts == {"0": "正常 Normal", "1": "蓝色 Blue", "2": "黄色 Yellow", "3": "橙色 Orange", "4": "红色 Red"}


def test_level_columns_of_tables_use_the_level_colours(boards: dict[str, dict[str, Any]]) -> None:
    columns = 0
    for d in boards.values():
        for panel in iter_panels(d):
            for o in panel.get("fieldConfig", {}).get("overrides", []):
                props = {p["id"]: p.get("value") for p in o["properties"]}
                if props.get("custom.cellOptions", {}).get("type") == "color-background":
                    assert props["thresholds"]["steps"] == LEVEL_STEPS
                    columns += 1
    assert columns == 3  # active and early warnings on the wall, active warnings in the district


def test_wall_value_panels_match_catalog_thresholds(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    panels = _wall_value_panels(boards, catalog)
    assert set(panels) == {i.id for i in catalog.indicators}
    for ind in catalog.indicators:
        panel = panels[ind.id]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        if ind.basis == "zscore":  # thresholds apply to a seasonal z-score: the panel shows the level instead
            assert steps == LEVEL_STEPS
            continue
        values = [s["value"] for s in steps[1:]]
        t = tuple(x * ind.display_factor for x in ind.thresholds.as_tuple())  # in the unit shown
        if ind.bad in {"up", "both"}:  # both: the panel shows |value - center|
            assert values == list(t), ind.id
            assert [s["color"] for s in steps] == COLOURS
        else:
            assert values == [math.nextafter(x, math.inf) for x in reversed(t)], ind.id
            assert [s["color"] for s in steps] == COLOURS[::-1]


def near(ind: Indicator, x: float) -> list[float]:
    """Values just either side of ``x``: the next floats for indicators shown in their base unit; a relative 1e-9
    for scaled ones (``value * factor`` may round two neighbouring floats onto the same shown value)."""
    if ind.display_factor == 1:
        return [math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]
    return [x * (1 + 1e-9), x * (1 - 1e-9)] if x else [1e-12, -1e-12]


def test_wall_value_colours_equal_warning_levels_at_the_thresholds(boards: dict[str, dict[str, Any]],
                                                                   catalog: Catalog) -> None:
    panels = _wall_value_panels(boards, catalog)
    for ind in (i for i in catalog.indicators if i.basis == "value"):
        steps = panels[ind.id]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        f = ind.display_factor
        for t in ind.thresholds.as_tuple():
            for x in (ind.center + t, ind.center - t, *near(ind, t)):
                shown = abs(x - ind.center) * f if ind.bad == "both" else x * f
                assert grafana_colour(steps, shown) == COLOURS[level_of(catalog, ind, x)], (ind.id, x)


# Units people read, as the issue asked for them, and Grafana's ids for them.
EXPECTED_UNITS = {"pm25": "conμgm3", "expressway_speed": "velocitykmh", "water_chlorine": "suffix:mg/L",
                  "rainfall_1h": "suffix:mm", "underpass_ponding": "suffix:cm", "metro_load": "percent",
                  "tunnel_co": "ppm", "air_temperature": "celsius", "water_pressure": "suffix:MPa"}


def test_value_panels_show_the_units_people_read(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    panels = _wall_value_panels(boards, catalog)
    detail = _detail_overrides(boards)
    for ind in catalog.indicators:
        if ind.basis == "zscore":  # a level tile: no unit
            continue
        unit = panels[ind.id]["fieldConfig"]["defaults"]["unit"]
        assert unit == grafana_unit(ind), ind.id
        assert all(overrides[ind.id]["unit"] == unit for overrides in detail), ind.id
        if ind.id in EXPECTED_UNITS:
            assert unit == EXPECTED_UNITS[ind.id], ind.id
        expr = panels[ind.id]["targets"][0]["expr"]
        assert expr.endswith(f" * {ind.display_factor:.15g}") == (ind.display_factor != 1), (ind.id, expr)
        assert ind.shown_unit in panels[ind.id]["description"]
    assert {i.id for i in catalog.indicators if i.display_factor != 1} == {
        "expressway_speed", "rainfall_1h", "underpass_ponding", "pm25"}


def test_indicator_detail_values_are_scaled_like_the_overrides(boards: dict[str, dict[str, Any]],
                                                               catalog: Catalog) -> None:
    exprs = [e for _, title, e in all_panel_queries([boards["indicator-detail"]]) if "__name__" in e]
    assert exprs
    for expr in exprs:
        for ind in (i for i in catalog.indicators if i.display_factor != 1):
            assert f'label_replace(vector({ind.display_factor:.15g}), "indicator", "{ind.id}", "", "")' in expr


def _detail_overrides(boards: dict[str, dict[str, Any]]) -> list[dict[str, dict[str, Any]]]:
    """Per value panel of the indicator detail: indicator id -> its override properties."""
    out = []
    for panel in iter_panels(boards["indicator-detail"]):
        found = {o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                 for o in panel.get("fieldConfig", {}).get("overrides", []) if o["matcher"]["id"] == "byName"}
        if "water_pressure" in found:
            out.append(found)
    return out


def test_indicator_detail_overrides_cover_the_catalog(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    per_panel = _detail_overrides(boards)
    assert len(per_panel) == 3  # current value, value and band, forecast
    for overrides in per_panel:
        for ind in catalog.indicators:
            props = overrides[ind.id]
            assert props["displayName"] == f"{ind.name_zh} {ind.name_en}"
            assert ("thresholds" in props) == (ind.basis == "value")


@given(st.data())
def test_indicator_detail_colours_equal_warning_levels(boards: dict[str, dict[str, Any]], catalog: Catalog,
                                                       data: st.DataObject) -> None:
    overrides = _detail_overrides(boards)[0]
    ind = data.draw(st.sampled_from([i for i in catalog.indicators if i.basis == "value"]))
    at = st.sampled_from([ind.center + s * t for t in ind.thresholds.as_tuple() for s in (-1, 1)])
    value = data.draw(st.one_of(st.floats(ind.valid_min, ind.valid_max, allow_nan=False), at,
                                at.flatmap(lambda v: st.sampled_from(near(ind, v)))))
    if ind.display_factor != 1:  # keep clear of the last-digit rounding of value * factor (see near)
        edges = [ind.center + s * t for t in ind.thresholds.as_tuple() for s in (-1, 1)]
        assume(value in edges or all(abs(value - e) > 1e-10 * max(abs(e), 1e-9) for e in edges))
    steps = overrides[ind.id]["thresholds"]["steps"]
    shown = value * ind.display_factor
    assert grafana_colour(steps, shown) == COLOURS[level_of(catalog, ind, value)], (ind.id, value)
