"""The check-up of a period and of the previous period of equal length: per district and domain, per district
and per street; vulnerability ranking; trends. :func:`checkup` returns a :class:`Checkup`; ``to_json`` gives the
document ``vitals checkup --json`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.catalog import Catalog
from vitals.catalog.clock import local_iso
from vitals.catalog.model import LEVELS
from vitals.checkup.load import Snapshots, read_snapshots
from vitals.checkup.measures import Episode, Groups, Incident, episodes, group_table, incidents, recurring
from vitals.checkup.score import HALF, WEIGHTS, Raw, reasons, vulnerability
from vitals.errors import ConfigError
from vitals.history_files import snapshot_interval_s
from vitals.report_html import fnum, inum
from vitals.units import WEEK_S


@dataclass(frozen=True, eq=False)
class PeriodResult:
    start: date
    end: date
    snap: Snapshots
    episodes: list[Episode]
    incidents: list[Incident]
    districts: pd.DataFrame        # one row per catalog district (index: district code)
    district_domain: pd.DataFrame  # one row per (district, domain) with series
    streets: pd.DataFrame          # one row per catalog street
    recurring: pd.DataFrame

    @property
    def weeks(self) -> float:
        return max(self.snap.seconds / WEEK_S, 1e-9)


@dataclass(frozen=True, eq=False)
class Checkup:
    catalog: Catalog
    current: PeriodResult
    previous: PeriodResult

    def to_json(self, top: int = 10) -> dict[str, Any]:
        return checkup_json(self, top)


def _weighted_exposure(snap: Snapshots, code: npt.NDArray[np.int64], size: int, catalog: Catalog
                       ) -> npt.NDArray[np.float64]:
    w = catalog.weight_array[snap.series // catalog.n_streets]
    hold = snap.hold_s.astype(np.float64)
    bad = np.bincount(code, weights=w * (hold * (snap.level >= 1)).sum(axis=1), minlength=size)
    held = np.bincount(code, weights=w * hold.sum(axis=1), minlength=size)
    return np.divide(bad, held, out=np.zeros(size), where=held > 0)


def _areas(snap: Snapshots, catalog: Catalog, found: tuple[list[Episode], list[Incident]], kind: str,
           indicators: npt.NDArray[np.int64]) -> pd.DataFrame:
    eps, incs = found
    street = snap.series % catalog.n_streets
    if kind == "district":
        code, size = catalog.street_district_array[street].astype(np.int64), len(catalog.districts)
        per_area = np.bincount(catalog.street_district_array, minlength=size) * indicators.size
    else:
        code, size = street.astype(np.int64), catalog.n_streets
        per_area = np.full(size, indicators.size)
    table = group_table(snap, Groups(code, size), eps, incs, per_area)
    weeks = max(snap.seconds / WEEK_S, 1e-9)
    raw = Raw(_weighted_exposure(snap, code, size, catalog), table["incidents"].to_numpy(np.float64) / weeks,
              table["severity"].to_numpy(np.float64), table["recovery_median_s"].to_numpy(np.float64))
    comp = vulnerability(raw, kind)
    table["exposure"] = raw.exposure
    table["incidents_per_week"] = raw.frequency
    for name in ("exposure", "frequency", "severity", "recovery"):
        table[f"component_{name}"] = comp[name]
    table["score"] = comp["score"]
    table["reasons_en"] = ["; ".join(reasons(raw, comp, i, "en")) for i in range(size)]
    table["reasons_zh"] = ["；".join(reasons(raw, comp, i, "zh")) for i in range(size)]
    return table


def analyse(root: str | Path, catalog: Catalog, start: date, end: date) -> PeriodResult:
    snap = read_snapshots(root, catalog, start, end)
    eps = episodes(snap)
    incs = incidents(eps, catalog)
    indicators = np.unique(snap.series // catalog.n_streets)
    districts = _areas(snap, catalog, (eps, incs), "district", indicators)
    streets = _areas(snap, catalog, (eps, incs), "street", indicators)
    n_dom = len(catalog.domain_names)
    dom_of = np.array([catalog.domain_names.index(i.domain) for i in catalog.indicators], dtype=np.int64)
    code = catalog.street_district_array[snap.series % catalog.n_streets].astype(np.int64) * n_dom + dom_of[
        snap.series // catalog.n_streets]
    per_domain = np.bincount(dom_of[indicators], minlength=n_dom)
    expected = np.bincount(catalog.street_district_array, minlength=len(catalog.districts))[:, None] * per_domain
    dd = group_table(snap, Groups(code, len(catalog.districts) * n_dom), eps, incs, expected.ravel())
    dd["district"], dd["domain"] = dd.index // n_dom, dd.index % n_dom
    return PeriodResult(start, end, snap, eps, incs, districts, dd[dd["series"] > 0].reset_index(drop=True),
                        streets, recurring(snap, eps, catalog))


def checkup(root: str | Path, catalog: Catalog, start: date, end: date) -> Checkup:
    """The check-up of the local days ``start`` .. ``end`` (inclusive) and of the equally long period before."""
    if end < start:
        msg = f"--to {end} is before --from {start}"
        raise ConfigError(msg)
    days = (end - start).days + 1
    current = analyse(root, catalog, start, end)
    if current.snap.series.size == 0:
        msg = f"no vitals snapshots in {root} from {start} to {end}; check --history and the dates (local days)"
        raise ConfigError(msg)
    previous = analyse(root, catalog, start - timedelta(days=days), start - timedelta(days=1))
    return Checkup(catalog, current, previous)


def totals(p: PeriodResult) -> dict[str, Any]:
    """City-wide figures of one period."""
    d = p.districts
    held = float(p.snap.hold_s.sum())
    recov = [i.recovery_s for i in p.incidents if i.recovery_s is not None]
    return {
        "from": p.start.isoformat(), "to": p.end.isoformat(), "series": int(p.snap.series.size),
        "snapshots": int(p.snap.present.sum()),
        # the history's snapshot interval (--history-vitals-every), seen in the snapshot times of the period
        "snapshot_interval_s": snapshot_interval_s(p.snap.at_ns),
        "share_warning": float((p.snap.hold_s * (p.snap.level >= 1)).sum() / held) if held else None,
        "hours_at_level": {k: float(d[f"hours_{k}"].sum()) for k in LEVELS},
        "episodes": len(p.episodes),
        # of them, warnings that rose and fell between two snapshots (seen in peak_level only): many say that the
        # snapshots are too far apart for the episodes' timing (docs/history.md, "Snapshot cadence")
        "episodes_between_snapshots": sum(e.between for e in p.episodes),
        "incidents": len(p.incidents),
        "incidents_orange": sum(i.peak >= 3 for i in p.incidents),
        "alerts": {k: int(d[f"alerts_{k}"].sum()) for k in LEVELS},
        "recovery_median_s": float(np.median(recov)) if recov else None,
        "coverage": float(held / max(p.snap.series.size * p.snap.seconds, 1e-9)) if p.snap.series.size else None,
        "stale_share": float(np.average(p.snap.stale, weights=p.snap.hold_s)) if held else None,
        "stuck_share": float(np.average(p.snap.stuck, weights=p.snap.hold_s)) if held else None,
        "recurring_series": len(p.recurring),
    }


def checkup_json(c: Checkup, top: int = 10) -> dict[str, Any]:
    cat, cur, prev = c.catalog, c.current, c.previous
    districts = []
    for i, d in enumerate(cat.districts):
        row = cur.districts.iloc[i]
        districts.append({"id": d.id, "name_zh": d.name_zh, "name_en": d.name_en, **_plain(row),
                          "previous_score": fnum(prev.districts.at[i, "score"]),
                          "previous_incidents": inum(prev.districts.at[i, "incidents"])})
    districts.sort(key=lambda r: -r["score"])
    streets = []
    for i in cur.streets.sort_values("score", ascending=False).index[:top]:
        s = cat.streets[inum(i)]
        streets.append({"id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "district": s.district_id,
                        **_plain(cur.streets.loc[i]), "previous_score": fnum(prev.streets.at[i, "score"])})
    dd = [{"district": cat.districts[inum(r["district"])].id, "domain": cat.domain_names[inum(r["domain"])],
           **_plain(r.drop(["district", "domain"]))} for _, r in cur.district_domain.iterrows()]
    incs = [{"district": cat.districts[i.district].id, "start": _iso(i.start_ns, cat), "end": _iso(i.end_ns, cat),
             "peak": i.peak, "series": len(i.series), "recovery_s": i.recovery_s, "open": i.open_end}
            for i in cur.incidents]
    rec = [{"indicator": cat.indicators[inum(r["series"]) // cat.n_streets].id,
            "street": cat.streets[inum(r["series"]) % cat.n_streets].id, "onsets": inum(r["onsets"]),
            "days": inum(r["days"]), "usual_hour": None if r["usual_hour"] is None or fnum(r["usual_hour"]) != fnum(
                r["usual_hour"]) else inum(r["usual_hour"]), "source": r["source"]}
           for r in cur.recurring.to_dict("records")]
    return {"period": totals(cur), "previous": totals(prev), "districts": districts, "streets": streets,
            "district_domain": dd, "incidents": incs, "recurring": rec,
            "score": {"weights": dict(WEIGHTS), "half_points": dict(HALF)}}


def _plain(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, np.integer):
            out[str(k)] = int(v)
        elif isinstance(v, float | np.floating):
            out[str(k)] = None if np.isnan(v) else float(v)
        else:
            out[str(k)] = v
    return out


def _iso(ns: int, catalog: Catalog) -> str:
    return local_iso(catalog, ns)

