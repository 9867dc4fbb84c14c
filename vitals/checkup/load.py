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
from vitals.history_files import history_files, id_codes, reading, snapshot_interval_s
from vitals.units import NS_PER_S

log = logging.getLogger(__name__)

COLUMNS = ("at", "indicator", "area", "level", "stuck", "dropout_ratio", "seconds_since_last")
OPTIONAL = ("anomaly_score", "peak_level")  # peak_level: written since 2026-12-04 (older snapshots: the level)
READ_ROWS = 128 * 1024  # rows read at a time from one file (a compacted day of the model city is 8 M rows)


@dataclass(frozen=True, eq=False)
class Snapshots:
    """Rows: catalog series ids ``series``; columns: the distinct snapshot times ``at_ns`` in the period.
    ``level`` is -1 where a series has no snapshot; ``hold_s`` the seconds each snapshot stands for; ``peak`` the
    worst level since the series' previous snapshot, never below ``level`` (the level itself in snapshots written
    without it)."""

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


# the dense blocks the reader fills, per day and then for the period: dtype and the value of a cell without a snapshot
BLOCKS: dict[str, tuple[type, float]] = {"level": (np.int8, -1), "peak": (np.int8, -1), "stuck": (np.bool_, False),
                                         "stale": (np.bool_, False), "dropout": (np.float32, np.nan),
                                         "anomaly": (np.float32, np.nan)}
Day = tuple[npt.NDArray[np.int64], dict[str, Any], int]  # snapshot times, blocks (anomaly: None if unscored), unknown


def _not_vitals(path: Path, base: Path) -> HistoryError:
    return HistoryError(f"{path} is not a vitals snapshot file (no at, indicator or area column); "
                        f"move it out of {base}")


