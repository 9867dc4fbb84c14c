"""The risk map that works offline: a tile-grid cartogram of the districts, generated from the catalog's
centroids and drawn by Grafana's canvas panel, one rectangle per district coloured by its warning level.

No shapes are shipped (no openly licensed district boundaries of the model city are available as a package or in
the repository) and no map tiles are fetched: the canvas panel renders from the dashboard JSON alone, so the wall
works on an isolated operations network. Centroid markers on a basemap overlapped (the six central districts
lie within ~0.15 degrees) and showed an empty map without tile servers.

The layout: centroids projected (longitude scaled by cos(latitude)), pulled towards the city center by a square
root of the distance (a fish-eye: the dense center gets more cells), scaled onto a ``columns x rows`` grid
(north up), then each district takes a free cell, the pairs (district, cell) taken in order of distance (ties
by catalog order), improved by swaps while the sum of squared distances falls: deterministic, one district
per cell, every district near its scaled position.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from grafana_foundation_sdk.builders import canvas
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import canvas as cm
from grafana_foundation_sdk.models import dashboard as dm

from vitals.catalog.model import Catalog, District
from vitals.grafana import panels as p
from vitals.grafana import queries as q

COLUMNS, ROWS = 9, 7          # 63 cells for 38 districts
GAP_PERCENT = 0.4             # space around each tile, in percent of the panel
NO_DATA_COLOUR = "#808080"
_SUFFIX = re.compile(r"(土家族|苗族)*自治县$|区$|县$")


@dataclass(frozen=True)
class Tile:
    district: str
    column: int
    row: int  # 0 = north


def short_name_zh(name: str) -> str:
    """渝中区 -> 渝中, 酉阳土家族苗族自治县 -> 酉阳; two-character names keep their suffix (忠县)."""
    short = _SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


def _positions(catalog: Catalog) -> list[tuple[float, float]]:
    """Fish-eye projected centroids, east and north, relative to the city center."""
    c = catalog.city
    scale = math.cos(math.radians(c.lat))
    out = []
    for d in catalog.districts:
        dx, dy = (d.lon - c.lon) * scale, d.lat - c.lat
        r = math.hypot(dx, dy)
        k = math.sqrt(r) / r if r > 0 else 0.0
        out.append((dx * k, dy * k))
    return out


def tile_grid(catalog: Catalog, columns: int = COLUMNS, rows: int = ROWS) -> list[Tile]:
    """One grid cell per district, in catalog order (see the module docstring for the layout)."""
    if columns * rows < len(catalog.districts):
        msg = f"a {columns} x {rows} grid has fewer cells than the {len(catalog.districts)} districts"
        raise ValueError(msg)
    pos = _positions(catalog)
    xs, ys = [x for x, _ in pos], [y for _, y in pos]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    scaled = [((x - min(xs)) / span_x * (columns - 1), (max(ys) - y) / span_y * (rows - 1)) for x, y in pos]
    pairs = sorted((math.hypot(sx - col, sy - row), i, col, row)
                   for i, (sx, sy) in enumerate(scaled) for col in range(columns) for row in range(rows))
    cell_of: dict[int, tuple[int, int]] = {}
    taken: set[tuple[int, int]] = set()
    for _, i, col, row in pairs:
        if i not in cell_of and (col, row) not in taken:
            cell_of[i] = (col, row)
            taken.add((col, row))
    _improve(cell_of, scaled, columns, rows)
    return [Tile(d.id, *cell_of[i]) for i, d in enumerate(catalog.districts)]


def _improve(cell_of: dict[int, tuple[int, int]], scaled: list[tuple[float, float]], columns: int, rows: int) -> None:
    """Swap two districts, or move one to a free cell, while that lowers the sum of squared distances."""
    def cost(i: int, cell: tuple[int, int]) -> float:
        return (scaled[i][0] - cell[0]) ** 2 + (scaled[i][1] - cell[1]) ** 2

    cells = [(col, row) for col in range(columns) for row in range(rows)]
    changed = True
    while changed:
        changed = False
        owner = {cell: i for i, cell in cell_of.items()}
        for i in sorted(cell_of):
            for cell in cells:
                j, mine = owner.get(cell), cell_of[i]
                before = cost(i, mine) + (cost(j, cell) if j is not None else 0.0)
                after = cost(i, cell) + (cost(j, mine) if j is not None else 0.0)
                if j != i and after < before - 1e-12:
                    cell_of[i] = cell
                    if j is not None:
                        cell_of[j] = mine
                    owner = {c: k for k, c in cell_of.items()}
                    changed = True


def _element(d: District, tile: Tile, columns: int, rows: int) -> canvas.CanvasElementOptions:
    left, top = 100 * tile.column / columns, 100 * tile.row / rows
    right, bottom = 100 - 100 * (tile.column + 1) / columns, 100 - 100 * (tile.row + 1) / rows
    placement = (canvas.Placement().left(round(left + GAP_PERCENT, 3)).right(round(right + GAP_PERCENT, 3))
                 .top(round(top + GAP_PERCENT, 3)).bottom(round(bottom + GAP_PERCENT, 3)))
    text = {"mode": "fixed", "fixed": f"{short_name_zh(d.name_zh)} {d.name_en}"}
    return (canvas.CanvasElementOptions().type("rectangle").name(d.id)
            .config({"text": text, "color": {"fixed": "#000000"}, "size": 12, "align": "center",
                     "valign": "middle"})
            .constraint(canvas.Constraint().horizontal(cm.HorizontalConstraint.SCALE)
                        .vertical(cm.VerticalConstraint.SCALE))
            .placement(placement)
            .background(canvas.BackgroundConfig().color(cb.ColorDimensionConfig().field(d.id).fixed(NO_DATA_COLOUR)))
            .border(canvas.LineConfig().color(cb.ColorDimensionConfig().fixed("transparent")).width(0)))


def risk_map(catalog: Catalog, *, h: int, w: int, link: str) -> canvas.Panel:
    """The canvas panel: a rectangle per district named in Chinese and English, coloured by the field of the
    same name (the district's area level, legend ``{{district}}``) through the level thresholds."""
    tiles = tile_grid(catalog)
    elements = [_element(d, t, COLUMNS, ROWS) for d, t in zip(catalog.districts, tiles, strict=True)]
    query = p.prom(q.area_level("district", by="district"), legend="{{district}}", instant=True)
    return (canvas.Panel().title(p.title("各区县风险图", "Risk map: districts by warning level"))
            .description("Tile-grid cartogram of the districts (one tile each, placed from the catalog centroids, "
                         "the dense center spread out); colour = district warning level. Works without map tiles.")
            .datasource(p.DATASOURCE).height(h).span(w).with_target(query)
            .thresholds(p.thresholds(p.level_steps())).mappings(p.level_mappings())
            .color_scheme(dash.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .data_links([dash.DashboardLink(p.title("区县详情", "District detail")).url(link)])
            .inline_editing(False).show_advanced_types(False).pan_zoom(False).infinite_pan(False)
            .root(canvas.CanvasOptionsRoot().name("districts").elements(list(elements))))
