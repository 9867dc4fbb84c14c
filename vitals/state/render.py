"""Rendering a shard's state as a :class:`VitalsView` (definitions of every column: ``docs/vitals.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from vitals.health.series_quality import DEFAULT_STUCK_CADENCES, dropout_ratio, dropout_window_index, stuck_flags
from vitals.state.view import VitalsView
from vitals.state.view_cache import ViewCache
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


def render_view(state: ShardArrays, as_of: int, cache: ViewCache, dirty: npt.NDArray[np.bool_]) -> VitalsView:
    """The view of every series of ``state`` with a reading, as of ``as_of`` (ns); window statistics come
    through ``cache`` (``dirty``: rows written since its last call). Every column is read-only."""
    sc = state.scalars
    rows = np.flatnonzero(sc.readings > 0)
    series = rows * state.n_shards + state.shard
    ind, street = state.catalog.split_series_id(series)
    cadence = state.catalog.cadence_array[ind]
    last_ts = sc.last_ts[rows]
    columns: dict[str, npt.NDArray[np.float64]] = {
        "last": sc.last[rows],
        "last_ts_s": last_ts / NS_PER_S,
        "ewma": sc.ewma(rows),
        "level": state.level[rows].astype(np.float64),
        "raw_level": state.raw_level[rows].astype(np.float64),
        "seconds_since_last": (as_of - last_ts) / NS_PER_S,
        "stuck": stuck_flags(last_ts, sc.change_ts[rows], sc.first_ts[rows], cadence,
                             float(state.options["stuck_cadences"] or DEFAULT_STUCK_CADENCES), last=sc.last[rows],
                             flat_normal=state.catalog.flat_normal_array[ind]),
        "readings": sc.readings[rows].astype(np.float64),
    }
    stats = cache.window_columns(state.rings, state.grid, rows, ind, as_of_ns=as_of, dirty=dirty[rows])
    columns["dropout_ratio"] = _dropout(state, rows, ind, stats, as_of)
    columns.update(stats)
    for column in columns.values():
        column.setflags(write=False)
    return VitalsView(series.astype(np.int64), ind.astype(np.int16), street.astype(np.int32), columns,
                      as_of / NS_PER_S)


def _dropout(
    state: ShardArrays, rows: npt.NDArray[np.int64], ind: npt.NDArray[np.int64],
    stats: dict[str, npt.NDArray[np.float64]], as_of: int,
) -> npt.NDArray[np.float64]:
    wins = state.windows
    cadence = state.catalog.cadence_array
    choice = dropout_window_index([w.length_s for w in wins], cadence)[ind]
    count = np.choose(choice, [stats[f"count_{w.name}"] for w in wins])
    starts = [(bucket_numbers(np.array([as_of]), w.bucket_ns)[0] - w.buckets + 1) * w.bucket_ns for w in wins]
    start = np.asarray(starts, dtype=np.int64)[choice] + ORIGIN_NS
    return dropout_ratio(count, start, state.scalars.first_ts[rows], as_of, cadence[ind])
