"""Incident kinds, their schedule, and their effect on the series of the streets they hit.

An incident has a slow onset (a smoothstep ramp), a plateau and a recovery. Each kind moves a primary
indicator and, with delays, secondary ones. Effect sizes are set on the warning-threshold scale: the primary
indicator of an incident of severity s reaches level s on the plateau (3 = orange, 4 = red) in the noise-free
signal, whatever the time of day; secondary indicators reach s minus a per-effect offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.health.levels import bad_sign, oriented_thresholds
from vitals.simulator.config import IncidentSpec, SimulatorConfig, to_ns
from vitals.simulator.grid import Selection, matching_rows
from vitals.simulator.randomness import F64, smoothstep
from vitals.simulator.signal import SignalModel
from vitals.units import DAY_S, NS_PER_S

I64 = npt.NDArray[np.int64]
MINUTE = 60 * NS_PER_S


@dataclass(frozen=True)
class Effect:
    indicator: str
    offset: float = 0.0  # target level = severity - offset
    lag_min: float = 0.0  # delay after the incident's start
    sign: int = 1  # side of the centre a bad=both indicator moves to


@dataclass(frozen=True)
class IncidentKind:
    name: str
    effects: tuple[Effect, ...]  # the first is the primary
    streets: tuple[int, int]  # (min, max) streets hit; (0, 0) = every simulated street of the district
    description: str

    @property
    def primary(self) -> str:
        return self.effects[0].indicator


INCIDENT_KINDS: dict[str, IncidentKind] = {k.name: k for k in (
    IncidentKind("rainstorm", (
        Effect("rainfall_1h"), Effect("underpass_ponding", 0.1, 15), Effect("sewer_fill", 0.3, 10),
        Effect("traffic_index", 1.0, 15), Effect("expressway_speed", 1.0, 15),
        Effect("hotline_tickets", 0.8, 30), Effect("traffic_accidents", 1.5, 20), Effect("river_level", 1.5, 60),
    ), (0, 0), "rain builds up over the district; ponding, sewer fill and traffic follow, then the hotline"),
    IncidentKind("water_main_burst", (
        Effect("water_pressure"), Effect("water_night_flow", 0.5, 0), Effect("water_turbidity", 0.5, 10),
        Effect("water_chlorine", 1.5, 20), Effect("hotline_tickets", 0.8, 20),
    ), (1, 3), "a main leaks then bursts: pressure falls, night flow and turbidity rise, residents call"),
    IncidentKind("substation_overload", (
        Effect("substation_load"), Effect("voltage_deviation", 0.8, 15, -1), Effect("power_outage", 0.3, 30),
        Effect("hotline_tickets", 1.2, 40),
    ), (2, 5), "load climbs past capacity, voltage sags, then customers lose supply"),
    IncidentKind("gas_leak", (
        Effect("gas_concentration"), Effect("gas_pressure_deviation", 0.8, 5, -1),
        Effect("emergency_calls", 1.5, 20),
    ), (1, 2), "combustible gas accumulates underground while main pressure drops"),
    IncidentKind("metro_disruption", (
        Effect("metro_load"), Effect("station_entries_deviation", 0.6, 5), Effect("crowd_occupancy", 1.0, 10),
        Effect("traffic_index", 1.2, 15), Effect("hotline_tickets", 1.5, 30),
    ), (2, 4), "a line slows down: sections overload, stations and streets crowd, roads fill"),
    IncidentKind("crowd_surge", (
        Effect("crowd_occupancy"), Effect("mobile_network_load", 0.5, 5), Effect("metro_load", 1.0, 10),
        Effect("emergency_calls", 1.0, 15), Effect("traffic_index", 1.5, 15),
    ), (1, 3), "an event draws a crowd beyond capacity; phones, metro and emergency lines follow"),
)}


@dataclass(frozen=True)
class Incident:
    """A resolved incident (ids checked, streets chosen, times in ns)."""

    index: int
    kind: str
    district: int
    streets: tuple[int, ...]
    start_ns: int
    onset_ns: int
    plateau_ns: int
    recovery_ns: int
    severity: float

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.onset_ns + self.plateau_ns + self.recovery_ns


@dataclass(frozen=True, eq=False)
class EffectRows:
    """One row per affected series and incident, sorted by local series index."""

    local: I64
    incident: I64
    delta: F64  # value change on the plateau (indicator units, signed)
    t0_ns: I64  # start of this series' onset (incident start + lag)
    onset_ns: I64
    plateau_ns: I64
    recovery_ns: I64

    @property
    def t1_ns(self) -> I64:
        return self.t0_ns + self.onset_ns + self.plateau_ns + self.recovery_ns

    def __len__(self) -> int:
        return int(self.local.size)

    def subset(self, mask: npt.NDArray[np.bool_]) -> EffectRows:
        return EffectRows(self.local[mask], self.incident[mask], self.delta[mask], self.t0_ns[mask],
                          self.onset_ns[mask], self.plateau_ns[mask], self.recovery_ns[mask])

    def active(self, lo_ns: int, hi_ns: int) -> EffectRows:
        return self.subset((self.t0_ns < hi_ns) & (self.t1_ns > lo_ns))

    def envelope(self, idx: I64, ts_ns: I64) -> F64:
        tau = (ts_ns - self.t0_ns[idx]).astype(np.float64)
        rise = smoothstep(tau / self.onset_ns[idx])
        fall = 1.0 - smoothstep((tau - self.onset_ns[idx] - self.plateau_ns[idx]) / self.recovery_ns[idx])
        return np.where(tau < 0, 0.0, np.minimum(rise, fall))

    def delta_at(self, local: I64, ts_ns: I64) -> F64:
        """Sum of incident effects on readings (series ``local`` at ``ts_ns``)."""
        out = np.zeros(local.size, dtype=np.float64)
        if not len(self) or not local.size:
            return out
        for hit, idx in matching_rows(self.local, local):
            out[hit] += self.delta[idx] * self.envelope(idx, ts_ns[hit])
        return out


def resolve_incidents(catalog: Catalog, cfg: SimulatorConfig, sel: Selection) -> list[Incident]:
    """Explicit incidents checked against the catalog, or the automatic schedule drawn from the seed."""
    if cfg.incidents == "auto":
        return _auto_incidents(catalog, cfg, sel)
    out: list[Incident] = []
    for i, spec in enumerate(cfg.incidents):
        district, streets = _place(catalog, sel, spec, np.random.default_rng([cfg.seed, 0x1C1D, i]))
        out.append(Incident(
            index=i, kind=spec.kind, district=district, streets=streets, start_ns=to_ns(spec.start),
            onset_ns=_ns(spec.onset.total_seconds()), plateau_ns=_ns(spec.plateau.total_seconds()),
            recovery_ns=_ns(spec.recovery.total_seconds()), severity=float(spec.severity),
        ))
    return out


def _ns(seconds: float) -> int:
    return round(seconds) * NS_PER_S


def _place(
    catalog: Catalog, sel: Selection, spec: IncidentSpec, rng: np.random.Generator,
) -> tuple[int, tuple[int, ...]]:
    kind = INCIDENT_KINDS.get(spec.kind)
    if kind is None:
        msg = f"unknown incident kind {spec.kind!r}: use one of {', '.join(INCIDENT_KINDS)}"
        raise ConfigError(msg)
    if kind.primary not in catalog.indicator_index or not np.any(
            sel.indicator == catalog.indicator_index[kind.primary]):
        msg = f"incident {spec.kind} needs indicator {kind.primary}, which is not simulated"
        raise ConfigError(msg)
    if spec.district not in catalog.district_index:
        msg = f"incident {spec.kind}: unknown district {spec.district!r} (see `vitals catalog show --areas`)"
        raise ConfigError(msg)
    district = catalog.district_index[spec.district]
    simulated = np.unique(sel.street[sel.district == district])
    if not simulated.size:
        msg = f"incident {spec.kind}: no simulated street in district {spec.district}"
        raise ConfigError(msg)
    if spec.streets:
        codes = [catalog.street_index.get(s, -1) for s in spec.streets]
        bad = [s for s, c in zip(spec.streets, codes, strict=True) if c not in set(simulated.tolist())]
        if bad:
            msg = f"incident {spec.kind}: street(s) {', '.join(bad)} not simulated streets of {spec.district}"
            raise ConfigError(msg)
        return district, tuple(sorted(codes))
    return district, _choose_streets(kind, simulated, rng)


def _choose_streets(kind: IncidentKind, simulated: I64, rng: np.random.Generator) -> tuple[int, ...]:
    lo, hi = kind.streets
    if hi == 0:
        return tuple(int(s) for s in simulated)
    k = min(int(rng.integers(lo, hi + 1)), int(simulated.size))
    first = int(rng.integers(0, simulated.size - k + 1))
    return tuple(int(s) for s in simulated[first:first + k])


def _auto_incidents(catalog: Catalog, cfg: SimulatorConfig, sel: Selection) -> list[Incident]:
    simulated = {catalog.indicators[int(c)].id for c in np.unique(sel.indicator)}
    kinds = [k for k in INCIDENT_KINDS.values() if k.primary in simulated]
    districts = np.unique(sel.district)
    total_ns = cfg.end_ns - cfg.start_ns
    warmup_ns = min(6 * 3600 * NS_PER_S, total_ns // 4)
    latest_ns = total_ns - 4 * 3600 * NS_PER_S  # leave room for onset and plateau before the end
    rng = np.random.default_rng([cfg.seed, 0xA070])
    if not kinds or latest_ns <= warmup_ns:
        return []
    n = int(rng.poisson(cfg.incidents_per_day * total_ns / (DAY_S * NS_PER_S)))
    out: list[Incident] = []
    for i in range(n):
        kind = kinds[int(rng.integers(len(kinds)))]
        district = int(districts[int(rng.integers(districts.size))])
        streets = _choose_streets(kind, np.unique(sel.street[sel.district == district]), rng)
        offset_s = int(rng.integers(warmup_ns // NS_PER_S, latest_ns // NS_PER_S))
        out.append(Incident(
            index=i, kind=kind.name, district=district, streets=streets, start_ns=cfg.start_ns + offset_s * NS_PER_S,
            onset_ns=_ns(rng.uniform(30, 90) * 60), plateau_ns=_ns(rng.uniform(30, 120) * 60),
            recovery_ns=_ns(rng.uniform(30, 90) * 60), severity=round(float(rng.uniform(3.3, 4.2)), 2),
        ))
    return out


def threshold_at(oriented: F64, level: float) -> float:
    """The oriented value at a position on the threshold scale (1 = blue ... 4 = red, linear between)."""
    if level <= 1:
        return float(oriented[0] - (1 - level) * (oriented[1] - oriented[0]))
    if level >= 4:
        return float(oriented[3] + (level - 4) * (oriented[3] - oriented[2]))
    k = int(np.floor(level))
    return float(oriented[k - 1] + (level - k) * (oriented[k] - oriented[k - 1]))


def build_effect_rows(
    catalog: Catalog, sel: Selection, signal: SignalModel, incidents: list[Incident], seed: int,
) -> EffectRows:
    """Effect rows of all incidents on the selected series, with plateau deltas that reach their targets."""
    oriented = oriented_thresholds(catalog)
    local_of = {(int(i), int(s)): k for k, (i, s) in enumerate(zip(sel.indicator, sel.street, strict=True))}
    cols: dict[str, list[float]] = {k: [] for k in ("local", "incident", "delta", "t0", "on", "pl", "re")}
    for inc in incidents:
        rng = np.random.default_rng([seed, 0xEFFC, inc.index])
        factors = rng.uniform(1.0, 1.2, size=len(inc.streets))
        for eff in INCIDENT_KINDS[inc.kind].effects:
            code = catalog.indicator_index.get(eff.indicator, -1)
            members = [(local_of[(code, s)], f) for s, f in zip(inc.streets, factors, strict=True)
                       if (code, s) in local_of]
            if not members:
                continue
            t0 = inc.start_ns + int(eff.lag_min * MINUTE)
            cadence_ns = catalog.indicators[code].cadence_s * NS_PER_S
            # an indicator slower than the incident keeps the effect one cadence longer, so a reading sees it
            plateau = inc.plateau_ns + (cadence_ns if cadence_ns > inc.end_ns - inc.start_ns else 0)
            delta = _plateau_delta(catalog, signal, oriented, eff, local=members[0][0],
                                   level=inc.severity - eff.offset, plateau_start=t0 + inc.onset_ns,
                                   plateau_ns=plateau)
            for local, factor in members:
                for key, v in (("local", local), ("incident", inc.index), ("delta", delta * factor), ("t0", t0),
                               ("on", inc.onset_ns), ("pl", plateau), ("re", inc.recovery_ns)):
                    cols[key].append(v)
    order = np.argsort(np.array(cols["local"], dtype=np.int64), kind="stable")
    ints = {k: np.array(cols[k], dtype=np.int64)[order] for k in ("local", "incident", "t0", "on", "pl", "re")}
    return EffectRows(ints["local"], ints["incident"], np.array(cols["delta"], dtype=np.float64)[order],
                      ints["t0"], ints["on"], ints["pl"], ints["re"])


def _plateau_delta(
    catalog: Catalog, signal: SignalModel, oriented: F64, eff: Effect, *, local: int, level: float,
    plateau_start: int, plateau_ns: int,
) -> float:
    """Signed value change that puts the noise-free oriented value at or above ``level`` all plateau long."""
    code = catalog.indicator_index[eff.indicator]
    ind = catalog.indicators[code]
    target = threshold_at(oriented[code], level)
    sigma = float(signal.seasonal.noise[code])
    if not np.isfinite(target):  # the catalog sets no threshold that high: six noise sd past the expected value
        target = 6.0 if ind.basis == "zscore" else math.nan  # z units; values: set below from the expected
    direction = bad_sign(ind) or eff.sign  # bad=both: the side the incident pushes
    if ind.basis == "zscore":  # oriented value = direction * (z - center) for both, direction * z otherwise
        center = ind.center if ind.bad == "both" else 0.0
        return direction * max(target + direction * center, 0.0) * sigma
    grid = np.arange(plateau_start, plateau_start + plateau_ns + 1, MINUTE, dtype=np.int64)
    expected = signal.expected(np.full(grid.size, local, dtype=np.int64), grid)
    center = ind.center if ind.bad == "both" else 0.0
    lowest = float(np.min(direction * (expected - center)))
    if not np.isfinite(target):
        target = lowest + 6.0 * sigma
    return direction * max(target - lowest, 0.0)
