"""The vectorized text renderer: a :class:`VitalsView` (+ area health) -> Prometheus text, in milliseconds.

Output order (deterministic; the tests' generic oracle follows it): static families (area info, indicator
info, thresholds), then one family per indicator (``Indicator.metric``, catalog order; street statistics in
policy order over the view's rows, then district statistics over indicator x district groups), then the
per-series families in policy order (street scope, then district scope), then area health and level
(city, districts, streets). A family appears only if it has at least one sample; NaN values are left out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.catalog.model import LEVEL_NAMES
from vitals.exporter.aggregate import DistrictGroups
from vitals.exporter.health_view import HealthLike
from vitals.exporter.labels import LabelSpace
from vitals.exporter.lines import LineTable, PrefixBuilder
from vitals.exporter.policy import WINDOW_STAT_AGGREGATION, ExportPolicy, series_families, stat_labels
from vitals.exporter.textformat import family_header, label_block, sample_lines
from vitals.state.view import VitalsView

FloatArray = npt.NDArray[np.float64]
KeyArray = npt.NDArray[np.int64]
Chunk = tuple[bytes, int]  # rendered lines and their number


@dataclass(frozen=True)
class Rendered:
    text: bytes
    samples: int
    seconds: float
    formatted: int  # values formatted in this render (the rest came from the line cache)


class VitalsRenderer:
    """Renders views of one catalog under one policy; keeps per-key line caches between renders."""

    def __init__(self, catalog: Catalog, policy: ExportPolicy | None = None) -> None:
        self.catalog = catalog
        self.policy = policy or ExportPolicy()
        self.labels = LabelSpace(catalog)
        self.families = series_families(catalog)
        self._tables: dict[tuple[str, str, str], LineTable] = {}
        allowed = self.policy.street_indicators
        self._metric_names = [i.metric for i in catalog.indicators]
        self._street_ok = np.array([allowed is None or i.id in allowed for i in catalog.indicators], dtype=bool)
        self._static, self._static_samples = self._render_static() if self.policy.static_info else (b"", 0)

    def render(self, view: VitalsView, health: HealthLike | None = None) -> Rendered:
        started = time.perf_counter()
        before = self._formatted_total()
        out = _Output()
        street_rows = np.flatnonzero(self._street_ok[view.indicator.astype(np.intp)])
        groups = DistrictGroups(self.catalog, view) if self._needs_groups(view) else None
        self._value_families(out, view, street_rows, groups)
        self._series_families(out, view, street_rows, groups)
        self._explanations(out, view, street_rows)
        if self.policy.area and health is not None:
            self._area_families(out, health)
        text = b"".join((self._static, *out.chunks))
        samples = self._static_samples + out.samples
        return Rendered(text, samples, time.perf_counter() - started, self._formatted_total() - before)

    # ---- families ------------------------------------------------------------------------------------------
    def _value_families(self, out: _Output, view: VitalsView, street_rows: npt.NDArray[np.intp],
                        groups: DistrictGroups | None) -> None:
        """One family per indicator; each statistic is rendered for all indicators at once, then sliced."""
        cols = view.columns
        n_ind = self.catalog.n_indicators
        ind_of_row = view.indicator[street_rows].astype(np.int64)
        by_indicator = np.argsort(ind_of_row, kind="stable")
        rows = street_rows[by_indicator]
        row_bounds = np.searchsorted(ind_of_row[by_indicator], np.arange(n_ind + 1))
        per_indicator: list[list[Chunk]] = [[] for _ in range(n_ind)]
        names = self._metric_names
        for stat in (s for s in self.policy.street_value_stats if s in cols):
            chunks = self._slices(("street", "value", stat), view.series[rows], cols[stat][rows], row_bounds,
                                  builder=self._series_builder(names, _stat_extra(stat)))
            for parts, chunk in zip(per_indicator, chunks, strict=True):
                parts.append(chunk)
        if groups is not None:
            group_bounds = np.searchsorted(groups.indicator, np.arange(n_ind + 1))
            for stat in (s for s in self.policy.district_value_stats if s in cols):
                chunks = self._slices(("district", "value", stat), groups.keys, self._aggregate(groups, view, stat),
                                      group_bounds, builder=self._group_builder(names, _stat_extra(stat)))
                for parts, chunk in zip(per_indicator, chunks, strict=True):
                    parts.append(chunk)
        for ind, parts in zip(self.catalog.indicators, per_indicator, strict=True):
            out.add_family(family_header(ind.metric, f"{ind.name_en} ({ind.unit}).", "gauge"), parts)

    def _slices(self, table_key: tuple[str, str, str], keys: KeyArray, values: FloatArray,
                bounds: npt.NDArray[np.intp], *, builder: PrefixBuilder) -> list[Chunk]:
        """Chunks per slice of ``keys`` (NaN left out), from one line table."""
        values = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(values)
        kept_bounds = np.concatenate(([0], np.cumsum(keep)))[bounds]
        table = self._table(table_key, builder)
        texts = table.render_slices(np.asarray(keys, np.int64)[keep], values[keep], kept_bounds)
        counts = np.diff(kept_bounds).tolist()
        return list(zip(texts, counts, strict=True))

    def _series_families(self, out: _Output, view: VitalsView, street_rows: npt.NDArray[np.intp],
                         groups: DistrictGroups | None) -> None:
        cols = view.columns
        for name in self.policy.street_families:
            family = self.families[name]
            minimum = self.policy.sparse_min(name)
            lines: list[Chunk] = []
            for m in (m for m in family.members if m.column in cols):
                lines.append(self._lines(("street", name, m.column), view.series[street_rows],
                                     cols[m.column][street_rows],
                                     builder=self._series_builder(name, m.labels, family.with_domain), minimum=minimum))
            out.add_family(family_header(name, family.help), lines)
        if groups is not None:
            self._district_series_families(out, view, groups)

    def _explanations(self, out: _Output, view: VitalsView, street_rows: npt.NDArray[np.intp]) -> None:
        """``vitals_anomaly_explanation_info{detector, feature}`` for the series whose anomaly score is at least
        ``policy.explain_min`` (sparse: rendered fresh, grouped by detector and feature)."""
        cols = view.columns
        if not {"anomaly_score", "explain_detector", "explain_feature"} <= cols.keys():
            return
        rows = street_rows[cols["anomaly_score"][street_rows] >= self.policy.explain_min]
        if not len(rows):
            return
        # only scored views get here; the scoring stack (detectors: numba) is imported by then
        from vitals.scoring.explain_codes import DETECTORS, FEATURES

        det = cols["explain_detector"][rows].astype(np.int64)
        feat = cols["explain_feature"][rows].astype(np.int64)
        lines: list[str] = []
        for d, f in sorted(set(zip(det.tolist(), feat.tolist(), strict=True))):
            keys = view.series[rows[(det == d) & (feat == f)]]
            extra = (("detector", _code_name(DETECTORS, d)), ("feature", _code_name(FEATURES, f)))
            prefixes = self.labels.series_prefixes(mn.ANOMALY_EXPLANATION, keys, extra=extra)
            lines.extend(sample_lines(prefixes, np.ones(len(prefixes))))
        help_text = "The detector and feature behind a series' anomaly score (score >= the export minimum); value 1."
        out.add_family(family_header(mn.ANOMALY_EXPLANATION, help_text), [("".join(lines).encode(), len(lines))])

    def _district_series_families(self, out: _Output, view: VitalsView, groups: DistrictGroups) -> None:
        for name in self.policy.district_families:
            family = self.families[name]
            lines: list[Chunk] = []
            for m in (m for m in family.members if m.column in view.columns):
                values = groups.reduce(view.columns[m.column], family.district_aggregation)
                lines.append(self._lines(("district", name, m.column), groups.keys, values,
                                     builder=self._group_builder(name, m.labels, family.with_domain)))
            out.add_family(family_header(name, family.help), lines)

    def _area_families(self, out: _Output, health: HealthLike) -> None:
        health_values = np.concatenate((
            np.asarray([health.city_health], np.float64).ravel()[:1],
            np.asarray(health.district_health, np.float64), np.asarray(health.street_health, np.float64)))
        level_values = np.concatenate((
            np.asarray([health.city_level], np.float64).ravel()[:1],
            np.asarray(health.district_level, np.float64), np.asarray(health.street_level, np.float64)))
        keys = np.flatnonzero(~np.isnan(health_values)).astype(np.int64)
        for name, values, help_text in (
            (mn.HEALTH_INDEX, health_values, "Health index 0..100 of the area (100: every series normal)."),
            (mn.AREA_WARNING_LEVEL, level_values, "Worst warning level beneath the area, with hysteresis (0..4)."),
        ):
            lines = [self._lines(("area", name, ""), keys, values[keys], builder=self._area_builder(name))]
            out.add_family(family_header(name, help_text), lines)

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _lines(self, table_key: tuple[str, str, str], keys: KeyArray, values: FloatArray, *,
               builder: PrefixBuilder, minimum: float | None = None) -> Chunk:
        """Lines of one (scope, family, column) for ``keys``; NaN (and values below ``minimum``) left out."""
        values = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(values) if minimum is None else values >= minimum
        table = self._table(table_key, builder)
        kept = np.asarray(keys, np.int64)[keep]
        return table.render(kept, values[keep]), int(kept.shape[0])

    def _table(self, table_key: tuple[str, str, str], builder: PrefixBuilder) -> LineTable:
        table = self._tables.get(table_key)
        if table is None:
            scope = table_key[0]
            size = {"street": self.labels.n_series, "district": self.labels.n_groups}.get(scope, self.labels.n_areas)
            table = self._tables[table_key] = LineTable(size, builder)
        return table

    def _aggregate(self, groups: DistrictGroups, view: VitalsView, stat: str) -> FloatArray:
        name, window = stat_labels(stat)
        weights = view.columns.get(f"count_{window}") if name == "mean" else None
        return groups.reduce(view.columns[stat], WINDOW_STAT_AGGREGATION[name], weights)

    def _needs_groups(self, view: VitalsView) -> bool:
        cols = view.columns
        if any(s in cols for s in self.policy.district_value_stats):
            return True
        return any(m.column in cols for n in self.policy.district_families for m in self.families[n].members)

    def _series_builder(self, name: str | list[str], extra: tuple[tuple[str, str], ...], with_domain: bool = False
                        ) -> PrefixBuilder:
        return lambda keys: self.labels.series_prefixes(name, keys, with_domain=with_domain, extra=extra)

    def _group_builder(self, name: str | list[str], extra: tuple[tuple[str, str], ...], with_domain: bool = False
                       ) -> PrefixBuilder:
        return lambda keys: self.labels.group_prefixes(name, keys, with_domain=with_domain, extra=extra)

    def _area_builder(self, name: str) -> Callable[[KeyArray], list[str]]:
        return lambda keys: self.labels.area_prefixes(name, keys)

    def _formatted_total(self) -> int:
        return sum(t.formatted for t in self._tables.values())

    def _render_static(self) -> tuple[bytes, int]:
        """Static families, rendered once (as bytes: their names are not ASCII, the rest of the text is)."""
        out = _Output()
        for name, help_text, rows in static_families(self.catalog, self.labels):
            prefixes = [f"{name}{label_block(labels)} " for labels, _ in rows]
            lines = sample_lines(prefixes, np.array([v for _, v in rows], dtype=np.float64))
            out.add_family(family_header(name, help_text), [("".join(lines).encode("utf-8"), len(lines))])
        return b"".join(out.chunks), out.samples


class _Output:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.samples = 0

    def add_family(self, header: str, parts: list[Chunk]) -> None:
        samples = sum(n for _, n in parts)
        if samples:
            self.chunks.append(header.encode("utf-8"))
            self.chunks.extend(text for text, _ in parts)
            self.samples += samples


def _code_name(table: tuple[str, ...], code: int) -> str:
    return table[code] if 0 <= code < len(table) else "unknown"


def _stat_extra(stat: str) -> tuple[tuple[str, str], ...]:
    name, window = stat_labels(stat)
    return (("stat", name), ("window", window))


StaticRows = list[tuple[tuple[tuple[str, str], ...], float]]


def static_families(catalog: Catalog, labels: LabelSpace) -> list[tuple[str, str, StaticRows]]:
    """(name, help, [(labels, value)]) of the families that only change with the catalog."""
    c = catalog
    area_rows: StaticRows = [((*labels.area_labels(0), ("name_zh", c.city.name_zh), ("name_en", c.city.name_en),
                               ("lat", repr(c.city.lat)), ("lon", repr(c.city.lon))), 1.0)]
    area_rows += [((*labels.area_labels(1 + k), ("name_zh", d.name_zh), ("name_en", d.name_en),
                    ("lat", repr(d.lat)), ("lon", repr(d.lon))), 1.0) for k, d in enumerate(c.districts)]
    first_street = 1 + len(c.districts)
    area_rows += [((*labels.area_labels(first_street + k), ("name_zh", s.name_zh), ("name_en", s.name_en),
                    ("lat", repr(s.lat)), ("lon", repr(s.lon))), 1.0) for k, s in enumerate(c.streets)]
    info_rows: StaticRows = [((("indicator", i.id), ("domain", i.domain), ("name_zh", i.name_zh),
                               ("name_en", i.name_en), ("unit", i.unit), ("metric", i.metric), ("bad", i.bad),
                               ("basis", i.basis)), 1.0) for i in c.indicators]
    threshold_rows: StaticRows = [((("indicator", i.id), ("level", LEVEL_NAMES[k + 1])), value)
                                  for i in c.indicators for k, value in enumerate(i.thresholds.as_tuple())
                                  if not math.isnan(value)]  # a level the catalog does not set: no sample
    return [
        (mn.AREA_INFO, "Names and centroid of each area (city, district, street); value 1.", area_rows),
        (mn.INDICATOR_INFO, "Names, unit, metric name and bad direction of each indicator; value 1.", info_rows),
        (mn.THRESHOLD, "Catalog warning thresholds (in the unit of the indicator, or z for basis=zscore).",
         threshold_rows),
    ]
