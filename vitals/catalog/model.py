"""The indicator catalog: indicators, the area hierarchy and the arrays the hot path uses.

Codes are dense integers: an indicator's code is its position in ``Catalog.indicators``, a street's
code is its position in ``Catalog.streets``. A series is one (indicator, street) pair with the dense id
``indicator_code * n_streets + street_code`` (see :meth:`Catalog.series_id`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

Direction = Literal["up", "down", "both"]
Basis = Literal["value", "zscore"]
Profile = Literal["flat", "commute", "daytime", "evening"]

DOMAINS: tuple[str, ...] = (
    "traffic", "rail", "water", "drainage", "flood", "power", "gas", "telecom",
    "bridge", "tunnel", "air", "weather", "hotline", "emergency", "crowds",
)
LEVEL_NAMES: tuple[str, ...] = ("normal", "blue", "yellow", "orange", "red")
LEVEL_NAMES_ZH: tuple[str, ...] = ("正常", "蓝色", "黄色", "橙色", "红色")
LEVEL_COLOURS: dict[str, str] = {
    "normal": "green", "blue": "blue", "yellow": "yellow", "orange": "orange", "red": "red",
}


@dataclass(frozen=True)
class Thresholds:
    """Warning thresholds, blue < yellow < orange < red in badness."""

    blue: float
    yellow: float
    orange: float
    red: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.blue, self.yellow, self.orange, self.red)


@dataclass(frozen=True)
class Seasonality:
    """Expected value = base + amplitude * profile(local hour) * (weekend factor on weekends)."""

    profile: Profile
    base: float
    amplitude: float
    weekend: float
    noise: float


@dataclass(frozen=True)
class Indicator:
    id: str
    domain: str
    name_zh: str
    name_en: str
    unit: str
    metric: str
    cadence_s: int
    valid_min: float
    valid_max: float
    bad: Direction
    basis: Basis
    center: float
    thresholds: Thresholds
    seasonality: Seasonality
    weight: float
    # how people read it: values stay in ``unit`` everywhere (Prometheus, rules, history); dashboards show
    # ``value * display_factor`` in ``display_unit`` (e.g. m/s x 3.6 = km/h). Empty: ``unit`` as it is.
    display_unit: str = ""
    display_factor: float = 1.0

    @property
    def shown_unit(self) -> str:
        """The unit a person reads (``display_unit``, else ``unit``)."""
        return self.display_unit or self.unit


@dataclass(frozen=True)
class Street:
    id: str
    name_zh: str
    name_en: str
    district_id: str
    lat: float
    lon: float


@dataclass(frozen=True)
class District:
    id: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    streets: int  # the (approximate real) number of streets; generated streets follow it


@dataclass(frozen=True)
class City:
    id: str
    name_zh: str
    name_en: str
    timezone_offset_hours: float
    lat: float
    lon: float


@dataclass(frozen=True)
class Hysteresis:
    margin: float  # fraction of the gap to the next lower threshold
    intervals: int  # consecutive readings below (threshold - margin) before a level is left


@dataclass(frozen=True, eq=False)
class Catalog:
    """A validated catalog. Build it with :func:`vitals.catalog.load_catalog`."""

    version: int
    city: City
    hysteresis: Hysteresis
    indicators: tuple[Indicator, ...]
    districts: tuple[District, ...]
    streets: tuple[Street, ...]
    source: str = field(default="<memory>")

    # ---- lookups -------------------------------------------------------------------------------------
    @cached_property
    def indicator_index(self) -> dict[str, int]:
        return {ind.id: i for i, ind in enumerate(self.indicators)}

    @cached_property
    def street_index(self) -> dict[str, int]:
        return {s.id: i for i, s in enumerate(self.streets)}

    @cached_property
    def district_index(self) -> dict[str, int]:
        return {d.id: i for i, d in enumerate(self.districts)}

    def indicator(self, indicator_id: str) -> Indicator:
        return self.indicators[self.indicator_index[indicator_id]]

    @property
    def n_indicators(self) -> int:
        return len(self.indicators)

    @property
    def n_streets(self) -> int:
        return len(self.streets)

    @property
    def n_series(self) -> int:
        return self.n_indicators * self.n_streets

    def series_id(
        self, indicator_code: npt.NDArray[np.integer], street_code: npt.NDArray[np.integer]
    ) -> npt.NDArray[np.int64]:
        """Dense series ids for arrays of indicator and street codes."""
        return indicator_code.astype(np.int64) * self.n_streets + street_code.astype(np.int64)

    def split_series_id(
        self, series: npt.NDArray[np.integer]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Inverse of :meth:`series_id`: (indicator codes, street codes)."""
        s = series.astype(np.int64)
        return s // self.n_streets, s % self.n_streets

    # ---- arrays for vectorized work (indexed by indicator code or street code) ----------------------
    @cached_property
    def thresholds_array(self) -> npt.NDArray[np.float64]:
        """Shape (n_indicators, 4): blue, yellow, orange, red."""
        return np.array([i.thresholds.as_tuple() for i in self.indicators], dtype=np.float64)

    @cached_property
    def valid_min_array(self) -> npt.NDArray[np.float64]:
        return np.array([i.valid_min for i in self.indicators], dtype=np.float64)

    @cached_property
    def valid_max_array(self) -> npt.NDArray[np.float64]:
        return np.array([i.valid_max for i in self.indicators], dtype=np.float64)

    @cached_property
    def cadence_array(self) -> npt.NDArray[np.float64]:
        return np.array([i.cadence_s for i in self.indicators], dtype=np.float64)

    @cached_property
    def weight_array(self) -> npt.NDArray[np.float64]:
        return np.array([i.weight for i in self.indicators], dtype=np.float64)

    @cached_property
    def direction_array(self) -> npt.NDArray[np.int8]:
        """+1 for bad=up, -1 for bad=down, 0 for bad=both."""
        m = {"up": 1, "down": -1, "both": 0}
        return np.array([m[i.bad] for i in self.indicators], dtype=np.int8)

    @cached_property
    def center_array(self) -> npt.NDArray[np.float64]:
        return np.array([i.center for i in self.indicators], dtype=np.float64)

    @cached_property
    def zscore_array(self) -> npt.NDArray[np.bool_]:
        return np.array([i.basis == "zscore" for i in self.indicators], dtype=bool)

    @cached_property
    def domain_code_array(self) -> npt.NDArray[np.int16]:
        """Position of each indicator's domain in :attr:`domain_names`."""
        index = {d: k for k, d in enumerate(self.domain_names)}
        return np.array([index[i.domain] for i in self.indicators], dtype=np.int16)

    @cached_property
    def street_district_array(self) -> npt.NDArray[np.int32]:
        """District code of each street."""
        di = self.district_index
        return np.array([di[s.district_id] for s in self.streets], dtype=np.int32)

    @cached_property
    def domain_names(self) -> tuple[str, ...]:
        """Domains that occur in this catalog, in catalog order."""
        return tuple(dict.fromkeys(i.domain for i in self.indicators))

    def streets_of(self, district_id: str) -> tuple[Street, ...]:
        return tuple(s for s in self.streets if s.district_id == district_id)
