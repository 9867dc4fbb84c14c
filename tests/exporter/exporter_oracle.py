"""The slow, obviously correct reference: the same export rendered sample by sample with prometheus_client's
generic machinery (``Metric.add_sample`` + ``generate_latest``), district aggregates computed with pandas.

It follows the order documented in ``vitals/exporter/render.py`` so that the two texts can be compared byte
for byte.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.catalog.model import LEVEL_NAMES
from vitals.exporter.policy import WINDOW_STAT_AGGREGATION, ExportPolicy, series_families, stat_labels
from vitals.state.view import VitalsView


def assert_same_exposition(fast: bytes, generic: bytes, rel: float = 1e-12) -> None:
    """Same lines in the same order; only district aggregates (no street label) may differ in the last bits,
    since numpy's reduceat and pandas sum in different orders."""
    fast_lines, generic_lines = fast.decode().splitlines(), generic.decode().splitlines()
    assert len(fast_lines) == len(generic_lines)
    for got, want in zip(fast_lines, generic_lines, strict=True):
        if got == want:
            continue
        got_prefix, got_value = got.rsplit(" ", 1)
        want_prefix, want_value = want.rsplit(" ", 1)
        assert got_prefix == want_prefix, (got, want)
        assert 'street="' not in got_prefix, (got, want)
        assert math.isclose(float(got_value), float(want_value), rel_tol=rel), (got, want)


def oracle_text(catalog: Catalog, policy: ExportPolicy, view: VitalsView, health: Any | None) -> bytes:
    registry = CollectorRegistry()
    registry.register(_OracleCollector(catalog, policy, view, health))
    return generate_latest(registry)


