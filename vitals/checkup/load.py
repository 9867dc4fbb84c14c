"""The vitals snapshots of a period, read from the Parquet history day by day into dense arrays (series x
snapshot time), with how long each snapshot holds (until the series' next one, at most ``max_hold_s``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.catalog import Catalog
from vitals.catalog.clock import local_midnight_ns
from vitals.errors import HistoryError
from vitals.history import files_schema
from vitals.history_files import history_files, reading, snapshot_interval_s
from vitals.units import NS_PER_S

log = logging.getLogger(__name__)

COLUMNS = ("at", "indicator", "area", "level", "stuck", "dropout_ratio", "seconds_since_last")
OPTIONAL = ("anomaly_score", "peak_level")  # peak_level: written since 2026-12-04 (older snapshots: the level)


@dataclass(frozen=True, eq=False)
class Snapshots:
    """Rows: catalog series ids ``series``; columns: the distinct snapshot times ``at_ns`` in the period.
    ``level`` is -1 where a series has no snapshot; ``hold_s`` the seconds each snapshot stands for; ``peak`` the
    worst level since the series' previous snapshot (the level itself in snapshots written without it)."""

    start_ns: int
    end_ns: int
    series: npt.NDArray[np.int64]
    at_ns: npt.NDArray[np.int64]
    level: npt.NDArray[np.int8]
    peak: npt.NDArray[np.int8]
    hold_s: npt.NDArray[np.float32]
    stuck: npt.NDArray[np.bool_]
    stale: npt.NDArray[np.bool_]
    dropout: npt.NDArray[np.float32]
    anomaly: npt.NDArray[np.float32] | None

    @property
    def present(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.level >= 0)

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def _days(start_ns: int, end_ns: int) -> list[str]:
    first = pd.Timestamp(start_ns, tz="UTC").date()
    last = pd.Timestamp(end_ns - 1, tz="UTC").date()
    return [(first + timedelta(days=k)).isoformat() for k in range((last - first).days + 1)]


