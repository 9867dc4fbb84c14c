"""Structure of the generated dashboards: uids, datasource references, variables, metric and label names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from grafana_testlib import dashboards_by_uid, default_bundle

from vitals import metric_names
from vitals.catalog import Catalog
from vitals.grafana import DATASOURCE_UID, GrafanaBundle, all_panel_queries, iter_panels, variables_in
from vitals.grafana.introspect import GRAFANA_BUILTINS, dashboard_variables

EXPECTED_UIDS = ["city-wall", "district", "indicator-detail", "pipeline-health"]
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
    ("city-wall", []), ("district", ["district"]), ("indicator-detail", ["indicator", "district", "area"]),
    ("pipeline-health", []),
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
    for words in ("City health", "District warning levels", "Districts by warning level", "Active warnings",
                  "Early warnings", "Top anomalies"):
        assert words in titles
    rows = [p["title"] for p in iter_panels(boards["city-wall"]) if p["type"] == "row"]
    for domain in ("Water", "Power", "Gas", "Telecom", "Roads", "Bridges", "Tunnels", "Rail"):
        assert any(domain in r for r in rows), domain
    assert len(rows) == len(catalog.domain_names)
    assert [p["type"] for p in iter_panels(boards["city-wall"])].count("geomap") == 1


def test_every_indicator_has_a_wall_panel(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    exprs = " ".join(e for _, _, e in all_panel_queries([boards["city-wall"]]))
    for ind in catalog.indicators:
        assert f'indicator="{ind.id}"' in exprs, ind.id


def test_district_tiles_name_every_district(boards: dict[str, dict[str, Any]], catalog: Catalog) -> None:
    tiles = next(p for p in iter_panels(boards["city-wall"]) if "District warning levels" in p["title"])
    names = {o["matcher"]["options"]: o["properties"][0]["value"] for o in tiles["fieldConfig"]["overrides"]}
    assert names == {d.id: f"{d.name_zh} {d.name_en}" for d in catalog.districts}
    assert len(names) == 38
    assert "var-district=${__field.labels.district}" in tiles["fieldConfig"]["defaults"]["links"][0]["url"]


def test_map_places_every_district_at_its_catalog_coordinates(boards: dict[str, dict[str, Any]],
                                                              catalog: Catalog) -> None:
    geo = next(p for p in iter_panels(boards["city-wall"]) if p["type"] == "geomap")
    expr = geo["targets"][0]["expr"]
    for d in catalog.districts:
        place = (f'"district", "{d.id}", "", ""), "name", "{d.name_zh} {d.name_en}", "", ""), '
                 f'"lat", "{d.lat:g}", "", ""), "lon", "{d.lon:g}", "", "")')
        assert place in expr, d.id
    layer = geo["options"]["layers"][0]
    assert layer["location"] == {"mode": "coords", "latitude": "lat", "longitude": "lon"}
    assert geo["transformations"][0]["id"] == "convertFieldType"


def test_provisioning_provider_points_at_each_folder(bundle: GrafanaBundle) -> None:
    text = bundle.files["provisioning/dashboards/city-vitals.yaml"]
    for folder in bundle.folders:
        assert f"folderUid: {folder.uid}" in text
        assert f"/var/lib/grafana/dashboards/city-vitals/{folder.directory}" in text
        assert any(path.startswith(f"dashboards/{folder.directory}/") for path in bundle.files)
