"""Configuration of the city simulator: frozen records, validated against a catalog before use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from vitals.errors import ConfigError
from vitals.units import DAY_S, NS_PER_S

# A fixed Monday, so that tests and default runs are reproducible (the CLI defaults to "now").
DEFAULT_START = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class IncidentSpec:
    """One incident to inject.

    kind:      one of :data:`vitals.simulator.incidents.INCIDENT_KINDS` (e.g. ``"rainstorm"``).
    district:  district id of the catalog.
    start:     aware datetime when the onset begins.
    streets:   street ids inside the district; empty = chosen by the simulator from the seed.
    onset:     length of the slow ramp from normal to the plateau (early warning has this long).
    plateau:   time at full strength.
    recovery:  length of the ramp back to normal.
    severity:  warning level the primary indicator reaches on the plateau, as a position on the threshold
               scale (3 = orange threshold, 3.5 = half-way from orange to red, 4 = red); at least 3.
    """

    kind: str
    district: str
    start: datetime
    streets: tuple[str, ...] = ()
    onset: timedelta = timedelta(minutes=60)
    plateau: timedelta = timedelta(minutes=60)
    recovery: timedelta = timedelta(minutes=45)
    severity: float = 3.5


@dataclass(frozen=True)
class FaultRates:
    """Sensor faults. Episode faults are rates per series per day; reading faults are probabilities per reading.

    stuck:      the sensor repeats one value for ``stuck_hours`` (episodes per series per day).
    silent:     the sensor sends nothing for ``silent_hours`` (episodes per series per day).
    spike:      one reading off by 8-16 noise standard deviations (clipped to the valid range).
    impossible: one reading outside the indicator's valid range.
    duplicate:  one reading sent twice in the same batch.
    late:       one reading that keeps its event time but arrives 1 step to ``late_max_s`` later (at least 1 step).
    """

    stuck: float = 0.02
    silent: float = 0.02
    spike: float = 2e-4
    impossible: float = 1e-4
    duplicate: float = 5e-4
    late: float = 5e-4
    stuck_hours: tuple[float, float] = (1.0, 6.0)
    silent_hours: tuple[float, float] = (0.25, 4.0)
    late_max_s: float = 900.0

    @classmethod
    def none(cls) -> FaultRates:
        """No faults at all."""
        return cls(stuck=0.0, silent=0.0, spike=0.0, impossible=0.0, duplicate=0.0, late=0.0)

    @property
    def per_reading_total(self) -> float:
        return self.spike + self.impossible + self.duplicate + self.late


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that determines a simulated run; the same config and catalog give the same readings.

    seed:        the only source of randomness.
    start:       aware datetime, a whole second (converted to UTC).
    duration:    simulated time span; it is cut into ``ceil(duration / step_s)`` steps.
    step_s:      event-time length of one batch (a step) in whole seconds.
    incidents:   explicit :class:`IncidentSpec` records, or ``"auto"`` (Poisson, ``incidents_per_day`` city-wide).
    faults:      sensor fault rates (:meth:`FaultRates.none` for clean data).
    streets:     street ids to simulate (None = every street of the catalog).
    indicators:  indicator ids to simulate (None = every indicator of the catalog).
    sensors:     fill ``ReadingBatch.sensor`` with sensor ids (files always carry them).
    """

    seed: int = 42
    start: datetime = DEFAULT_START
    duration: timedelta = timedelta(days=1)
    step_s: int = 10
    incidents: tuple[IncidentSpec, ...] | Literal["auto"] = "auto"
    incidents_per_day: float = 4.0
    faults: FaultRates = field(default_factory=FaultRates)
    streets: tuple[str, ...] | None = None
    indicators: tuple[str, ...] | None = None
    sensors: bool = False

    @property
    def start_ns(self) -> int:
        return to_ns(self.start)

    @property
    def step_ns(self) -> int:
        return int(self.step_s) * NS_PER_S

    @property
    def n_steps(self) -> int:
        total_ns = int(self.duration.total_seconds() * NS_PER_S)
        return -(-total_ns // self.step_ns)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.n_steps * self.step_ns

    def check(self) -> None:
        """Raise :class:`ConfigError` listing every problem of the catalog-independent settings."""
        problems = list(_basic_problems(self))
        if problems:
            msg = "invalid simulator configuration: " + "; ".join(problems)
            raise ConfigError(msg)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime (exact for whole microseconds)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{moment.isoformat()} has no timezone: give an aware datetime (e.g. with tzinfo=UTC)"
        raise ConfigError(msg)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * DAY_S + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    """Aware UTC datetime of nanoseconds since the epoch (microsecond precision)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1_000)


def _basic_problems(cfg: SimulatorConfig) -> list[str]:
    out: list[str] = []
    if cfg.start.tzinfo is None or cfg.start.utcoffset() is None:
        out.append(f"start {cfg.start.isoformat()} has no timezone (use an aware UTC datetime)")
    elif cfg.start.microsecond:
        out.append(f"start {cfg.start.isoformat()} must be a whole second")
    if cfg.step_s < 1 or int(cfg.step_s) != cfg.step_s:
        out.append(f"step_s must be a whole number of seconds >= 1, not {cfg.step_s}")
    if cfg.duration <= timedelta(0):
        out.append(f"duration must be positive, not {cfg.duration}")
    if not cfg.incidents_per_day >= 0 or not math.isfinite(cfg.incidents_per_day):  # NaN passed "< 0"
        out.append(f"incidents_per_day must be a number >= 0, not {cfg.incidents_per_day}")
    if not 0 <= cfg.seed < 2**63:
        out.append(f"seed must be in [0, 2**63), not {cfg.seed}")
    f = cfg.faults
    for name in ("stuck", "silent", "spike", "impossible", "duplicate", "late"):
        if not getattr(f, name) >= 0 or not math.isfinite(getattr(f, name)):  # NaN turned every fault off
            out.append(f"fault rate {name} must be a number >= 0, not {getattr(f, name)}")
    if f.per_reading_total > 0.5:
        out.append(f"per-reading fault rates add up to {f.per_reading_total:g}; keep them under 0.5")
    for name in ("stuck_hours", "silent_hours"):
        lo, hi = getattr(f, name)
        if not 0 < lo <= hi:
            out.append(f"{name} must be (low, high) with 0 < low <= high, not {(lo, hi)}")
    if f.late_max_s <= 0:
        out.append(f"late_max_s must be positive, not {f.late_max_s:g} (late readings arrive at least a step late)")
    if cfg.incidents != "auto":
        for spec in cfg.incidents:
            if spec.severity < 3:
                out.append(f"incident {spec.kind} in {spec.district}: severity {spec.severity} < 3 (orange)")
            if min(spec.onset, spec.plateau, spec.recovery) <= timedelta(0):
                out.append(f"incident {spec.kind} in {spec.district}: onset, plateau and recovery must be > 0")
            if spec.start.tzinfo is None:
                out.append(f"incident {spec.kind} in {spec.district}: start has no timezone")
            elif cfg.start.tzinfo is not None and (
                    spec.start >= cfg.start + cfg.duration
                    or spec.start + spec.onset + spec.plateau + spec.recovery <= cfg.start):  # was silently none
                out.append(f"incident {spec.kind} in {spec.district} at {spec.start.isoformat()} is over before or "
                           f"starts after the simulated {cfg.start.isoformat()} + {cfg.duration}")
    return out