def _float(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    """A numeric column as float64, nulls NaN; a column the file lacks: all NaN."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return table.column(name).to_numpy().astype(np.float64, copy=False)


def _part(table: pa.Table, names: set[str], *, start_ns: int, end_ns: int, catalog: Catalog, indicators: list[str],
          streets: list[str], cadence: npt.NDArray[np.float64]) -> tuple[dict[str, Any] | None, int]:
    """The rows of a part of a vitals file with times in ``[start_ns, end_ns)`` as compact arrays (None: no row of
    a known series), and how many rows in the period named a series the catalog does not know."""
    at = table.column("at").to_numpy().astype("datetime64[ns]").astype(np.int64)
    ind, street = id_codes(table.column("indicator"), indicators), id_codes(table.column("area"), streets)
    inside = (at >= start_ns) & (at < end_ns)
    known = (ind >= 0) & (street >= 0)
    unknown = int((~known & inside).sum())
    idx = np.flatnonzero(known & inside)
    if not idx.size:
        return None, unknown
    level = np.nan_to_num(_float(table, "level")[idx])
    return {
        "row": ind[idx] * catalog.n_streets + street[idx], "at": at[idx], "level": level.astype(np.int8),
        "peak": np.maximum(level, np.nan_to_num(_float(table, "peak_level")[idx], nan=-1.0)).astype(np.int8),
        "stuck": _float(table, "stuck")[idx] > 0,
        "stale": _float(table, "seconds_since_last")[idx] > 3 * cadence[ind[idx]],
        "dropout": _float(table, "dropout_ratio")[idx].astype(np.float32),
        "anomaly": _float(table, "anomaly_score")[idx].astype(np.float32) if "anomaly_score" in names
        else None}, unknown


def _read_day(base: Path, day: str, start_ns: int, end_ns: int, catalog: Catalog) -> Day | None:
    """The snapshots of ``day``'s folder with times in ``[start_ns, end_ns)``, file by file in name order (runs by
    their start: where two runs wrote one series at one time, the later run's file wins): the day's snapshot times
    (those of known series), the :data:`BLOCKS` over the catalog's series (rows: series id) x those times, and how
    many rows named a series the catalog does not know."""
    folder = base / f"date={day}"
    if not folder.is_dir():
        return None
    files = history_files(folder)  # in name order: runs by their start (run ids sort by time)
    if not files:  # a day folder holding no Parquet file (only a stray note): no snapshots that day
        return None
    indicators, streets = [i.id for i in catalog.indicators], [s.id for s in catalog.streets]
    cadence = catalog.cadence_array
    unknown = 0
    parts: list[dict[str, Any]] = []  # per file, in name order: its rows in the period, as compact arrays
    with reading(folder, files):
        for f in files:  # each file's own columns (one footer read): an older file may lack the optional ones
            try:
                source = pq.ParquetFile(f, read_dictionary=["indicator", "area"])
            except KeyError as exc:  # Arrow's way of saying that a column to read as a dictionary is not there
                raise _not_vitals(f, base) from exc
            with source:
                names = set(source.schema_arrow.names)
                if "at" not in names:
                    raise _not_vitals(f, base)
                columns = [c for c in (*COLUMNS, *OPTIONAL) if c in names]
                # a row group at a time: a compacted day is one file (vitals history compact)
                for batch in source.iter_batches(batch_size=READ_ROWS, columns=columns):
                    part, outside = _part(pa.Table.from_batches([batch]), names, start_ns=start_ns, end_ns=end_ns,
                                          catalog=catalog, indicators=indicators, streets=streets, cadence=cadence)
                    unknown += outside
                    if part is not None:
                        parts.append(part)
    at_ns = np.unique(np.concatenate([p["at"] for p in parts])) if parts else np.empty(0, dtype=np.int64)
    shape = (catalog.n_series, at_ns.size)
    # anomaly scores when a file of the day has them (NaN where a file without them wrote the cell)
    scored = any(p["anomaly"] is not None for p in parts)
    blocks: dict[str, Any] = {name: np.full(shape, fill, dtype=dtype) if name != "anomaly" or scored else None
                              for name, (dtype, fill) in BLOCKS.items()}
    for part in parts:  # file by file: a later file's cells overwrite an earlier one's
        row, col = part["row"], np.searchsorted(at_ns, part["at"])
        for name, block in blocks.items():
            if block is not None:
                block[row, col] = np.nan if part[name] is None else part[name]
    if not at_ns.size and not unknown:
        return None
    return at_ns, blocks, unknown


HOLD_INTERVALS = 3  # a snapshot stands for the time to the series' next one, at most this many snapshot intervals
DEFAULT_SNAPSHOT_INTERVAL_S = 300.0  # with a single snapshot time: the default --history-vitals-every


def read_snapshots(root: str | Path, catalog: Catalog, start: date, end: date, *, max_hold_s: float | None = None
                   ) -> Snapshots:
    """The snapshots of the local days ``start`` .. ``end`` (inclusive, the catalog city's time zone). A snapshot
    holds at most ``max_hold_s`` (default: three snapshot intervals of the history, 900 s at the default 5
    minutes; the interval is the shortest time between two snapshots read), or 1.25 cadences of its indicator
    when longer (an hourly series has a snapshot per hour: docs/history.md).

    Read day by day into dense blocks (catalog series x the day's snapshot times), only the columns the check-up
    uses, the ids through the files' dictionaries: memory is the blocks (~16 bytes per series and snapshot time,
    the hold included), not a table of every row."""
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
    days = [d for day in _days(start_ns, end_ns) if (d := _read_day(base, day, start_ns, end_ns, catalog)) is not None]
    unknown = sum(n for _, _, n in days)
    if unknown:
        log.warning("%d snapshot rows name series the catalog does not know (give --streets?); skipped", unknown)
    days = [d for d in days if d[0].size]
    present = np.zeros(catalog.n_series, dtype=bool)
    for _, blocks, _ in days:
        present |= (blocks["level"] >= 0).any(axis=1)
    series = np.flatnonzero(present).astype(np.int64)
    at_ns = np.concatenate([t for t, _, _ in days]) if days else np.empty(0, dtype=np.int64)
    joined: dict[str, Any] = {}
    for name, (dtype, fill) in BLOCKS.items():
        if name == "anomaly" and all(b["anomaly"] is None for _, b, _ in days):  # no scores in the period
            joined[name] = None
            continue
        # (a day without scores is NaN, no score, beside the days that have them)
        parts = [b[name][series] if b[name] is not None else np.full((series.size, t.size), fill, dtype=dtype)
                 for t, b, _ in days]
        joined[name] = np.concatenate(parts, axis=1) if parts else np.full((series.size, 0), fill, dtype=dtype)
    level = joined["level"]
    cadence = catalog.cadence_array[series // catalog.n_streets]
    if max_hold_s is None:
        max_hold_s = HOLD_INTERVALS * (snapshot_interval_s(at_ns) or DEFAULT_SNAPSHOT_INTERVAL_S)
    hold_limit = np.maximum(max_hold_s, 1.25 * cadence)
    return Snapshots(start_ns, end_ns, series, at_ns, level, joined["peak"],
                     _hold(level >= 0, at_ns, end_ns, hold_limit), joined["stuck"], joined["stale"],
                     joined["dropout"], joined["anomaly"])


def _hold(present: npt.NDArray[np.bool_], at_ns: npt.NDArray[np.int64], end_ns: int,
          max_hold_s: float | npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Seconds from each snapshot to the series' next one (or the period's end), at most ``max_hold_s`` (one
    value, or one per series). Computed in blocks of rows, so its temporaries stay small for a long period."""
    n, t = present.shape
    out = np.zeros((n, t), dtype=np.float32)
    limit = np.broadcast_to(np.reshape(max_hold_s, (-1, 1)) if np.ndim(max_hold_s) else max_hold_s, (n, 1))
    times = np.append(at_ns, end_ns)
    for a in range(0, n, HOLD_BLOCK_ROWS):
        block = present[a:a + HOLD_BLOCK_ROWS]
        idx = np.where(block, np.arange(t), t)
        nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]  # first present index at or after k
        after = np.full(block.shape, t, dtype=np.int64)
        after[:, :-1] = nxt[:, 1:]
        gap = (times[after] - at_ns[None, :]) / NS_PER_S
        out[a:a + HOLD_BLOCK_ROWS] = np.where(block, np.minimum(gap, limit[a:a + HOLD_BLOCK_ROWS]), 0.0)
    return out


HOLD_BLOCK_ROWS = 2048  # rows of series per block of _hold (~2,000 x 2,016 five-minute snapshots of a week: ~30 MB)