def _read_day(base: Path, day: str, start_ns: int, end_ns: int) -> pd.DataFrame | None:
    folder = base / f"date={day}"
    if not folder.is_dir():
        return None
    files = history_files(folder)  # in name order: runs by their start (run ids sort by time)
    if not files:  # a day folder holding no Parquet file (only a stray note): no snapshots that day
        return None
    schema = files_schema(files)
    cols = [c for c in (*COLUMNS, *OPTIONAL) if c in schema.names]
    with reading(folder, files):
        frame = pa.concat_tables([pq.read_table(f, columns=cols, schema=schema) for f in files]).to_pandas()
    at = frame["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return frame[(at >= start_ns) & (at < end_ns)]


HOLD_INTERVALS = 3  # a snapshot stands for the time to the series' next one, at most this many snapshot intervals
DEFAULT_SNAPSHOT_INTERVAL_S = 300.0  # with a single snapshot time: the default --history-vitals-every


def read_snapshots(root: str | Path, catalog: Catalog, start: date, end: date, *, max_hold_s: float | None = None
                   ) -> Snapshots:
    """The snapshots of the local days ``start`` .. ``end`` (inclusive, the catalog city's time zone). A snapshot
    holds at most ``max_hold_s`` (default: three snapshot intervals of the history, 900 s at the default 5
    minutes; the interval is the shortest time between two snapshots read), or 1.25 cadences of its indicator
    when longer (an hourly series has a snapshot per hour: docs/history.md)."""
    base = Path(root) / "vitals"
    if not base.is_dir():
        msg = f"no vitals history under {base}; run the pipeline with --history-dir {root}"
        if Path(root).is_file():
            msg = f"{root} is a file; --history takes the directory a run wrote with --history-dir"
        elif (Path(root) / "readings").is_dir():  # a run shorter than the first 5-minute boundary of event time
            msg = (f"{root} holds readings but no vitals snapshots yet: a run writes the first when its event time "
                   "passes a 5-minute boundary after readings arrived (docs/history.md)")
        raise HistoryError(msg)
    start_ns, end_ns = local_midnight_ns(catalog, start), local_midnight_ns(catalog, end + timedelta(days=1))
    frames = [f for day in _days(start_ns, end_ns) if (f := _read_day(base, day, start_ns, end_ns)) is not None]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    ind = pd.Index([i.id for i in catalog.indicators]).get_indexer(pd.Index(frame["indicator"].astype(str)))
    street = pd.Index([s.id for s in catalog.streets]).get_indexer(pd.Index(frame["area"].astype(str)))
    known = (ind >= 0) & (street >= 0)
    if (~known).any():
        log.warning("%d snapshot rows name series the catalog does not know (give --streets?); skipped",
                    int((~known).sum()))
    frame = frame[known]
    sid = ind[known].astype(np.int64) * catalog.n_streets + street[known]
    at = frame["at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    series, row = np.unique(sid, return_inverse=True)
    at_ns, col = np.unique(at, return_inverse=True)
    shape = (series.size, at_ns.size)
    cell = row.astype(np.int64) * at_ns.size + col
    if np.bincount(cell, minlength=series.size * at_ns.size).max(initial=0) > 1:
        # one series at one time in several runs' files (runs sharing a directory: docs/history.md): the last
        # read wins, i.e. the run whose file name sorts last (the later run)
        last = np.full(series.size * at_ns.size, -1, dtype=np.int64)
        np.maximum.at(last, cell, np.arange(cell.size))
        keep = last[cell] == np.arange(cell.size)
        frame, row, col = frame[keep], row[keep], col[keep]

    def dense(values: npt.ArrayLike, fill: float, dtype: type) -> npt.NDArray[Any]:
        out = np.full(shape, fill, dtype=dtype)
        out[row, col] = values
        return out

    level = dense(np.nan_to_num(frame["level"].to_numpy(np.float64)), -1, np.int8)
    peak = level
    if "peak_level" in frame:  # a file without the column (older) or a row without it: the level
        worst = frame["peak_level"].to_numpy(np.float64)
        peak = np.maximum(level, dense(np.nan_to_num(worst, nan=-1.0), -1, np.int8))
    cadence = catalog.cadence_array[series // catalog.n_streets]
    stale = dense(frame["seconds_since_last"].to_numpy(np.float64), np.nan, np.float32) > 3 * cadence[:, None]
    anomaly = dense(frame["anomaly_score"].to_numpy(np.float64), np.nan, np.float32) \
        if "anomaly_score" in frame else None
    if max_hold_s is None:
        max_hold_s = HOLD_INTERVALS * (snapshot_interval_s(at_ns) or DEFAULT_SNAPSHOT_INTERVAL_S)
    hold_limit = np.maximum(max_hold_s, 1.25 * cadence)
    return Snapshots(start_ns, end_ns, series, at_ns, level, peak, _hold(level >= 0, at_ns, end_ns, hold_limit),
                     dense(frame["stuck"].to_numpy(np.float64) > 0, False, bool), stale,
                     dense(frame["dropout_ratio"].to_numpy(np.float64), np.nan, np.float32), anomaly)


def _hold(present: npt.NDArray[np.bool_], at_ns: npt.NDArray[np.int64], end_ns: int,
          max_hold_s: float | npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Seconds from each snapshot to the series' next one (or the period's end), at most ``max_hold_s`` (one
    value, or one per series)."""
    n, t = present.shape
    idx = np.where(present, np.arange(t), t)
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]  # first present index at or after k
    after = np.full((n, t), t, dtype=np.int64)
    after[:, :-1] = nxt[:, 1:]
    times = np.append(at_ns, end_ns)
    gap = (times[after] - at_ns[None, :]) / NS_PER_S
    limit = np.reshape(max_hold_s, (-1, 1)) if np.ndim(max_hold_s) else max_hold_s
    return np.where(present, np.minimum(gap, limit), 0.0).astype(np.float32)
