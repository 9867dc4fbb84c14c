"""What the check-up measures from the vitals snapshots of a period (definitions also in ``docs/checkup.md``).

- **Time at a level**: each snapshot's level holds until the series' next snapshot (at most three snapshot
  intervals, 15 min at the default); summed per
  group as series-hours and as a share of the group's snapshot time.
- **Warning episode**: a maximal run of snapshots of one series at blue or worse (gaps carry the last level);
  its peak level (the worst its snapshots' ``peak_level`` saw, the interval it ended in included); it ends at the
  first snapshot back at normal (or is open at the period's end). A warning that rose and fell between two
  snapshots at normal is an episode from the second to the next.
- **Alerts**: the level alerts the rules would send, one per level an episode reaches (an episode that peaks at
  orange sends blue, yellow and orange); orange and red are the pages.
- **Incident**: episodes peaking at yellow or worse in one district whose spans overlap or lie less than 30 min
  apart; its peak; **time to recover**: from the first time the incident reached its peak until every one of its
  series was back at normal (open incidents have none).
- **Data quality**: coverage (snapshot time / series x period), shares of time stale (no reading for 3
  cadences), stuck, and the mean dropout ratio.
- **Recurring anomaly**: a series whose anomalies (anomaly score >= the alert threshold; warning episodes
  without scores) start on 3 or more different local days; "same time of day" when most start in one 2-hour bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.catalog import Catalog
from vitals.catalog.clock import local_ns
from vitals.catalog.model import LEVEL_NAMES, LEVELS
from vitals.checkup.load import NS_PER_S, Snapshots
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.report_html import inum

MERGE_GAP_S = 1800.0
RECURRING_DAYS = 3


@dataclass(frozen=True)
class Episode:
    series: int
    start_ns: int
    end_ns: int
    peak: int
    peak_ns: int
    open_end: bool
    between: bool = False  # seen only in a snapshot's peak_level: it rose and fell between two snapshots


@dataclass(frozen=True)
class Incident:
    district: int
    start_ns: int
    end_ns: int
    peak: int
    peak_ns: int
    series: tuple[int, ...]
    open_end: bool

    @property
    def recovery_s(self) -> float | None:
        return None if self.open_end else (self.end_ns - self.peak_ns) / NS_PER_S


def _runs(on: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(row, first column, column after the last) of every run of True, row-major."""
    padded = np.zeros((on.shape[0], on.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = on
    d = np.diff(padded, axis=1)
    rows, starts = np.nonzero(d == 1)
    _, stops = np.nonzero(d == -1)
    return rows, starts, stops


def carried_level(snap: Snapshots) -> npt.NDArray[np.int8]:
    """Levels with gaps (no snapshot) carrying the series' previous level (0 before its first)."""
    return _carried(snap.level, snap.present)


def _carried(values: npt.NDArray[np.int8], present: npt.NDArray[np.bool_]) -> npt.NDArray[np.int8]:
    t = values.shape[1]
    idx = np.where(present, np.arange(t, dtype=np.int32), np.int32(-1))  # int32: a long period's temporaries halve
    last = np.maximum.accumulate(idx, axis=1)
    rows = np.arange(values.shape[0])[:, None]
    return np.where(last >= 0, values[rows, np.maximum(last, 0)], 0).astype(np.int8)


def episodes(snap: Snapshots) -> list[Episode]:
    """Runs of snapshots at blue or worse; a warning that rose and fell between two snapshots at normal (seen in
    the second's ``peak``) is an episode of its own from that snapshot to the next. An episode's peak is the worst
    level of its snapshots' intervals, the one in which it ended included."""
    level = carried_level(snap)
    peak = _carried(snap.peak, snap.present)  # never below the level (read_snapshots)
    before = np.zeros_like(level)
    before[:, 1:] = level[:, :-1]
    hidden = (level == 0) & (before == 0) & (peak >= 1) & snap.present
    t = level.shape[1]
    out = []
    for r, a, b in zip(*_runs((level >= 1) | hidden), strict=True):
        run = peak[r, a:min(b + 1, t)]  # with the interval that ended it
        k = int(np.argmax(run))
        open_end = bool(b >= t)
        end = snap.end_ns if open_end else int(snap.at_ns[b])
        out.append(Episode(int(snap.series[r]), int(snap.at_ns[a]), end, int(run[k]), int(snap.at_ns[a + k]),
                           open_end, bool(b == a + 1 and hidden[r, a])))
    return out


def incidents(eps: list[Episode], catalog: Catalog, min_peak: int = 2) -> list[Incident]:
    """Episodes peaking at ``min_peak`` or worse, merged per district when less than 30 min apart."""
    district = catalog.street_district_array
    serious = sorted((e for e in eps if e.peak >= min_peak),
                     key=lambda e: (int(district[e.series % catalog.n_streets]), e.start_ns))
    out: list[Incident] = []
    group: list[Episode] = []
    for e in serious:
        d = int(district[e.series % catalog.n_streets])
        if group and (d != int(district[group[0].series % catalog.n_streets])
                      or e.start_ns > max(g.end_ns for g in group) + MERGE_GAP_S * NS_PER_S):
            out.append(_incident(group, catalog))
            group = []
        group.append(e)
    if group:
        out.append(_incident(group, catalog))
    return sorted(out, key=lambda i: i.start_ns)


def _incident(group: list[Episode], catalog: Catalog) -> Incident:
    peak = max(e.peak for e in group)
    return Incident(int(catalog.street_district_array[group[0].series % catalog.n_streets]),
                    min(e.start_ns for e in group), max(e.end_ns for e in group), peak,
                    min(e.peak_ns for e in group if e.peak == peak), tuple(sorted({e.series for e in group})),
                    any(e.open_end for e in group))


@dataclass(frozen=True)
class Groups:
    """Group code of every snapshot row (e.g. district x domain) and the group names."""

    code: npt.NDArray[np.int64]
    size: int


def group_table(snap: Snapshots, groups: Groups, eps: list[Episode], incs: list[Incident],
                expected_series: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Per group: series-hours and shares at each level, episodes, alerts per level, incidents, median time to
    recover, and data quality. ``expected_series``: series per group the period should have."""
    g, n = groups.code, groups.size
    hold = snap.hold_s.astype(np.float64)
    held = np.bincount(g, weights=hold.sum(axis=1), minlength=n)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for k, name in enumerate(LEVEL_NAMES):
        secs = np.bincount(g, weights=(hold * (snap.level == k)).sum(axis=1), minlength=n)
        out[f"hours_{name}"] = secs / 3600.0
        out[f"share_{name}"] = np.divide(secs, held, out=np.zeros(n), where=held > 0)
    out["share_warning"] = 1.0 - out["share_normal"].where(held > 0, 1.0)
    row_of = {int(s): i for i, s in enumerate(snap.series)}
    ep_group = np.array([g[row_of[e.series]] for e in eps], dtype=np.int64)
    peaks = np.array([e.peak for e in eps], dtype=np.int64)
    out["episodes"] = np.bincount(ep_group, minlength=n)
    for k, name in enumerate(LEVELS, 1):
        out[f"alerts_{name}"] = np.bincount(ep_group[peaks >= k], minlength=n) if eps else 0
    touched: list[list[Incident]] = [[] for _ in range(n)]
    for inc in incs:
        for code in {int(g[row_of[s]]) for s in inc.series}:
            touched[code].append(inc)
    out["incidents"] = [len(t) for t in touched]
    out["incidents_orange"] = [sum(i.peak >= 3 for i in t) for t in touched]
    out["recovery_median_s"] = [_median([i.recovery_s for i in t]) for t in touched]
    out["severity"] = [float(np.mean([(i.peak - 1) / 3 for i in t])) if t else 0.0 for t in touched]
    out["coverage"] = held / np.maximum(expected_series * snap.seconds, 1e-9)
    for name, flags in (("stale_share", snap.stale), ("stuck_share", snap.stuck)):
        out[name] = np.divide(np.bincount(g, weights=(hold * flags).sum(axis=1), minlength=n), held,
                              out=np.zeros(n), where=held > 0)
    drop = np.nan_to_num(snap.dropout.astype(np.float64))
    out["dropout_mean"] = np.divide(np.bincount(g, weights=(hold * drop).sum(axis=1), minlength=n), held,
                                    out=np.zeros(n), where=held > 0)
    out["series"] = expected_series
    return out


def _median(values: list[float | None]) -> float:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else float("nan")


def recurring(snap: Snapshots, eps: list[Episode], catalog: Catalog) -> pd.DataFrame:
    """Series whose anomalies start on ``RECURRING_DAYS`` or more local days: onsets, days, usual hour."""
    if snap.anomaly is not None:
        rows, starts, _ = _runs(np.nan_to_num(snap.anomaly) >= ANOMALY_THRESHOLD)
        onsets = pd.DataFrame({"series": snap.series[rows], "ns": snap.at_ns[starts]})
        source = "anomaly score"
    else:
        onsets = pd.DataFrame({"series": [e.series for e in eps], "ns": [e.start_ns for e in eps]})
        source = "warning episode"
    local = pd.Series(pd.to_datetime(local_ns(catalog, onsets["ns"].to_numpy(dtype=np.int64))))
    onsets["day"], onsets["bin"] = local.dt.date, local.dt.hour // 2
    rows_out = []
    for sid, part in onsets.groupby("series"):
        days = part["day"].nunique()
        if days < RECURRING_DAYS:
            continue
        counts = part["bin"].value_counts()
        usual = inum(counts.index[0]) * 2 if counts.iloc[0] >= 0.5 * len(part) else None
        rows_out.append({"series": inum(sid), "onsets": len(part), "days": int(days), "usual_hour": usual,
                         "source": source})
    cols = ["series", "onsets", "days", "usual_hour", "source"]
    return pd.DataFrame(rows_out, columns=cols).sort_values(["days", "onsets"], ascending=False, ignore_index=True)