class _OracleCollector:
    def __init__(self, catalog: Catalog, policy: ExportPolicy, view: VitalsView, health: Any | None) -> None:
        self.c, self.policy, self.view, self.health = catalog, policy, view, health
        frame = pd.DataFrame({k: np.asarray(v, float) for k, v in view.columns.items()})
        frame["indicator"] = view.indicator.astype(int)
        frame["street"] = view.street.astype(int)
        frame["district"] = catalog.street_district_array[view.street].astype(int)
        frame["series"] = view.series.astype(int)
        allowed = policy.street_indicators
        frame["street_ok"] = [allowed is None or catalog.indicators[i].id in allowed for i in frame["indicator"]]
        self.df = frame
        self._grouped: dict[tuple[str, str, str | None], pd.Series] = {}

    def collect(self) -> Iterator[Metric]:
        if self.policy.static_info:
            yield from self._static()
        for code, ind in enumerate(self.c.indicators):
            family = Metric(ind.metric, f"{ind.name_en} ({ind.unit}).", "gauge")
            rows = self.df[(self.df["indicator"] == code) & self.df["street_ok"]]
            for stat in (s for s in self.policy.street_value_stats if s in self.view.columns):
                name, window = stat_labels(stat)
                for r in rows.to_dict("records"):
                    self._add(family, ind.metric, {**self._street_labels(r), "stat": name, "window": window}, r[stat])
            for stat in (s for s in self.policy.district_value_stats if s in self.view.columns):
                name, window = stat_labels(stat)
                for (i, d), value in self._district_values(stat).items():
                    if i == code:
                        self._add(family, ind.metric, {**self._group_labels(i, d), "stat": name, "window": window},
                                  value)
            if family.samples:
                yield family
        yield from self._series_families()
        if self.policy.area and self.health is not None:
            yield from self._areas()

    def _series_families(self) -> Iterator[Metric]:
        for name in self.policy.street_families:
            spec = series_families(self.c)[name]
            family = Metric(name, spec.help, "gauge")
            minimum = self.policy.sparse_min(name)
            rows = self.df[self.df["street_ok"]]
            for m in (m for m in spec.members if m.column in self.view.columns):
                for r in rows.to_dict("records"):
                    value = r[m.column]
                    if minimum is not None and not value >= minimum:
                        continue
                    labels = {**self._street_labels(r, spec.with_domain), **dict(m.labels)}
                    self._add(family, name, labels, value)
            if family.samples:
                yield family
        for name in self.policy.district_families:
            spec = series_families(self.c)[name]
            family = Metric(name, spec.help, "gauge")
            for m in (m for m in spec.members if m.column in self.view.columns):
                grouped = self._group(m.column, spec.district_aggregation)
                for (i, d), value in grouped.items():
                    self._add(family, name, {**self._group_labels(i, d, spec.with_domain), **dict(m.labels)}, value)
            if family.samples:
                yield family

    def _district_values(self, stat: str) -> pd.Series:
        name, window = stat_labels(stat)
        how = WINDOW_STAT_AGGREGATION[name]
        weights = f"count_{window}" if name == "mean" and f"count_{window}" in self.view.columns else None
        return self._group(stat, how, weights)

    def _group(self, column: str, how: str, weights: str | None = None) -> pd.Series:
        key = (column, how, weights)
        if key not in self._grouped:
            self._grouped[key] = self._group_uncached(column, how, weights)
        return self._grouped[key]

    def _group_uncached(self, column: str, how: str, weights: str | None) -> pd.Series:
        keys = ["indicator", "district"]
        g = self.df.groupby(keys, sort=True)
        if how == "weighted_mean" and weights is not None:
            # pooled mean of all readings: sum(mean x count) / sum(count) over streets with a mean
            ok = self.df[column].notna() & (self.df[weights] > 0)
            parts = pd.DataFrame({"wv": (self.df[column] * self.df[weights]).where(ok, 0.0),
                                  "w": self.df[weights].where(ok, 0.0)})
            sums = parts.groupby([self.df[k] for k in keys], sort=True).sum()
            return (sums["wv"] / sums["w"]).where(sums["w"] > 0)
        if how == "weighted_mean":
            how = "mean"
        if how == "sum":
            return g[column].sum(min_count=1)
        return getattr(g[column], how)()

    def _areas(self) -> Iterator[Metric]:
        h = self.health
        health = [float(h.city_health), *map(float, h.district_health), *map(float, h.street_health)]
        level = [float(h.city_level), *map(float, h.district_level), *map(float, h.street_level)]
        for name, values, help_text in (
            (mn.HEALTH_INDEX, health, "Health index 0..100 of the area (100: every series normal)."),
            (mn.AREA_WARNING_LEVEL, level, "Worst warning level beneath the area, with hysteresis (0..4)."),
        ):
            family = Metric(name, help_text, "gauge")
            for key, value in enumerate(values):
                if not math.isnan(health[key]):
                    family.add_sample(name, self._area_labels(key), value)
            if family.samples:
                yield family

    def _static(self) -> Iterator[Metric]:
        c = self.c
        info = Metric(mn.AREA_INFO, "Names and centroid of each area (city, district, street); value 1.", "gauge")
        areas = [(c.city.name_zh, c.city.name_en, c.city.lat, c.city.lon)]
        areas += [(d.name_zh, d.name_en, d.lat, d.lon) for d in c.districts]
        areas += [(s.name_zh, s.name_en, s.lat, s.lon) for s in c.streets]
        for key, (zh, en, lat, lon) in enumerate(areas):
            labels = {**self._area_labels(key), "name_zh": zh, "name_en": en, "lat": repr(lat), "lon": repr(lon)}
            info.add_sample(mn.AREA_INFO, labels, 1.0)
        yield info
        ind_info = Metric(mn.INDICATOR_INFO, "Names, unit, metric name and bad direction of each indicator; value 1.",
                          "gauge")
        thresholds = Metric(mn.THRESHOLD, "Catalog warning thresholds (in the unit of the indicator, or z for "
                                          "basis=zscore).", "gauge")
        for i in c.indicators:
            ind_info.add_sample(mn.INDICATOR_INFO, {"indicator": i.id, "domain": i.domain, "name_zh": i.name_zh,
                                                    "name_en": i.name_en, "unit": i.unit, "metric": i.metric,
                                                    "bad": i.bad, "basis": i.basis}, 1.0)
            for k, value in enumerate(i.thresholds.as_tuple()):
                thresholds.add_sample(mn.THRESHOLD, {"indicator": i.id, "level": LEVEL_NAMES[k + 1]}, value)
        yield ind_info
        yield thresholds

    # ---- labels ---------------------------------------------------------------------------------------------
    def _street_labels(self, r: dict[str, Any], with_domain: bool = False) -> dict[str, str]:
        ind = self.c.indicators[int(r["indicator"])]
        labels = {"indicator": ind.id, "district": self.c.districts[int(r["district"])].id,
                  "street": self.c.streets[int(r["street"])].id}
        return {**labels, "domain": ind.domain} if with_domain else labels

    def _group_labels(self, i: int, d: int, with_domain: bool = False) -> dict[str, str]:
        ind = self.c.indicators[int(i)]
        labels = {"indicator": ind.id, "district": self.c.districts[int(d)].id}
        return {**labels, "domain": ind.domain} if with_domain else labels

    def _area_labels(self, key: int) -> dict[str, str]:
        n_d = len(self.c.districts)
        if key == 0:
            return {"scope": "city"}
        if key <= n_d:
            return {"scope": "district", "district": self.c.districts[key - 1].id}
        street = self.c.streets[key - 1 - n_d]
        return {"scope": "street", "district": street.district_id, "street": street.id}

    @staticmethod
    def _add(family: Metric, name: str, labels: dict[str, str], value: float) -> None:
        if not math.isnan(value):
            family.add_sample(name, labels, float(value))
