"""The normal behaviour of every series: catalog seasonality, shared area factors, rain, series noise.

value = expected(indicator, t)                        daily and weekly shape from the catalog
      + noise_sd * (sum_k loading[i, k] * factor_k(district, t)   shared by the indicators of an area
                    + b * slow(series, t) + c * white(reading))    per-series noise
      + rain_coupling[i](rain(district, t))           background showers drive ponding, sewers, traffic

The factors are smooth standard-normal processes (value noise with knots every few hours), each a mix of a
city-wide and a district component: "activity" (traffic index up, expressway speed down, metro load up ...),
"heat" (temperature, substation load, water demand), "haze" (AQI, PM2.5) and "wet" (showers). Loadings are
correlations, and b, c are chosen so that every series keeps the catalog's noise standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog, SeasonalModel
from vitals.health.levels import bad_sign, offset_to_threshold
from vitals.simulator.grid import Selection
from vitals.simulator.randomness import (
    F64,
    SALT_KNOT,
    SALT_SLOW,
    U64,
    as_u64,
    combine,
    normal,
    seed_key,
    smoothstep,
    to_unit,
)
from vitals.units import NS_PER_S

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Factor:
    name: str
    knot_hours: float  # distance between independent knots (the time scale of the factor)
    city_share: float  # share of variance common to the whole city (the rest is per district)


FACTORS: tuple[Factor, ...] = (
    Factor("activity", 3.0, 0.3),
    Factor("heat", 6.0, 0.8),
    Factor("haze", 8.0, 0.8),
    Factor("wet", 2.0, 0.5),
)
WET = 3  # index of the factor that makes rain

# Correlation of each indicator with the shared factors (indicators not listed have none).
LOADINGS: dict[str, dict[str, float]] = {
    "traffic_index": {"activity": 0.55},
    "expressway_speed": {"activity": -0.5},
    "traffic_accidents": {"activity": 0.3},
    "metro_load": {"activity": 0.5},
    "station_entries_deviation": {"activity": 0.45},
    "water_pressure": {"heat": -0.3, "activity": -0.2},
    "substation_load": {"heat": 0.6, "activity": 0.2},
    "voltage_deviation": {"heat": -0.2},
    "mobile_network_load": {"activity": 0.45},
    "bridge_strain": {"activity": 0.4},
    "tunnel_co": {"activity": 0.45, "haze": 0.2},
    "air_quality_index": {"haze": 0.75},
    "pm25": {"haze": 0.75},
    "air_temperature": {"heat": 0.75},
    "hotline_tickets": {"activity": 0.2, "heat": 0.2},
    "emergency_calls": {"activity": 0.25},
    "crowd_occupancy": {"activity": 0.45},
}

def distance_to_blue(catalog: Catalog) -> F64:
    """Per indicator: the signed value change from its normal level to its blue threshold (bad direction), as
    :func:`vitals.health.levels.offset_to_threshold` has it (z-score indicators: blue z times the noise sd;
    bad=both: from the centre upwards).
    """
    out = np.zeros(catalog.n_indicators, dtype=np.float64)
    for code, ind in enumerate(catalog.indicators):
        blue = float(catalog.thresholds_array[code, 0])  # the first level set (blue, or the next one set)
        if np.isfinite(blue):
            out[code] = offset_to_threshold(ind, blue)
        else:  # no thresholds at all: four noise sd in the bad direction
            out[code] = 4.0 * ind.seasonality.noise * (bad_sign(ind) or 1)
    return out


def unique_inverse(values: I64) -> tuple[I64, I64]:
    """Distinct values and the index of each value among them (fast path for sorted input)."""
    if values.size and np.all(values[1:] >= values[:-1]):
        change = np.empty(values.size, dtype=bool)
        change[0] = True
        np.not_equal(values[1:], values[:-1], out=change[1:])
        return values[change], np.cumsum(change) - 1
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, inverse.reshape(-1)


# Background showers: rain intensity r = max(0, wet - RAIN_ONSET_SD), in standard deviations (about 11% of the
# time, rarely above 1.8). Its effect on an indicator is unit-free: (knee, gain) moves the indicator by
# gain * max(0, r - knee) times the distance from its normal level to its blue threshold, in the bad direction.
RAIN_ONSET_SD = 1.2
RAIN_COUPLING: dict[str, tuple[float, float]] = {
    "rainfall_1h": (0.0, 0.45),
    "underpass_ponding": (0.8, 0.5),
    "sewer_fill": (0.0, 0.35),
    "traffic_index": (0.0, 0.2),
    "expressway_speed": (0.0, 0.2),
    "river_level": (0.0, 0.15),
    "hotline_tickets": (0.0, 0.25),
    "traffic_accidents": (0.0, 0.2),
}
SLOW_SHARE = 0.35  # share of the series' own variance that is slow (hourly knots); the rest is white
SLOW_KNOT_NS = 3600 * NS_PER_S
SQRT3 = float(np.sqrt(3.0))


class SignalModel:
    """Normal (incident-free, fault-free) values of the selected series, a pure function of (series, time)."""

    def __init__(self, catalog: Catalog, selection: Selection, seed: int) -> None:
        self.catalog = catalog
        self.seasonal = SeasonalModel(catalog)
        self.seed = seed
        ids = [ind.id for ind in catalog.indicators]
        load = np.array([[LOADINGS.get(i, {}).get(f.name, 0.0) for f in FACTORS] for i in ids], dtype=np.float64)
        own = 1.0 - (load**2).sum(axis=1)
        ind = selection.indicator
        self.sigma = self.seasonal.noise[ind]
        self.loadings = load[ind]
        self.slow_scale = np.sqrt(SLOW_SHARE * own)[ind]
        self.white_scale = np.sqrt((1.0 - SLOW_SHARE) * own)[ind]
        knee_gain = np.array([RAIN_COUPLING.get(i, (0.0, 0.0)) for i in ids], dtype=np.float64)
        self.rain_knee = knee_gain[ind, 0]
        self.rain_slope = (knee_gain[:, 1] * distance_to_blue(catalog))[ind]
        self.selection = selection
        self.n_districts = len(catalog.districts)
        self.n_indicators = catalog.n_indicators
        self.knot_keys = [seed_key(seed, SALT_KNOT + k) for k in range(len(FACTORS))]

    # ---- shared factors ----------------------------------------------------------------------------
    def factors(self, ts_ns: I64) -> F64:
        """Shape (len(ts_ns), n_districts, n_factors): standard-normal factor values of every district."""
        out = np.empty((ts_ns.size, self.n_districts, len(FACTORS)), dtype=np.float64)
        for k, f in enumerate(FACTORS):
            knot_ns = int(f.knot_hours * 3600) * NS_PER_S
            city = self._value_noise(self.knot_keys[k], ts_ns, knot_ns, self.n_districts + 1)
            out[:, :, k] = np.sqrt(f.city_share) * city[:, -1:] + np.sqrt(1.0 - f.city_share) * city[:, :-1]
        return out

    @staticmethod
    def _value_noise(key: np.uint64, ts_ns: I64, knot_ns: int, n_rows: int) -> F64:
        """Unit-variance smooth noise for ``n_rows`` independent rows at times ``ts_ns``: (len(ts), n_rows)."""
        j = ts_ns // knot_ns
        w = smoothstep((ts_ns - j * knot_ns) / knot_ns)
        j0 = int(j.min()) if j.size else 0
        span = (int(j.max()) if j.size else 0) - j0 + 2
        knots = np.arange(j0, j0 + span, dtype=np.int64)
        rows = np.arange(n_rows, dtype=np.int64)
        counters = as_u64(rows[:, None] * (1 << 40) + knots[None, :])
        table = normal(combine(key, counters))  # (n_rows, span)
        lo = table[:, j - j0].T
        hi = table[:, j - j0 + 1].T
        return (lo * (1.0 - w)[:, None] + hi * w[:, None]) / np.sqrt((1.0 - w) ** 2 + w**2)[:, None]

    # ---- per-series noise --------------------------------------------------------------------------
    def slow_noise(self, local: I64, ts_ns: I64) -> F64:
        """Unit-variance per-series noise with hourly knots (uniform knots: cheap, smooth enough)."""
        j = ts_ns // SLOW_KNOT_NS
        w = smoothstep((ts_ns - j * SLOW_KNOT_NS) / SLOW_KNOT_NS)
        key = self.selection.key[local] ^ np.uint64(SALT_SLOW)
        lo = to_unit(combine(key, as_u64(j)))
        hi = to_unit(combine(key, as_u64(j + 1)))
        mixed = (lo * (1.0 - w) + hi * w - 0.5) * (2.0 * SQRT3)
        return mixed / np.sqrt((1.0 - w) ** 2 + w**2)

    def reading_keys(self, local: I64, n: I64) -> U64:
        """One random key per reading: (series key, reading number)."""
        return combine(self.selection.key[local], as_u64(n))

    # ---- the normal value --------------------------------------------------------------------------
    def normal_values(self, local: I64, ts_ns: I64, n: I64, keys: U64 | None = None) -> F64:
        """Normal value of readings (series ``local``, event time ``ts_ns``, reading number ``n``).

        Expected values and area factors are computed once per distinct time (and indicator or district),
        then gathered per reading: a block of readings shares a few hundred distinct times.
        """
        if local.size == 0:
            return np.empty(0, dtype=np.float64)
        uniq, inverse = unique_inverse(ts_ns)
        ind = self.selection.indicator[local]
        n_ind = self.n_indicators
        expected = self.seasonal.expected(np.tile(np.arange(n_ind), uniq.size), np.repeat(uniq, n_ind))
        value = expected[inverse * n_ind + ind]
        factors = self.factors(uniq).reshape(-1, len(FACTORS))  # rows: (time, district)
        grid = factors[inverse * self.n_districts + self.selection.district[local]]  # (n, K)
        area = np.einsum("ij,ij->i", grid, self.loadings[local])
        if keys is None:
            keys = self.reading_keys(local, n)
        own = self.slow_scale[local] * self.slow_noise(local, ts_ns) + self.white_scale[local] * normal(keys)
        value += self.sigma[local] * (area + own)
        rain = np.maximum(grid[:, WET] - RAIN_ONSET_SD, 0.0)
        value += self.rain_slope[local] * np.maximum(rain - self.rain_knee[local], 0.0)
        return value

    def expected(self, local: I64, ts_ns: I64) -> F64:
        """The seasonal expected value (the noise-free normal signal)."""
        return self.seasonal.expected(self.selection.indicator[local], ts_ns)
