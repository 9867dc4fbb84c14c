"""Rendering a shard's state as a :class:`VitalsView` (definitions of every column: ``docs/vitals.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from vitals.health.series_quality import DEFAULT_STUCK_CADENCES, dropout_ratio, dropout_window_index, stuck_flags
from vitals.state.view import VitalsView
from vitals.state.view_cache import ViewCache
from vitals.state.window_stats import RingCopy, copy_ring_rows, window_stats
from vitals.state.windows import ORIGIN_NS, bucket_numbers
from vitals.units import NS_PER_S

if TYPE_CHECKING:
    from vitals.catalog.model import Catalog
    from vitals.state.quantile import QuantileGrid
    from vitals.state.series import SeriesScalars
    from vitals.state.windows import BucketRings, Window


class ShardArrays(Protocol):
    """What a view is rendered from (:class:`vitals.state.shard.ShardState` has it; no import of it here)."""

    catalog: Catalog
    shard: int
    n_shards: int
    options: dict[str, float | None]
    scalars: SeriesScalars
    level: npt.NDArray[np.int8]
    raw_level: npt.NDArray[np.int8]
    rings: BucketRings
    grid: QuantileGrid

    @property
    def windows(self) -> tuple[Window, ...]: ...


@dataclass(frozen=True, eq=False)
class Capture:
    """What a view of a shard shows, copied at one moment (``as_of`` ns) without computing it: the rows with a
    reading, their scalars and ring rows. :func:`render_captures` makes the views of many captures in one pass
    (a fast replay snapshots the vitals at thousands of boundaries of one batch)."""

    as_of: int
    rows: npt.NDArray[np.int64]
    scalars: dict[str, npt.NDArray[Any]]  # last, last_ts, change_ts, first_ts, ewma, readings, level, raw_level
    ring: RingCopy

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in (*self.scalars.values(), *self.ring)))


def capture(state: ShardArrays, as_of: int, rows: npt.NDArray[np.int64] | None = None) -> Capture:
    """The state's rows with a reading as of ``as_of`` (ns), copied for :func:`render_captures` (``rows``: those
    rows, when the caller knows them)."""
    if rows is None:
        rows = np.flatnonzero(state.scalars.readings > 0)
    return Capture(as_of, rows, _scalars(state, rows), copy_ring_rows(state.rings, rows))


def render_view(state: ShardArrays, as_of: int, cache: ViewCache, dirty: npt.NDArray[np.bool_]) -> VitalsView:
    """The view of every series of ``state`` with a reading, as of ``as_of`` (ns); window statistics come
    through ``cache`` (``dirty``: rows written since its last call). Every column is read-only."""
    rows = np.flatnonzero(state.scalars.readings > 0)
    ind, street, series = _ids(state, rows)
    scalars = _scalars(state, rows)
    stats = cache.window_columns(state.rings, state.grid, rows, ind, as_of_ns=as_of, dirty=dirty[rows])
    columns = _columns(state, ind, scalars, stats, as_of)
    return VitalsView(series, ind.astype(np.int16), street.astype(np.int32), columns, as_of / NS_PER_S)


def render_captures(state: ShardArrays, captures: Sequence[Capture]) -> list[VitalsView]:
    """The views of ``captures`` (each as :func:`render_view` would have shown the state when it was captured),
    computed in one pass over all their rows: every column is computed row by row, with each row's own time."""
    if not captures:
        return []
    sizes = np.array([len(c) for c in captures], dtype=np.int64)
    rows = np.concatenate([c.rows for c in captures])
    as_of = np.repeat(np.array([c.as_of for c in captures], dtype=np.int64), sizes)
    ind, street, series = _ids(state, rows)
    scalars = {name: np.concatenate([c.scalars[name] for c in captures]) for name in captures[0].scalars}
    ring = tuple(np.concatenate([c.ring[i] for c in captures]) for i in range(3))
    stats = window_stats(state.rings, rows, ind, as_of, state.grid, copied=ring)  # type: ignore[arg-type]
    columns = _columns(state, ind, scalars, stats, as_of)
    street32, ind16 = street.astype(np.int32), ind.astype(np.int16)
    ends = np.cumsum(sizes)
    views = []
    for c, start, end in zip(captures, (ends - sizes).tolist(), ends.tolist(), strict=True):
        part = {name: column[start:end] for name, column in columns.items()}
        views.append(VitalsView(series[start:end], ind16[start:end], street32[start:end], part, c.as_of / NS_PER_S))
    return views


def _scalars(state: ShardArrays, rows: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
    """Copies of the per-series scalars of ``rows`` a view shows."""
    sc = state.scalars
    return {"last": sc.last[rows], "last_ts": sc.last_ts[rows], "change_ts": sc.change_ts[rows],
            "first_ts": sc.first_ts[rows], "ewma": sc.ewma(rows), "readings": sc.readings[rows],
            "level": state.level[rows], "raw_level": state.raw_level[rows]}


def _ids(state: ShardArrays, rows: npt.NDArray[np.int64]
         ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    series = rows * state.n_shards + state.shard
    ind, street = state.catalog.split_series_id(series)
    return ind, street, series.astype(np.int64)


def _columns(
    state: ShardArrays, ind: npt.NDArray[np.int64], scalars: dict[str, npt.NDArray[Any]],
    stats: dict[str, npt.NDArray[np.float64]], as_of: int | npt.NDArray[np.int64],
) -> dict[str, npt.NDArray[np.float64]]:
    """The view's columns (read-only) from the rows' scalars and window statistics, as of ``as_of`` (ns; one
    time, or one per row)."""
    cadence = state.catalog.cadence_array[ind]
    last_ts, last = scalars["last_ts"], scalars["last"]
    columns: dict[str, npt.NDArray[np.float64]] = {
        "last": last,
        "last_ts_s": last_ts / NS_PER_S,
        "ewma": scalars["ewma"],
        "level": scalars["level"].astype(np.float64),
        "raw_level": scalars["raw_level"].astype(np.float64),
        "seconds_since_last": (as_of - last_ts) / NS_PER_S,
        "stuck": stuck_flags(last_ts, scalars["change_ts"], scalars["first_ts"], cadence,
                             float(state.options["stuck_cadences"] or DEFAULT_STUCK_CADENCES), last=last,
                             flat_normal=state.catalog.flat_normal_array[ind]),
        "readings": scalars["readings"].astype(np.float64),
    }
    columns["dropout_ratio"] = _dropout(state, scalars["first_ts"], ind, stats, as_of)
    columns.update(stats)
    for column in columns.values():
        column.setflags(write=False)
    return columns


def _dropout(
    state: ShardArrays, first_ts: npt.NDArray[np.int64], ind: npt.NDArray[np.int64],
    stats: dict[str, npt.NDArray[np.float64]], as_of: int | npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    wins = state.windows
    cadence = state.catalog.cadence_array
    choice = dropout_window_index([w.length_s for w in wins], cadence)[ind]
    count = np.choose(choice, [stats[f"count_{w.name}"] for w in wins])
    if isinstance(as_of, np.ndarray):  # one time per row
        start = np.choose(choice, [(bucket_numbers(as_of, w.bucket_ns) - w.buckets + 1) * w.bucket_ns
                                   for w in wins]) + ORIGIN_NS
    else:
        starts = [(bucket_numbers(np.array([as_of]), w.bucket_ns)[0] - w.buckets + 1) * w.bucket_ns for w in wins]
        start = np.asarray(starts, dtype=np.int64)[choice] + ORIGIN_NS
    return dropout_ratio(count, start, first_ts, as_of, cadence[ind])  # type: ignore[arg-type]
