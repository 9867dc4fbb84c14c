"""Ground truth of a simulated run: incident records, NAB-format label windows, fault episodes.

The noise-free signal of a series is its seasonal expected value plus the incident effects (no shared factors,
no noise, no faults), clipped to the valid range. It is evaluated at the series' own reading times, so an
"orange crossing" is the first reading at which the noise-free signal is at the orange level or worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from vitals.catalog.model import ORANGE
from vitals.health.levels import warning_levels
from vitals.simulator.config import from_ns
from vitals.simulator.grid import reading_times
from vitals.simulator.incidents import INCIDENT_KINDS

if TYPE_CHECKING:
    from vitals.catalog.model import Catalog
    from vitals.simulator.config import SimulatorConfig
    from vitals.simulator.faults import Episodes
    from vitals.simulator.grid import Selection
    from vitals.simulator.incidents import EffectRows, Incident
    from vitals.simulator.signal import SignalModel


class SimulatedCity(Protocol):
    """What the ground truth is computed from (:class:`vitals.simulator.city.CitySimulator` has it)."""

    catalog: Catalog
    config: SimulatorConfig
    selection: Selection
    signal: SignalModel
    incident_list: list[Incident]
    effects: EffectRows
    episodes: Episodes

NAB_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}Z" if moment.microsecond else "Z")


@dataclass(frozen=True)
class SeriesTruth:
    """How one incident affected one series."""

    indicator: str
    street: str
    window_start: datetime  # label window: the series' onset start .. end of its recovery
    window_end: datetime
    delta: float  # value change on the plateau (indicator units, signed)
    peak_level: int  # highest warning level of the noise-free signal at the series' readings in the window
    orange_at: datetime | None  # first reading at orange or worse in the noise-free signal

    def as_dict(self) -> dict[str, Any]:
        return {"indicator": self.indicator, "street": self.street, "window_start": iso(self.window_start),
                "window_end": iso(self.window_end), "delta": round(self.delta, 6), "peak_level": self.peak_level,
                "orange_at": iso(self.orange_at) if self.orange_at else None}


@dataclass(frozen=True)
class IncidentRecord:
    index: int
    kind: str
    district: str
    streets: tuple[str, ...]
    indicators: tuple[str, ...]  # affected indicators that are simulated, primary first
    severity: float
    start: datetime
    onset_end: datetime  # plateau starts (for the primary indicator)
    plateau_end: datetime
    end: datetime  # recovery complete (for the primary indicator)
    series: tuple[SeriesTruth, ...]

    @property
    def primary(self) -> str:
        return INCIDENT_KINDS[self.kind].primary

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "district": self.district, "streets": list(self.streets),
                "indicators": list(self.indicators), "primary": self.primary, "severity": self.severity,
                "start": iso(self.start), "onset_end": iso(self.onset_end), "plateau_end": iso(self.plateau_end),
                "end": iso(self.end), "series": [s.as_dict() for s in self.series]}


class GroundTruth:
    """Computed once per simulator (vectorized over all effect rows)."""

    def __init__(self, sim: SimulatedCity) -> None:
        self.sim = sim
        self.rows = self._series_truth()
        self.records = self._records()

    def _series_truth(self) -> list[SeriesTruth]:
        sim, eff = self.sim, self.sim.effects
        cat, sel = sim.catalog, sim.selection
        if not len(eff):
            return []
        row, ts, _ = reading_times(sel, eff.local, sim.config.start_ns, eff.t0_ns, eff.t1_ns)
        local = eff.local[row]
        noise_free = np.clip(sim.signal.expected(local, ts) + eff.delta_at(local, ts),
                             cat.valid_min_array[sel.indicator[local]], cat.valid_max_array[sel.indicator[local]])
        level = warning_levels(cat, sel.indicator[local], noise_free, ts, sim.signal.seasonal)
        peak = np.zeros(len(eff), dtype=np.int64)
        np.maximum.at(peak, row, level.astype(np.int64))
        orange_first = np.full(len(eff), -1, dtype=np.int64)
        hits = np.flatnonzero(level >= ORANGE)
        uniq, first = np.unique(row[hits], return_index=True)  # readings are in time order within a row
        orange_first[uniq] = ts[hits[first]]
        out = []
        for r in range(len(eff)):
            s = int(eff.local[r])
            out.append(SeriesTruth(
                indicator=cat.indicators[int(sel.indicator[s])].id, street=cat.streets[int(sel.street[s])].id,
                window_start=from_ns(int(eff.t0_ns[r])), window_end=from_ns(int(eff.t1_ns[r])),
                delta=float(eff.delta[r]), peak_level=int(peak[r]),
                orange_at=from_ns(int(orange_first[r])) if orange_first[r] >= 0 else None,
            ))
        return out

    def _records(self) -> list[IncidentRecord]:
        sim, cat = self.sim, self.sim.catalog
        by_incident: dict[int, list[SeriesTruth]] = {}
        for r, truth in enumerate(self.rows):
            by_incident.setdefault(int(sim.effects.incident[r]), []).append(truth)
        records = []
        for inc in sim.incident_list:
            series = sorted(by_incident.get(inc.index, []), key=lambda t: (t.window_start, t.indicator, t.street))
            order = [e.indicator for e in INCIDENT_KINDS[inc.kind].effects]
            present = {t.indicator for t in series}
            records.append(IncidentRecord(
                index=inc.index, kind=inc.kind, district=cat.districts[inc.district].id,
                streets=tuple(cat.streets[s].id for s in inc.streets),
                indicators=tuple(i for i in order if i in present), severity=inc.severity,
                start=from_ns(inc.start_ns), onset_end=from_ns(inc.start_ns + inc.onset_ns),
                plateau_end=from_ns(inc.start_ns + inc.onset_ns + inc.plateau_ns), end=from_ns(inc.end_ns),
                series=tuple(series),
            ))
        return records

    def labels(self, min_level: int = 1) -> dict[str, list[list[str]]]:
        """Windows per ``<indicator>/<street>`` (overlapping windows merged), for series whose noise-free
        signal reached at least ``min_level`` (0 = every affected series)."""
        spans: dict[str, list[tuple[datetime, datetime]]] = {}
        for t in self.rows:
            if t.peak_level >= min_level:
                spans.setdefault(f"{t.indicator}/{t.street}", []).append((t.window_start, t.window_end))
        out: dict[str, list[list[str]]] = {}
        for key in sorted(spans):
            merged: list[list[datetime]] = []
            for lo, hi in sorted(spans[key]):
                if merged and lo <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], hi)
                else:
                    merged.append([lo, hi])
            out[key] = [[lo.strftime(NAB_TIME_FORMAT), hi.strftime(NAB_TIME_FORMAT)] for lo, hi in merged]
        return out

    def fault_episodes(self) -> list[dict[str, Any]]:
        sim = self.sim
        eps, sel, cat = sim.episodes, sim.selection, sim.catalog
        names = {1: "stuck", 2: "silent"}
        return [{
            "kind": names[int(eps.kind[e])], "indicator": cat.indicators[int(sel.indicator[eps.local[e]])].id,
            "street": cat.streets[int(sel.street[eps.local[e]])].id, "start": iso(from_ns(int(eps.start_ns[e]))),
            "end": iso(from_ns(int(eps.end_ns[e]))),
            "value": None if np.isnan(eps.value[e]) else float(eps.value[e]),
        } for e in range(len(eps))]

    def fault_labels(self) -> dict[str, list[list[str]]]:
        """Stuck and silent episodes as NAB-format windows (for data-quality detectors)."""
        out: dict[str, list[list[str]]] = {}
        for ep in self.fault_episodes():
            lo = datetime.fromisoformat(str(ep["start"]))
            hi = datetime.fromisoformat(str(ep["end"]))
            out.setdefault(f"{ep['indicator']}/{ep['street']}", []).append(
                [lo.strftime(NAB_TIME_FORMAT), hi.strftime(NAB_TIME_FORMAT)])
        return dict(sorted(out.items()))
