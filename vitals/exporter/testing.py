"""Synthetic views and health roll-ups with realistic shapes, for the exporter's tests and benchmark.

Values follow each indicator's catalog seasonality (base, noise), levels come from :mod:`vitals.health.levels`, and
some windows are empty (NaN), as the real series state produces them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog
from vitals.catalog.model import LEVELS
from vitals.forecasting.cadence import catalog_cadence
from vitals.health.levels import warning_levels
from vitals.metric_names import WINDOWS
from vitals.state.view import VitalsView
from vitals.units import NS_PER_S

NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass(frozen=True, eq=False)
class SyntheticHealth:
    """Satisfies :class:`vitals.exporter.health_view.HealthLike`."""

    street_health: npt.NDArray[np.float64]
    street_level: npt.NDArray[np.int8]
    district_health: npt.NDArray[np.float64]
    district_level: npt.NDArray[np.int8]
    city_health: float
    city_level: int


def synthetic_view(catalog: Catalog, seed: int = 0, *, share: float = 1.0, series: npt.NDArray[np.int64] | None = None,
                   models: bool = True, empty_share: float = 0.05) -> VitalsView:
    """A view of ``share`` of all series (or of ``series``), with every column the exporter knows."""
    rng = np.random.default_rng(seed)
    if series is None:
        series = np.sort(rng.choice(catalog.n_series, size=round(share * catalog.n_series), replace=False))
    ind, street = catalog.split_series_id(series)
    n = series.shape[0]
    base = np.array([i.seasonality.base for i in catalog.indicators])[ind]
    noise = np.array([max(i.seasonality.noise, 1e-3) for i in catalog.indicators])[ind]
    last = np.clip(base + rng.normal(0.0, 3.0, n) * noise, catalog.valid_min_array[ind], catalog.valid_max_array[ind])
    ts_ns = np.full(n, int(NOW_S * NS_PER_S), dtype=np.int64)
    cols: dict[str, npt.NDArray[np.float64]] = {
        "last": last,
        "last_ts_s": np.subtract(NOW_S, rng.integers(0, 3600, n), dtype=np.float64),
        "ewma": last + rng.normal(0.0, 0.3, n) * noise,
        "level": warning_levels(catalog, ind, last, ts_ns).astype(np.float64),
        "stuck": np.less(rng.random(n), 0.01).astype(np.float64),
        "dropout_ratio": np.round(rng.random(n) * 0.2, 4),
    }
    cols["raw_level"] = cols["level"].copy()
    cols["seconds_since_last"] = NOW_S - cols["last_ts_s"]
    for w_index, window in enumerate(WINDOWS):
        spread = noise * (1 + w_index)
        count = rng.integers(0, 12 * (w_index + 1), n).astype(np.float64)
        empty = (count == 0) | (rng.random(n) < empty_share)
        mean = last + rng.normal(0.0, 1.0, n) * spread
        stats = {"mean": mean, "min": mean - spread * 2, "max": mean + spread * 2, "p95": mean + spread * 1.6,
                 "rate": rng.normal(0.0, 1e-3, n) * noise, "count": count}
        for stat, values in stats.items():
            cols[f"{stat}_{window}"] = np.where(empty, np.nan if stat != "count" else 0.0, values)
    if models:
        _model_columns(cols, rng, last, noise, catalog_cadence(catalog).horizon_labels)
    return VitalsView(series=series.astype(np.int64), indicator=ind.astype(np.int16), street=street.astype(np.int32),
                      columns=cols, now_s=NOW_S)


def _model_columns(cols: dict[str, npt.NDArray[np.float64]], rng: np.random.Generator,
                   last: npt.NDArray[np.float64], noise: npt.NDArray[np.float64], horizons: tuple[str, ...]) -> None:
    n = last.shape[0]
    cols["anomaly_score"] = np.asarray(rng.beta(1.0, 12.0, n), dtype=np.float64)
    for bound, k in (("lower", -2.0), ("mid", 0.0), ("upper", 2.0)):
        cols[f"expected_{bound}"] = last + k * noise
    for h_index, horizon in enumerate(horizons):
        cols[f"forecast_{horizon}"] = last + rng.normal(0.0, 1.0, n) * noise * (h_index + 1)
        cols[f"forecast_level_{horizon}"] = np.minimum(cols["level"] + (rng.random(n) < 0.03), 4.0)
    for level in LEVELS:
        cols[f"seconds_to_{level}"] = np.where(rng.random(n) < 0.02, rng.integers(60, 3600, n), np.nan)


def synthetic_health(catalog: Catalog, seed: int = 0, *, no_data_share: float = 0.02) -> SyntheticHealth:
    rng = np.random.default_rng(seed)
    n_streets, n_districts = catalog.n_streets, len(catalog.districts)
    street_health = np.round(100 - rng.gamma(1.0, 4.0, n_streets), 2).clip(0, 100)
    street_health[rng.random(n_streets) < no_data_share] = np.nan
    street_level = rng.choice(5, size=n_streets, p=[0.8, 0.1, 0.05, 0.03, 0.02]).astype(np.int8)
    district_health = np.round(100 - rng.gamma(1.0, 3.0, n_districts), 2).clip(0, 100)
    district_level = np.zeros(n_districts, np.int8)
    np.maximum.at(district_level, catalog.street_district_array, street_level)
    return SyntheticHealth(street_health, street_level, district_health, district_level,
                           float(np.nanmean(street_health)), int(district_level.max()))
