"""Label sets of the three key spaces the exporter renders, from the catalog ids (never names: ids need no
escaping and stay stable; names live in ``vitals_area_info`` / ``vitals_indicator_info``).

- series key   = global series id = indicator code x n_streets + street code (street scope);
- group key    = indicator code x n_districts + district code (district scope);
- area key     = 0 for the city, 1 + district code, 1 + n_districts + street code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog
from vitals.exporter.textformat import label_block

Labels = tuple[tuple[str, str], ...]


class LabelSpace:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.n_streets = catalog.n_streets
        self.n_districts = len(catalog.districts)
        self.indicator_ids = [i.id for i in catalog.indicators]
        self.domains = [i.domain for i in catalog.indicators]
        self.street_ids = [s.id for s in catalog.streets]
        self.district_ids = [d.id for d in catalog.districts]
        self.street_district = catalog.street_district_array

    @property
    def n_series(self) -> int:
        return self.catalog.n_series

    @property
    def n_groups(self) -> int:
        return self.catalog.n_indicators * self.n_districts

    @property
    def n_areas(self) -> int:
        return 1 + self.n_districts + self.n_streets

    def series_prefixes(self, name: str | Sequence[str], keys: npt.NDArray[np.int64], *, with_domain: bool = False,
                        extra: Labels = ()) -> list[str]:
        """``name{labels} `` per series key; ``name`` may be a sequence indexed by indicator code."""
        ind, street = np.divmod(keys, self.n_streets)
        district = self.street_district[street]
        names = [name] * self.catalog.n_indicators if isinstance(name, str) else name
        return [
            _prefix(names[i], (("indicator", self.indicator_ids[i]), ("district", self.district_ids[d]),
                           ("street", self.street_ids[s]), *self._domain(i, with_domain), *extra))
            for i, s, d in zip(ind.tolist(), street.tolist(), district.tolist(), strict=True)
        ]

    def group_prefixes(self, name: str | Sequence[str], keys: npt.NDArray[np.int64], *, with_domain: bool = False,
                       extra: Labels = ()) -> list[str]:
        ind, district = np.divmod(keys, self.n_districts)
        names = [name] * self.catalog.n_indicators if isinstance(name, str) else name
        return [
            _prefix(names[i], (("indicator", self.indicator_ids[i]), ("district", self.district_ids[d]),
                           *self._domain(i, with_domain), *extra))
            for i, d in zip(ind.tolist(), district.tolist(), strict=True)
        ]

    def area_prefixes(self, name: str, keys: npt.NDArray[np.int64], extra: Labels = ()) -> list[str]:
        return [_prefix(name, (*self.area_labels(k), *extra)) for k in keys.tolist()]

    def area_labels(self, key: int) -> Labels:
        if key == 0:
            return (("scope", "city"),)
        if key <= self.n_districts:
            return (("scope", "district"), ("district", self.district_ids[key - 1]))
        street = key - 1 - self.n_districts
        district = self.district_ids[int(self.street_district[street])]
        return (("scope", "street"), ("district", district), ("street", self.street_ids[street]))

    def _domain(self, indicator: int, with_domain: bool) -> Labels:
        return (("domain", self.domains[indicator]),) if with_domain else ()


def _prefix(name: str, labels: Sequence[tuple[str, str]]) -> str:
    return f"{name}{label_block(labels)} "
