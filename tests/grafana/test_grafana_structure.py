"""Structure of the generated dashboards: uids, datasource references, variables, metric and label names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from grafana_testlib import dashboards_by_uid, default_bundle

from vitals import metric_names
from vitals.catalog import Catalog
from vitals.grafana import DATASOURCE_UID, GrafanaBundle, all_panel_queries, iter_panels, variables_in
from vitals.grafana.cartogram import short_name_zh, tile_grid
from vitals.grafana.introspect import GRAFANA_BUILTINS, dashboard_variables
from vitals.grafana.wall import SCREEN_PX, WALL_ROWS, rows_px

TILE_LAYERS = {"default", "carto", "osm-standard", "esri-xyz", "xyz", "xyz-tile-layer"}
EXPECTED_UIDS = ["city-wall", "city-domains", "district", "indicator-detail", "pipeline-health"]
CONTRACT_METRICS = {v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)
                    and v.startswith("vitals_")}
HISTOGRAMS = {metric_names.BATCH_SECONDS}
# Label conventions of vitals.metric_names plus those of its families (level, bound) and PromQL's own.
LABELS = {"indicator", "domain", "district", "street", "scope", "window", "stat", "horizon", "reason", "family",
          "version", "detector", "feature", "worker", "level", "bound", "partition", "__name__", "le"}
_METRIC = re.compile(r"\bvitals_[a-z0-9_]+\b")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")


@pytest.fixture(scope="module")
def bundle() -> GrafanaBundle:
    return default_bundle()


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return dashboards_by_uid()


def _panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in iter_panels(d) if p["type"] != "row"]


def test_four_dashboards_with_fixed_unique_uids(bundle: GrafanaBundle) -> None:
    uids = [d["uid"] for d in bundle.dashboards]
    assert uids == EXPECTED_UIDS
    assert len(set(uids)) == len(uids)


def test_titles_are_bilingual(bundle: GrafanaBundle) -> None:
    for d in bundle.dashboards:
        assert re.search(r"[\u4e00-\u9fff].* / [A-Za-z]", d["title"]), d["title"]
        for panel in iter_panels(d):
            assert re.search(r"[\u4e00-\u9fff].* / .*[A-Za-z]", panel["title"]), (d["uid"], panel["title"])


def test_panel_ids_unique_and_grid_within_24_columns(bundle: GrafanaBundle) -> None:
    for d in bundle.dashboards:
        ids = [p["id"] for p in iter_panels(d)]
        assert len(ids) == len(set(ids)) and 0 not in ids
        for panel in iter_panels(d):
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24 and pos["w"] > 0 and pos["h"] > 0, (panel["title"], pos)


def test_no_two_panels_overlap(bundle: GrafanaBundle) -> None:
    for d in bundle.dashboards:
        cells: dict[tuple[int, int], str] = {}
        for panel in iter_panels(d):
            pos = panel["gridPos"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{d['uid']}: {panel['title']} overlaps {cells.get((x, y))}"
                    cells[(x, y)] = panel["title"]


def test_every_panel_and_query_uses_the_fixed_datasource(bundle: GrafanaBundle) -> None:
    for d in bundle.dashboards:
        for panel in _panels(d):
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
            assert panel["targets"], f"{d['uid']}: {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == DATASOURCE_UID
                assert target["expr"].strip()
        for variable in d.get("templating", {}).get("list", []):
            assert variable["datasource"]["uid"] == DATASOURCE_UID


def test_ref_ids_unique_within_each_panel(bundle: GrafanaBundle) -> None:
    for d in bundle.dashboards:
        for panel in _panels(d):
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)) and all(refs), panel["title"]


def test_the_datasource_has_the_fixed_uid(bundle: GrafanaBundle) -> None:
    assert bundle.datasource["uid"] == DATASOURCE_UID
    assert bundle.datasource["type"] == "prometheus"
    assert f"uid: {DATASOURCE_UID}" in bundle.files["provisioning/datasources/city-vitals.yaml"]


@pytest.mark.parametrize(("uid", "names"), [
    ("city-wall", []), ("city-domains", []), ("district", ["district"]),
    ("indicator-detail", ["indicator", "district", "area"]), ("pipeline-health", []),
])
def test_variables_exist_and_are_used(boards: dict[str, dict[str, Any]], uid: str, names: list[str]) -> None:
    d = boards[uid]
    variables = dashboard_variables(d)
    assert list(variables) == names
    used: set[str] = set()
    texts = [expr for _, _, expr in all_panel_queries([d])] + list(variables.values())
    for text in texts:
        used |= variables_in(text)
    assert used - set(GRAFANA_BUILTINS) <= set(variables), f"undefined variables in {uid}"
    panel_exprs = " ".join(expr for _, _, expr in all_panel_queries([d]))
    for name in names:
        assert f"${name}" in panel_exprs, f"variable {name} of {uid} is used by no panel"


def test_variable_queries_use_label_values(boards: dict[str, dict[str, Any]]) -> None:
    for uid in ("district", "indicator-detail"):
        for name, query in dashboard_variables(boards[uid]).items():
            assert query.startswith("label_values("), (uid, name, query)


def test_wall_is_kiosk_friendly(boards: dict[str, dict[str, Any]]) -> None:
    wall = boards["city-wall"]
    assert wall["refresh"] == "10s"
    assert not dashboard_variables(wall)
    assert wall["editable"] is False
    assert wall["timepicker"]["hidden"] is True


def test_only_contract_and_catalog_metrics(bundle: GrafanaBundle, catalog: Catalog) -> None:
    allowed = CONTRACT_METRICS | {i.metric for i in catalog.indicators} | {f"{h}_bucket" for h in HISTOGRAMS}
    texts = [expr for _, _, expr in all_panel_queries(bundle.dashboards)]
    texts += [q for d in bundle.dashboards for q in dashboard_variables(d).values()]
    for text in texts:
        unknown = set(_METRIC.findall(text)) - allowed
        assert not unknown, f"{unknown} not in vitals.metric_names or the catalog: {text[:100]}"


def test_only_contract_labels(bundle: GrafanaBundle) -> None:
    for uid, title, expr in all_panel_queries(bundle.dashboards):
        no_constants = re.sub(r'label_replace\(.*?""\)', "", expr)  # the map's constant place labels
        unknown = set(_MATCHER.findall(no_constants)) - LABELS
        assert not unknown, (uid, title, unknown)


def test_value_selector_names_exactly_the_catalog_metrics(boards: dict[str, dict[str, Any]],
                                                          catalog: Catalog) -> None:
    exprs = [e for _, _, e in all_panel_queries([boards["indicator-detail"]]) if "__name__" in e]
    assert exprs
    for expr in exprs:
        names = re.search(r'__name__=~"([^"]+)"', expr)
        assert names is not None
        assert set(names.group(1).split("|")) == {i.metric for i in catalog.indicators}


def test_wall_has_the_required_panels(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    titles = " | ".join(p["title"] for p in iter_panels(boards["city-wall"]))
    for words in ("City health", "City warning level", "Districts by warning level", "Streets by warning level",
                  "Risk map", "District warning levels", "Active warnings", "Early warnings"):
        assert words in titles
    types = [p["type"] for p in iter_panels(boards["city-wall"])]
    assert "row" not in types and types.count("canvas") == 1 and "geomap" not in types


def test_domain_detail_is_on_the_second_screen(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    domains = boards["city-domains"]
    rows = [p["title"] for p in iter_panels(domains) if p["type"] == "row"]
    for domain in ("Water", "Power", "Gas", "Telecom", "Roads", "Bridges", "Tunnels", "Rail"):
        assert any(domain in r for r in rows), domain
    assert len(rows) == len(catalog.domain_names)
    titles = " | ".join(p["title"] for p in iter_panels(domains))
    assert "Top anomalies" in titles and "Warnings over time" in titles
    links = [link["url"] for link in boards["city-wall"]["links"]]
    assert "/d/city-domains" in links


def test_every_indicator_has_a_domain_panel(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    exprs = " ".join(e for _, _, e in all_panel_queries([boards["city-domains"]]))
    for ind in catalog.indicators:
        assert f'indicator="{ind.id}"' in exprs, ind.id


def test_district_tiles_name_every_district(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    tiles = next(p for p in iter_panels(boards["city-wall"]) if "District warning levels" in p["title"])
    names = {o["matcher"]["options"]: o["properties"][0]["value"] for o in tiles["fieldConfig"]["overrides"]}
    assert names == {d.id: f"{d.name_zh} {d.name_en}" for d in catalog.districts}
    assert len(names) == 38
    assert "var-district=${__field.labels.district}" in tiles["fieldConfig"]["defaults"]["links"][0]["url"]
    assert tiles["targets"][0]["expr"].startswith("sort_desc(")


# ---- the wall on one 1920x1080 kiosk screen ---------------------------------------------------------------------
def test_wall_fits_one_1080p_kiosk_screen(boards: dict[str, dict[str, Any]]) -> None:
    """Grafana 11 grid: 24 columns over the screen width; a row is 30 px, 8 px between rows, so ``h`` rows take
    ``38 h - 8`` px. 26 rows = 980 px, which leaves 100 px of 1080 for the kiosk page padding (Grafana pads the
    dashboard by about 16-24 px on each side); kiosk mode does not scroll, so nothing may sit below it."""
    panels = list(iter_panels(boards["city-wall"]))
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    assert bottom <= WALL_ROWS
    assert rows_px(WALL_ROWS) == 980 and rows_px(WALL_ROWS) + 2 * 24 <= SCREEN_PX[1]
    assert rows_px(WALL_ROWS + 2) + 2 * 24 > SCREEN_PX[1]  # two rows more would not fit
    column_px = SCREEN_PX[0] / 24
    for panel in panels:
        pos = panel["gridPos"]
        assert not panel.get("collapsed") and panel["type"] != "row"
        assert pos["w"] * column_px >= 230 and rows_px(pos["h"]) >= 140, (panel["title"], pos)  # readable at 3 m
    # the top of the screen: city health and level first, the map and warnings above the fold
    first = sorted(panels, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    assert "City health" in first[0]["title"] and "City warning level" in first[1]["title"]


def test_wall_tables_show_names_not_ids_or_scrape_labels(boards: dict[str, dict[str, Any]]) -> None:
    tables = [(uid, p) for uid in ("city-wall", "city-domains", "district") for p in iter_panels(boards[uid])
              if p["type"] == "table" and "Planned works" not in p["title"]]
    assert len(tables) == 5
    works = next(p for p in iter_panels(boards["district"]) if "Planned works" in p["title"])  # works, not series
    organize = next(t["options"] for t in works["transformations"] if t["id"] == "organize")
    assert {"instance", "job", "district", "__name__"} <= {k for k, v in organize["excludeByName"].items() if v}
    assert organize["renameByName"]["works"] == "施工 / Works"
    for uid, table in tables:
        organize = next(t["options"] for t in table["transformations"] if t["id"] == "organize")
        hidden = {k for k, v in organize["excludeByName"].items() if v}
        assert {"instance", "job", "indicator", "district", "street", "domain", "__name__"} <= hidden, uid
        assert organize["renameByName"]["place"] == "地点 / Place"
        assert organize["renameByName"]["indicator_name"] == "指标 / Indicator"
        assert all("indicator_name" in t["expr"] and "place" in t["expr"] for t in table["targets"][:1])
    for table in (p for d in boards.values() for p in iter_panels(d) if p["type"] == "table"):
        organize = next(t["options"] for t in table["transformations"] if t["id"] == "organize")
        assert organize["excludeByName"].get("instance") and organize["excludeByName"].get("job"), table["title"]


# ---- the risk map works offline ---------------------------------------------------------------------------------
def test_risk_map_is_a_cartogram_with_one_tile_per_district(boards: dict[str, dict[str, Any]],
                                                           catalog: Catalog) -> None:
    canvas = next(p for p in iter_panels(boards["city-wall"]) if p["type"] == "canvas")
    elements = canvas["options"]["root"]["elements"]
    assert [e["name"] for e in elements] == [d.id for d in catalog.districts]
    assert canvas["targets"][0]["legendFormat"] == "{{district}}"
    assert canvas["fieldConfig"]["defaults"]["color"]["mode"] == "thresholds"
    boxes = []
    for e, d in zip(elements, catalog.districts, strict=True):
        assert e["background"]["color"]["field"] == d.id          # coloured by the district's own level
        assert d.name_en in e["config"]["text"]["fixed"] and short_name_zh(d.name_zh) in e["config"]["text"]["fixed"]
        assert e["constraint"] == {"horizontal": "scale", "vertical": "scale"}
        place = e["placement"]
        left, right, top, bottom = place["left"], 100 - place["right"], place["top"], 100 - place["bottom"]
        assert 0 <= left < right <= 100 and 0 <= top < bottom <= 100
        boxes.append((left, right, top, bottom))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], (a, b)  # no two tiles overlap


def test_cartogram_keeps_the_geography(catalog: Catalog) -> None:
    tiles = {t.district: t for t in tile_grid(catalog)}
    assert len({(t.column, t.row) for t in tiles.values()}) == len(catalog.districts)
    west, east = tiles["dazu"], tiles["wushan"]
    north, south = tiles["chengkou"], tiles["xiushan"]
    assert west.column < tiles["yuzhong"].column < east.column
    assert north.row < tiles["yuzhong"].row < south.row
    central = ["yuzhong", "jiangbei", "nanan", "shapingba", "jiulongpo", "dadukou"]  # within ~0.15 degrees
    cells = [(tiles[d].column, tiles[d].row) for d in central]
    assert len(set(cells)) == 6 and max(c for c, _ in cells) - min(c for c, _ in cells) <= 3


def test_no_map_needs_online_tiles(boards: dict[str, dict[str, Any]]) -> None:
    maps = [p for d in boards.values() for p in iter_panels(d) if p["type"] == "geomap"]
    assert len(maps) == 1  # the streets of the district drill-down
    for geo in maps:
        base = geo["options"]["basemap"]
        assert base["type"] == "geojson" and base["config"]["src"].startswith("public/maps/")  # served by Grafana
        assert all(layer["type"] not in TILE_LAYERS for layer in geo["options"]["layers"])
        layer = geo["options"]["layers"][0]
        assert layer["location"] == {"mode": "coords", "latitude": "lat", "longitude": "lon"}
        assert geo["transformations"][0]["id"] == "convertFieldType"
        assert 'vitals_area_info{scope="street"' in geo["targets"][0]["expr"]


def test_provisioning_provider_points_at_each_folder(bundle: GrafanaBundle) -> None:
    text = bundle.files["provisioning/dashboards/city-vitals.yaml"]
    for folder in bundle.folders:
        assert f"folderUid: {folder.uid}" in text
        assert f"/var/lib/grafana/dashboards/city-vitals/{folder.directory}" in text
        assert any(path.startswith(f"dashboards/{folder.directory}/") for path in bundle.files)
