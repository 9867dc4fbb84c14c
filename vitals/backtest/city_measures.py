"""Event recall, false alarms and early-warning lead time of the city's alarms against labelled incidents.

Definitions (also in ``docs/models.md``, "City backtest"):

- **Timeline**: every series sampled at every tick (the flow's forecast cadence, 60 s of event time): its
  warning level (``vitals_warning_level``, with hysteresis), the early-warning condition of the alert rule
  ``VitalsEarlyWarning`` (seconds to orange within the early-warning horizon, or the forecast level at that
  horizon >= orange; unless the level is already orange; the horizon follows the catalog's cadence, 30 min on the
  5-minute grid, 6 h on an hourly one: :mod:`vitals.forecasting.cadence`) and the anomaly score.
- **Alarm** (Prometheus alert semantics at tick resolution, :func:`firing`): a condition fires once it has held
  for the rule's ``for`` duration and keeps firing for its ``keep_firing_for`` after it ends. An alarm
  **episode** is a maximal run of firing ticks; its onset is its first tick. Kinds: ``level`` (warning level
  >= orange), ``early`` (the early-warning rule), ``warning`` (either: what the on-call staff hear about an
  orange situation), ``anomaly`` (anomaly score >= ``ANOMALY_THRESHOLD``).
- **Event**: a labelled window of one series (incident x series) whose signal reaches orange (``orange_ns``:
  the simulator's noise-free first orange reading, or, labels only, the first tick the measured level was
  orange). **Detected** by an alarm kind when it fires at any tick inside the window. **Recall** = detected /
  events.
- **False alarm**: an episode whose onset lies outside every labelled window of its series (the window widened
  by ``after_s`` for hysteresis and ``keep_firing_for``), after the warm-up. Reported per indicator per
  district per day (summed over the district's streets) and per series per day.
- **Lead time** of an event: ``orange_ns`` minus the first early-warning firing tick in
  ``[window start, orange_ns]``; 0 when none fired before the crossing. Slow-onset events are those whose
  crossing comes at least ``slow_onset_s`` after the window start (time for a warning to exist at all).
  Per incident: its first orange crossing minus its first early warning of a series before that series'
  crossing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import ORANGE
from vitals.labels import LabelledWindow
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.units import NS_PER_S

# measure()'s defaults: warm-up before false alarms count, widening of a window after its end, slow onset
WARMUP_S = 6 * 3600.0
AFTER_S = 3600.0
SLOW_ONSET_S = 1200.0


@dataclass(frozen=True)
class Hold:
    """An alert rule's ``for`` and ``keep_firing_for`` in seconds."""

    for_s: float
    keep_s: float


# the defaults of vitals.alerting.options (orange level, early warning, anomaly)
DEFAULT_HOLDS: dict[str, Hold] = {"level": Hold(60, 300), "early": Hold(120, 300), "anomaly": Hold(300, 600)}


@dataclass(frozen=True, eq=False)
class Timeline:
    """Per series (rows, global ids) and tick (columns, UTC ns): level, early-warning condition, anomaly score;
    with ``run_city(..., detail=True)`` also the last value and the detector's expected value and band (for the
    report's plots; None otherwise)."""

    ticks_ns: npt.NDArray[np.int64]
    series: npt.NDArray[np.int64]
    level: npt.NDArray[np.int8]
    early: npt.NDArray[np.bool_]
    anomaly: npt.NDArray[np.float32]
    value: npt.NDArray[np.float32] | None = None
    expected: npt.NDArray[np.float32] | None = None
    lower: npt.NDArray[np.float32] | None = None
    upper: npt.NDArray[np.float32] | None = None

    def rows(self, first: int, stop: int) -> Timeline:
        """The timeline of series ``first:stop`` (views; the report's detail left out)."""
        return Timeline(ticks_ns=self.ticks_ns, series=self.series[first:stop], level=self.level[first:stop],
                        early=self.early[first:stop], anomaly=self.anomaly[first:stop])

    @property
    def tick_s(self) -> float:
        return float(np.median(np.diff(self.ticks_ns))) / NS_PER_S if self.ticks_ns.size > 1 else 60.0


FIRING_BLOCK_CELLS = 1 << 22  # firing's temporaries (~40 bytes a cell) are bounded to this many cells at a time


