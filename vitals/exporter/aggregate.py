"""District aggregates of per-series columns, vectorized (one stable sort, then ``ufunc.reduceat``).

NaN means "no value" everywhere: aggregates skip NaN inputs and are NaN only when a group has no value at
all (the renderer then leaves the sample out). Aggregations:

- ``mean``: mean of the streets' values; ``sum``: their sum; ``min`` / ``max``: extremes;
- ``weighted_mean``: mean weighted by a weight column (the window's reading count), i.e. the pooled mean of
  all readings in the district's window (exact, since each street mean is sum / count).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog
from vitals.exporter.policy import Aggregation
from vitals.state.view import VitalsView

FloatArray = npt.NDArray[np.float64]


class DistrictGroups:
    """The indicator x district groups present in a view, and reductions of view columns over them."""

    def __init__(self, catalog: Catalog, view: VitalsView) -> None:
        n_districts = len(catalog.districts)
        district = catalog.street_district_array[view.street.astype(np.intp)]
        group = view.indicator.astype(np.int64) * n_districts + district
        self._order = np.argsort(group, kind="stable")
        ordered = group[self._order]
        boundaries = np.flatnonzero(np.diff(ordered)) + 1
        self._starts = np.concatenate(([0], boundaries)).astype(np.intp) if ordered.size else np.empty(0, np.intp)
        self.keys: npt.NDArray[np.int64] = ordered[self._starts]
        self.indicator = self.keys // n_districts

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def reduce(self, values: FloatArray, how: Aggregation, weights: FloatArray | None = None) -> FloatArray:
        """One aggregate per group (in ``keys`` order) of ``values`` (a view column)."""
        if not len(self):
            return np.empty(0, np.float64)
        v = np.asarray(values, dtype=np.float64)[self._order]
        if how == "max":
            return np.fmax.reduceat(v, self._starts)
        if how == "min":
            return np.fmin.reduceat(v, self._starts)
        present = ~np.isnan(v)
        if how == "weighted_mean" and weights is not None:
            w = np.where(present, np.nan_to_num(np.asarray(weights, np.float64)[self._order]), 0.0)
            w = np.where(w > 0, w, 0.0)
            return _ratio(np.add.reduceat(np.where(present, v, 0.0) * w, self._starts),
                          np.add.reduceat(w, self._starts))
        sums = np.add.reduceat(np.where(present, v, 0.0), self._starts)
        counts = np.add.reduceat(present.astype(np.float64), self._starts)
        if how == "sum":
            return np.where(counts > 0, sums, np.nan)
        return _ratio(sums, counts)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)
