"""Planned works: periods when the operations center knows some series will read abnormally (a water main shut for
repairs, a road closed, a substation in maintenance), so the anomaly detector must not learn from them.

A shut main reads a pressure of 0 for hours. The readings are real and stay real everywhere (vitals, warning
levels, health, history, /metrics); but the detector's state would learn them: the series' lowest value ever
becomes 0, so a later real collapse to 0.05 is no new extreme, and the volatility and seasonal profiles take the
works in. With ``--planned-works FILE`` the readings of a works' series in its period are not fed to the detector
(they score 0 and its state stays as it was before the works) nor to the window model; everything else sees them.
Alerts during works are muted in Alertmanager (``vitals alerts silence``), not here.

The file (YAML) lists the works::

    - id: main-repair-2291                 # shown in logs
      from: 2025-06-02T08:00+08:00         # a time with a zone, or a local day (its start)
      to: 2025-06-02T12:00+08:00           # a time with a zone (excluded), or a local day (included)
      district: yubei                      # any of district, street, indicator, domain: an id or a list;
      indicator: [water_pressure]          # the ones given must all match, several ids of one match any
      comment: main repair, ticket 2291

Each entry is checked against the catalog when the file is read: one line naming the entry and what is wrong. A
running flow reads the file again when it changes (at most every :data:`RELOAD_S` seconds of wall time); a file
that no longer reads is logged and the works read before stay in force.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.catalog.clock import city_moment_ns
from vitals.catalog.ids import check_ids
from vitals.catalog.model import Catalog
from vitals.errors import ConfigError, VitalsError

log = logging.getLogger(__name__)

KEYS = ("id", "from", "to", "district", "street", "indicator", "domain", "comment")
RELOAD_S = 5.0


@dataclass(frozen=True)
class Works:
    """One planned works: readings in [start_ns, end_ns) of the series whose indicator and street are marked."""

    id: str
    start_ns: int
    end_ns: int
    indicators: npt.NDArray[np.bool_] | None  # by indicator code; None: every indicator
    streets: npt.NDArray[np.bool_] | None     # by street code; None: every street
    comment: str = ""
    # the ids as the file gives them (district, street, indicator, domain -> ids): what an Alertmanager silence of
    # the works matches (``vitals alerts silence --works``)
    selection: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    districts: tuple[str, ...] = ()  # the districts it touches (every one for works without a place)


class PlannedWorks:
    """The works of a file, and which readings of a batch fall in one."""

    def __init__(self, works: Sequence[Works]) -> None:
        self.works = tuple(works)

    def __len__(self) -> int:
        return len(self.works)

    def inside(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
               ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_] | None:
        """Which readings fall in a works (None when none does: the usual case, one comparison per works)."""
        if not self.works or not len(ts_ns):
            return None
        first, last = int(ts_ns.min()), int(ts_ns.max())
        found: npt.NDArray[np.bool_] | None = None
        for w in self.works:
            if last < w.start_ns or first >= w.end_ns:
                continue
            hit = (ts_ns >= w.start_ns) & (ts_ns < w.end_ns)
            if w.indicators is not None:
                hit &= w.indicators[indicator]
            if w.streets is not None:
                hit &= w.streets[street]
            found = hit if found is None else found | hit
        return found if found is not None and found.any() else None


def load_planned_works(path: str | Path, catalog: Catalog, *, ids_of: Catalog | None = None) -> PlannedWorks:
    """The works of a file, marked in ``catalog``'s codes, the ids checked against ``ids_of`` (default
    ``catalog``; a backtest's catalog holds only the streets its history has: a works on another street marks
    nothing there); one :class:`ConfigError` line naming the entry and what is wrong."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        msg = f"planned works {path}: cannot read it ({str(exc).splitlines()[0]})"
        raise ConfigError(msg) from exc
    if raw is None:
        return PlannedWorks(())
    if not isinstance(raw, list):
        msg = (f"planned works {path}: a list of works is needed (- id: ..., from: ..., to: ...), "
               f"got a {type(raw).__name__}")
        raise ConfigError(msg)
    works = []
    for k, entry in enumerate(raw):
        where = f"planned works {path}, entry {k + 1}"
        try:
            works.append(_works(entry, catalog, ids_of or catalog))
        except ConfigError as exc:
            msg = f"{where}: {exc}"
            raise ConfigError(msg) from exc
    ids = [w.id for w in works]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        msg = f"planned works {path}: id {duplicate!r} is used twice"
        raise ConfigError(msg)
    return PlannedWorks(works)


