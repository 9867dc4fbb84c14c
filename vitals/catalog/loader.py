"""Load and validate a catalog file. Every mistake is collected and reported at once.

A problem names the file, the entry (e.g. ``indicators[3] (water_pressure)``) and says in plain words
what is wrong and what is expected. Anything unexpected in the file raises :class:`CatalogError`,
never another exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from vitals.catalog import checks as c
from vitals.catalog.areas import parse_city, parse_district
from vitals.catalog.indicators import parse_indicator
from vitals.catalog.model import Catalog, District, Hysteresis, Street
from vitals.catalog.streets import generate_streets
from vitals.errors import CatalogError
from vitals.yaml_text import load_yaml, yaml_problem

log = logging.getLogger(__name__)

TOP_KEYS = {"version", "city", "hysteresis", "indicators", "areas"}
DEFAULT_CATALOG_NAME = "catalog.yaml"


def default_catalog_path() -> Path:
    """Path of the catalog shipped inside the package."""
    return Path(str(resources.files("vitals").joinpath("data", DEFAULT_CATALOG_NAME)))


def _parse_hysteresis(p: c.Problems, raw: Any) -> Hysteresis:
    if raw is None:
        return Hysteresis(0.05, 3)
    if not isinstance(raw, Mapping):
        p.add("hysteresis", "must be a mapping with margin and intervals")
        return Hysteresis(0.05, 3)
    c.keys(p, "hysteresis", raw, set(), {"margin", "intervals"})
    margin = c.number(p, "hysteresis", "margin", raw.get("margin", 0.05))
    intervals = c.whole(p, "hysteresis", "intervals", raw.get("intervals", 3), 1) or 3
    if margin is not None and not 0 <= margin < 1:
        p.add("hysteresis", f"`margin` must be within [0, 1), got {margin:g}")
    return Hysteresis(float(margin or 0.0), int(intervals))


def _areas(
    p: c.Problems, areas: Any, streets_total: int | None,
) -> tuple[tuple[District, ...], tuple[Street, ...]]:
    if not isinstance(areas, Mapping):
        p.add("areas", "must be a mapping with `districts` (a list)")
        return (), ()
    c.keys(p, "areas", areas, {"districts"}, set())
    raw_d = c.nonempty_list(p, "areas.districts", areas.get("districts", []))
    parsed = [parse_district(p, i, r) for i, r in enumerate(raw_d)]
    c.duplicates(p, "areas.districts", c.texts_of(raw_d, "id"))
    good = [x for x in parsed if x is not None]
    listed = [s for _, streets in good for s in streets or ()]
    generated = tuple(d for d, streets in good if streets is None)
    if streets_total is not None and listed:
        p.add("streets_total", f"--streets {streets_total} cannot apply: this catalog lists its streets "
                               "(leave --streets / streets_total out)")
        streets_total = None
    if streets_total is not None and streets_total < len(generated):
        p.add("streets_total", f"{streets_total} is fewer than one street per district ({len(generated)})")
        streets_total = None
    made_by_district: dict[str, list[Street]] = {}
    for s in generate_streets(generated, streets_total):
        made_by_district.setdefault(s.district_id, []).append(s)
    streets: list[Street] = []
    for d, own in good:
        streets.extend(own if own is not None else made_by_district.get(d.id, []))
    raw_lists = [r.get("streets", r.get("stations")) for r in raw_d if isinstance(r, Mapping)]
    listed_ids = [sid for items in raw_lists if isinstance(items, list) for sid in c.texts_of(items, "id")]
    c.duplicates(p, "areas (street ids)", listed_ids + [s.id for ss in made_by_district.values() for s in ss])
    return tuple(d for d, _ in good), tuple(streets)


def parse_catalog(data: Any, source: str = "<memory>", streets_total: int | None = None) -> Catalog:
    """Validate a parsed catalog document and build a :class:`Catalog` (every problem reported at once).

    ``streets_total`` scales the generated streets (default: the sum of the districts' counts); it cannot
    apply to a catalog that lists its streets.
    """
    p = c.Problems(source)
    if not isinstance(data, Mapping):
        p.add("<top>", f"a catalog must be a mapping with city, indicators and areas, got {type(data).__name__}")
        p.raise_if_any()
    for key in ("city", "indicators", "areas"):
        if key not in data:
            p.add("<top>", f"missing section `{key}`")
    extra = sorted(set(map(str, data)) - TOP_KEYS)
    if extra:
        p.add("<top>", f"unknown section(s) {', '.join(extra)}; known sections: {', '.join(sorted(TOP_KEYS))}")
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        p.add("version", f"must be a whole number, got {version!r}")
        version = 1
    city = parse_city(p, data.get("city")) if "city" in data else None
    hysteresis = _parse_hysteresis(p, data.get("hysteresis"))
    raw_inds = c.nonempty_list(p, "indicators", data.get("indicators", []))
    indicators = [parse_indicator(p, i, r) for i, r in enumerate(raw_inds)]
    c.duplicates(p, "indicators", c.texts_of(raw_inds, "id"))
    metrics = [str(r.get("metric", f"vitals_{r.get('id')}")) for r in raw_inds if isinstance(r, Mapping)]
    c.duplicates(p, "indicators (metric)", metrics)
    districts, streets = _areas(p, data.get("areas", {}), streets_total)
    p.raise_if_any()
    if city is None:  # pragma: no cover - a missing city is reported above
        msg = f"catalog {source}: no city"
        raise CatalogError(msg)
    return Catalog(
        version=int(version), city=city, hysteresis=hysteresis,
        indicators=tuple(i for i in indicators if i is not None), districts=districts, streets=streets,
        source=source,
    )


def load_catalog(path: str | Path | None = None, streets_total: int | None = None) -> Catalog:
    """Load a catalog file (default: the model city shipped with the package)."""
    file = Path(path) if path is not None else default_catalog_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read catalog {file}: {exc.strerror or exc}; pass an existing YAML file"
        raise CatalogError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"catalog {file} is not UTF-8 text ({exc.reason})"
        raise CatalogError(msg) from exc
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        msg = f"catalog {file} is not valid YAML: {yaml_problem(exc)}"
        raise CatalogError(msg) from exc
    catalog = parse_catalog(data, source=str(file), streets_total=streets_total)
    log.debug("loaded catalog %s: %d indicators, %d districts, %d streets", file,
              catalog.n_indicators, len(catalog.districts), catalog.n_streets)
    return catalog

