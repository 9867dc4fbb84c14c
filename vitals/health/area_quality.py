"""Data quality rolled up per indicator x district from the per-series quality columns of a view (the
per-series columns themselves come from :mod:`vitals.health.series_quality`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.state.view import VitalsView


@dataclass(frozen=True, eq=False)
class AreaQuality:
    """Data quality per (indicator code, district code): arrays of shape (n_indicators, n_districts)."""

    series: npt.NDArray[np.int64]        # series with at least one reading
    stale: npt.NDArray[np.int64]         # series silent for more than ``stale_cadences`` cadences
    stuck: npt.NDArray[np.int64]         # series flagged stuck
    dropout_ratio: npt.NDArray[np.float64]  # mean dropout ratio of the series (NaN where none)


def area_quality(catalog: Catalog, view: VitalsView, stale_cadences: float = 3.0) -> AreaQuality:
    """Roll the per-series quality columns of ``view`` up to indicator x district (np.bincount)."""
    shape = (catalog.n_indicators, len(catalog.districts))
    cell = view.indicator.astype(np.int64) * shape[1] + catalog.street_district_array[view.street]
    size = shape[0] * shape[1]
    cadence = catalog.cadence_array[view.indicator]
    stale = view.column("seconds_since_last") > stale_cadences * cadence
    series = np.bincount(cell, minlength=size)
    dropout_sum = np.bincount(cell, weights=view.column("dropout_ratio"), minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        dropout = np.where(series > 0, dropout_sum / series, np.nan)
    return AreaQuality(
        series=series.reshape(shape),
        stale=np.bincount(cell, weights=stale, minlength=size).astype(np.int64).reshape(shape),
        stuck=np.bincount(cell, weights=view.column("stuck"), minlength=size).astype(np.int64).reshape(shape),
        dropout_ratio=dropout.reshape(shape),
    )