def _works(entry: Any, catalog: Catalog, ids_of: Catalog) -> Works:
    if not isinstance(entry, Mapping):
        msg = "each works is a mapping (id, from, to, district / street / indicator / domain, comment)"
        raise ConfigError(msg)
    unknown = [str(key) for key in entry if key not in KEYS]
    if unknown:
        msg = f"unknown key {unknown[0]!r} (keys: {', '.join(KEYS)})"
        raise ConfigError(msg)
    for key in ("id", "from", "to"):
        if not str(entry.get(key) or "").strip():
            msg = f"needs {key!r}"
            raise ConfigError(msg)
    start = city_moment_ns(catalog, "'from'", str(entry["from"]))
    end = city_moment_ns(catalog, "'to'", str(entry["to"]), end_of_day=True)
    if end <= start:
        msg = f"'to' {entry['to']} is not after 'from' {entry['from']}"
        raise ConfigError(msg)
    chosen = {key: _ids(entry.get(key)) for key in ("district", "street", "indicator", "domain")}
    if not any(chosen.values()):
        msg = "needs a district, street, indicator or domain (works on the whole city are not planned works)"
        raise ConfigError(msg)
    for key, ids in chosen.items():
        check_ids(ids_of, key, ids, option=repr(key))  # type: ignore[arg-type]
    indicators = _marked({"indicator": [i.id for i in catalog.indicators],
                          "domain": [i.domain for i in catalog.indicators]}, chosen)
    streets = _marked({"street": [s.id for s in catalog.streets],
                       "district": [s.district_id for s in catalog.streets]}, chosen)
    touched = ([d.id for d in catalog.districts] if streets is None else
               sorted({catalog.streets[k].district_id for k in np.flatnonzero(streets)}))
    return Works(str(entry["id"]), start, end, indicators, streets, str(entry.get("comment") or ""),
                 {key: tuple(ids) for key, ids in chosen.items() if ids}, tuple(touched))


def _marked(keys: Mapping[str, list[str]], chosen: Mapping[str, list[str]]) -> npt.NDArray[np.bool_] | None:
    """Which codes match every chosen key (``keys``: each key's value per code); None when no key is chosen."""
    mark = None
    for key, values in keys.items():
        if chosen[key]:
            hit = np.isin(values, chosen[key])
            mark = hit if mark is None else mark & hit
    return mark


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in values if str(v).strip()]


class PlannedWorksFile:
    """A works file a running flow follows: read at start (a bad file stops the start in one line), read again
    when it changes; a change that does not read is logged and the works before stay."""

    def __init__(self, path: str | Path, catalog: Catalog, reload_s: float = RELOAD_S) -> None:
        self.path, self.catalog, self.reload_s = Path(path), catalog, reload_s
        self._stamp = self._mtime()
        self._works = load_planned_works(self.path, catalog)
        self._next_check = time.monotonic() + reload_s
        self._lock = threading.Lock()
        log.info("planned works: %d from %s", len(self._works), self.path)

    def current(self) -> PlannedWorks:
        if time.monotonic() >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = time.monotonic() + self.reload_s
                stamp = self._mtime()
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._works = load_planned_works(self.path, self.catalog)
                        log.warning("planned works: %d from %s (the file changed)", len(self._works), self.path)
                    except VitalsError as exc:
                        log.error("%s; the %d works read before stay in force", exc, len(self._works))
            finally:
                self._lock.release()
        return self._works

    def _mtime(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size
