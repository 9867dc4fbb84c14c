"""What the exporter needs from the health roll-up: a structural type, so the exporter does not import the
module that computes it (``vitals.health.rollup``). Any object with these attributes works, e.g. its ``HealthView``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy.typing as npt


class HealthLike(Protocol):
    """Health index 0..100 (NaN where an area has no data) and worst warning level 0..4 per area.

    Street arrays are indexed by catalog street code, district arrays by catalog district code.
    """

    @property
    def street_health(self) -> npt.NDArray[Any]: ...

    @property
    def street_level(self) -> npt.NDArray[Any]: ...

    @property
    def district_health(self) -> npt.NDArray[Any]: ...

    @property
    def district_level(self) -> npt.NDArray[Any]: ...

    @property
    def city_health(self) -> Any: ...

    @property
    def city_level(self) -> Any: ...
