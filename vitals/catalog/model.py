"""The indicator catalog: indicators, the area hierarchy and the arrays the hot path uses.

Codes are dense integers: an indicator's code is its position in ``Catalog.indicators``, a street's
code is its position in ``Catalog.streets``. A series is one (indicator, street) pair with the dense id
``indicator_code * n_streets + street_code`` (see :meth:`Catalog.series_id`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

Direction = Literal["up", "down", "both"]
BAD_SIGN: dict[str, int] = {"up": 1, "down": -1, "both": 0}  # the sign of badness; both: |value - center|
Basis = Literal["value", "zscore"]
Profile = Literal["flat", "commute", "daytime", "evening"]
FlatNormal = Literal["no", "zero", "any"]

DOMAINS: tuple[str, ...] = (
    "traffic", "rail", "water", "drainage", "flood", "power", "gas", "telecom",
    "bridge", "tunnel", "air", "weather", "hotline", "emergency", "crowds",
)
LEVEL_NAMES: tuple[str, ...] = ("normal", "blue", "yellow", "orange", "red")  # indexed by the level code
NORMAL, BLUE, YELLOW, ORANGE, RED = range(5)  # level codes: higher is worse
LEVEL_NAMES_ZH: tuple[str, ...] = ("正常", "蓝色", "黄色", "橙色", "红色")
LEVEL_COLOURS: dict[str, str] = {
    "normal": "green", "blue": "blue", "yellow": "yellow", "orange": "orange", "red": "red",
}


LEVELS: tuple[str, ...] = LEVEL_NAMES[BLUE:]  # the warning levels, codes 1..4
NOT_SET = math.nan


@dataclass(frozen=True)
class Thresholds:
    """Warning thresholds, blue < yellow < orange < red in badness. A level the catalog does not give is NaN
    (:data:`NOT_SET`): that level is never reached (see :meth:`effective`)."""

    blue: float = NOT_SET
    yellow: float = NOT_SET
    orange: float = NOT_SET
    red: float = NOT_SET

    def as_tuple(self) -> tuple[float, float, float, float]:
        """All four, NaN where not set."""
        return (self.blue, self.yellow, self.orange, self.red)

    def given(self) -> tuple[tuple[str, float], ...]:
        """(level name, threshold) of the levels that are set, from blue to red."""
        return tuple((name, v) for name, v in zip(LEVELS, self.as_tuple(), strict=True) if not math.isnan(v))

    def is_set(self, level: str) -> bool:
        return not math.isnan(float(getattr(self, level)))

    def effective(self, bad: Direction) -> tuple[float, float, float, float]:
        """Thresholds for counting levels: a level that is not set takes the next more severe threshold (so a
        value crossing it jumps straight to that level), and beyond the most severe one set nothing is reached
        (+inf in the bad direction). With none set, every level is unreachable."""
        beyond = -math.inf if bad == "down" else math.inf
        out: list[float] = []
        following = beyond
        for v in reversed(self.as_tuple()):
            following = following if math.isnan(v) else v
            out.append(following)
        return tuple(reversed(out))  # type: ignore[return-value]


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
    flat_normal: FlatNormal = "no"  # "zero": long runs of zero are normal; "any": any flat line is normal
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
    streets: int  # the number of streets: listed in the catalog, or generated (the approximate real count)
    listed: bool = False  # True when the catalog lists the streets (ids, names, coordinates)


@dataclass(frozen=True)
class City:
    id: str
    name_zh: str
    name_en: str
    timezone_offset_hours: float  # standard-time offset (from ``timezone`` when given); seasonality uses it
    lat: float
    lon: float
    timezone: str = ""  # IANA time zone, e.g. Asia/Shanghai


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
        """Shape (n_indicators, 4): blue, yellow, orange, red as levels are counted (:meth:`Thresholds.effective`:
        a level not set takes the next more severe threshold; beyond the most severe set, +-inf)."""
        return np.array([i.thresholds.effective(i.bad) for i in self.indicators], dtype=np.float64).reshape(-1, 4)

    @cached_property
    def flat_normal_array(self) -> npt.NDArray[np.int8]:
        """0: a flat line is suspicious (stuck sensor); 1: runs of zero are normal; 2: any flat line is normal."""
        m = {"no": 0, "zero": 1, "any": 2}
        return np.array([m[i.flat_normal] for i in self.indicators], dtype=np.int8)

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
        return np.array([BAD_SIGN[i.bad] for i in self.indicators], dtype=np.int8)

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

    def with_streets(self, street_ids: set[str]) -> Catalog:
        """This catalog restricted to the given streets (and the districts that keep one), e.g. the areas of a
        history; indicators are unchanged (models are matched by indicator)."""
        streets = tuple(s for s in self.streets if s.id in street_ids)
        kept = {s.district_id for s in streets}
        return replace(self, streets=streets, districts=tuple(d for d in self.districts if d.id in kept))

    def streets_of(self, district_id: str) -> tuple[Street, ...]:
        return tuple(s for s in self.streets if s.district_id == district_id)