def firing(condition: npt.NDArray[np.bool_], tick_s: float, hold: Hold) -> npt.NDArray[np.bool_]:
    """(N, T) alert firing state: the condition held for ``for_s`` (true at ticks spanning it), kept for
    ``keep_s`` after the last tick that satisfied that. Rows are independent: computed in blocks of rows, so a
    month of the full city (28,868 series x 43,200 minutes) needs the result, not 40 bytes a cell at once."""
    n, t = condition.shape
    out = np.empty((n, t), dtype=bool)
    rows = max(1, FIRING_BLOCK_CELLS // max(t, 1))
    for lo in range(0, n, rows):
        out[lo:lo + rows] = _firing_rows(condition[lo:lo + rows], tick_s, hold)
    return out


def _firing_rows(condition: npt.NDArray[np.bool_], tick_s: float, hold: Hold) -> npt.NDArray[np.bool_]:
    n, t = condition.shape
    idx = np.broadcast_to(np.arange(t), (n, t))
    last_false = np.maximum.accumulate(np.where(condition, -1, idx), axis=1)
    held_for = (idx - last_false - 1) * tick_s  # seconds since the first true tick of the current run
    ready = condition & (held_for >= hold.for_s)
    last_ready = np.maximum.accumulate(np.where(ready, idx, -(10**12)), axis=1)
    return np.asarray((idx - last_ready) * tick_s <= hold.keep_s)


def onsets(fire: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    prev = np.zeros_like(fire)
    prev[:, 1:] = fire[:, :-1]
    return fire & ~prev


def alarms(tl: Timeline, holds: dict[str, Hold] | None = None,
           anomaly_threshold: float = ANOMALY_THRESHOLD) -> dict[str, npt.NDArray[np.bool_]]:
    """Firing state of each alarm kind (level, early, warning = level or early, anomaly)."""
    h = {**DEFAULT_HOLDS, **(holds or {})}
    out = {"level": firing(tl.level >= ORANGE, tl.tick_s, h["level"]),
           "early": firing(tl.early, tl.tick_s, h["early"]),
           "anomaly": firing(tl.anomaly >= anomaly_threshold, tl.tick_s, h["anomaly"])}
    out["warning"] = out["level"] | out["early"]
    return out


def _span(tl: Timeline, start_ns: int, end_ns: int) -> slice:
    return slice(int(np.searchsorted(tl.ticks_ns, start_ns, side="left")),
                 int(np.searchsorted(tl.ticks_ns, end_ns, side="right")))


def observed_orange(tl: Timeline, events: list[LabelledWindow]) -> list[LabelledWindow]:
    """Events with unknown crossing get the first tick inside their window at which the level was orange."""
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    out = []
    for ev in events:
        row = row_of.get(ev.series)
        if ev.orange_ns >= 0 or row is None:
            out.append(ev)
            continue
        span = _span(tl, ev.start_ns, ev.end_ns)
        hit = np.flatnonzero(tl.level[row, span] >= ORANGE)
        orange = int(tl.ticks_ns[span][hit[0]]) if hit.size else -1
        out.append(LabelledWindow(ev.series, ev.start_ns, ev.end_ns, orange, ev.incident))
    return out


def window_mask(
    tl: Timeline, events: list[LabelledWindow], before_s: float = 0.0, after_s: float = 0.0
) -> npt.NDArray[np.bool_]:
    """(N, T) True inside a (widened) labelled window of the row's series."""
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    mask = np.zeros(tl.level.shape, dtype=bool)
    for ev in events:
        row = row_of.get(ev.series)
        if row is not None:
            lo = np.searchsorted(tl.ticks_ns, ev.start_ns - int(before_s * NS_PER_S), side="left")
            hi = np.searchsorted(tl.ticks_ns, ev.end_ns + int(after_s * NS_PER_S), side="right")
            mask[row, lo:hi] = True
    return mask


def detected(tl: Timeline, fire: npt.NDArray[np.bool_], events: list[LabelledWindow]) -> list[bool]:
    """Per event with an orange crossing whose series is in the timeline: did the alarm fire in its window?"""
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    return [bool(fire[row_of[ev.series], _span(tl, ev.start_ns, ev.end_ns)].any())
            for ev in events if ev.orange_ns >= 0 and ev.series in row_of]


def false_alarms(tl: Timeline, fire: npt.NDArray[np.bool_], events: list[LabelledWindow], *, after_s: float,
                 warmup_ns: int) -> npt.NDArray[np.int64]:
    """(N,) false alarm episodes per series: onsets outside every widened window, at or after ``warmup_ns``."""
    outside = ~window_mask(tl, events, after_s=after_s) & (tl.ticks_ns >= warmup_ns)[None, :]
    return np.asarray((onsets(fire) & outside).sum(axis=1), dtype=np.int64)


@dataclass(frozen=True)
class Episode:
    """A maximal run of firing ticks of one timeline row: tick indices ``start`` (the onset) to ``end`` inclusive."""

    row: int
    start: int
    end: int


def episodes(fire: npt.NDArray[np.bool_]) -> list[Episode]:
    """Every episode of an (N, T) firing state, by row then onset."""
    nxt = np.zeros_like(fire)
    nxt[:, :-1] = fire[:, 1:]
    rows, starts = np.nonzero(onsets(fire))
    _, ends = np.nonzero(fire & ~nxt)  # row-major: the k-th end closes the k-th onset
    return [Episode(int(r), int(a), int(b)) for r, a, b in zip(rows, starts, ends, strict=True)]


def false_alarm_episodes(tl: Timeline, fire: npt.NDArray[np.bool_], events: list[LabelledWindow], *, after_s: float,
                         warmup_ns: int) -> list[Episode]:
    """The episodes :func:`false_alarms` counts: onset outside every widened window, at or after ``warmup_ns``."""
    outside = ~window_mask(tl, events, after_s=after_s) & (tl.ticks_ns >= warmup_ns)[None, :]
    return [ep for ep in episodes(fire) if outside[ep.row, ep.start]]


def lead_times(tl: Timeline, early_fire: npt.NDArray[np.bool_], events: list[LabelledWindow],
               slow_onset_s: float) -> npt.NDArray[np.float64]:
    """Per slow-onset event with an orange crossing: seconds from its first early warning in [start, orange]."""
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    leads = []
    for ev in events:
        row = row_of.get(ev.series)
        if row is None or ev.orange_ns < 0 or ev.orange_ns - ev.start_ns < slow_onset_s * NS_PER_S:
            continue
        before = np.flatnonzero((tl.ticks_ns >= ev.start_ns) & (tl.ticks_ns <= ev.orange_ns) & early_fire[row])
        leads.append((ev.orange_ns - int(tl.ticks_ns[before[0]])) / NS_PER_S if before.size else 0.0)
    return np.asarray(leads, dtype=np.float64)


def incident_lead_times(tl: Timeline, early_fire: npt.NDArray[np.bool_], events: list[LabelledWindow],
                        slow_onset_s: float) -> npt.NDArray[np.float64]:
    """Per incident (events with ``incident >= 0``): first orange crossing minus first early warning."""
    return incident_leads(events, event_leads(tl, early_fire, events), slow_onset_s)


def event_leads(tl: Timeline, early_fire: npt.NDArray[np.bool_],
                events: list[LabelledWindow]) -> dict[LabelledWindow, float]:
    """Per event with an orange crossing whose series is in the timeline: seconds from its first early warning in
    [start, orange] (0.0: none)."""
    return {ev: float(lead[0]) for ev in events if (lead := lead_times(tl, early_fire, [ev], 0.0)).size}


def incident_leads(events: list[LabelledWindow], leads: dict[LabelledWindow, float],
                   slow_onset_s: float) -> npt.NDArray[np.float64]:
    """:func:`incident_lead_times` from the events' leads (:func:`event_leads`, e.g. gathered a block of series at
    a time)."""
    by_incident: dict[int, list[LabelledWindow]] = {}
    for ev in events:
        if ev.incident >= 0 and ev.orange_ns >= 0:
            by_incident.setdefault(ev.incident, []).append(ev)
    out = []
    for evs in by_incident.values():
        first_orange = min(ev.orange_ns for ev in evs)
        if first_orange - min(ev.start_ns for ev in evs) < slow_onset_s * NS_PER_S:
            continue
        warned = [ev.orange_ns - leads[ev] * NS_PER_S for ev in evs if ev in leads]
        if warned:
            out.append((first_orange - min(warned)) / NS_PER_S)
    return np.asarray(out, dtype=np.float64)
