"""The series state of one shard: every per-series statistic in numpy arrays indexed by the local row.

``ShardState.update(batch)`` folds a batch in with array operations only (one sort of the batch, then
``ufunc.at`` / grouped reductions); ``ShardState.view(now_ns)`` renders a :class:`VitalsView`. Definitions of
every statistic: ``docs/vitals.md``. The object pickles as a handful of large arrays (Bytewax recovery).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch, Rejection, newest
from vitals.catalog.model import Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.errors import StateError
from vitals.health.hysteresis import LevelRules, apply_one, apply_updates
from vitals.health.levels import badness
from vitals.health.series_quality import DEFAULT_STUCK_CADENCES
from vitals.state.catalog_ref import catalog_payload, restore_catalog
from vitals.state.dedup import DEFAULT_DEPTH, DuplicateRing, within_batch_duplicates
from vitals.state.ordering import sort_by_row_then_time
from vitals.state.quantile import DEFAULT_BINS, QuantileGrid
from vitals.state.render import Capture, capture, render_captures, render_view
from vitals.state.series import Groups, SeriesScalars
from vitals.state.sharding import rows_per_shard
from vitals.state.view import VitalsView
from vitals.state.view_cache import ViewCache
from vitals.state.windows import DEFAULT_WINDOWS, BucketRings, Window, seconds_of
from vitals.units import NS_PER_S

DEFAULT_EWMA_HALF_LIFE_CADENCES = 5.0
# shared read-only objects (the catalog and what is derived from it) and the view cache: never copied
_NOT_PICKLED = frozenset({"catalog", "seasonal", "grid", "rules", "half_life_ns", "_view_cache", "_dirty",
                          "_rows_read", "_capture_row_bytes"})


@dataclass(frozen=True, eq=False)
class UpdateResult:
    """What one batch did: accepted count, duplicate rejections, touched series and the accepted readings."""

    accepted: int
    duplicates: list[Rejection]
    touched: npt.NDArray[np.int64]  # global series ids, sorted
    accepted_batch: ReadingBatch


@dataclass(frozen=True, eq=False)
class PreparedReadings:
    """Per reading of a batch, what folding it in needs that does not depend on the state
    (:meth:`ShardState.prepare`): local rows, series ids, seconds of the rings, float32 values and quantile bins
    (arrays), and as Python scalars the rows, times, values, EWMA half-lives, raw levels and lowered levels."""

    rows: npt.NDArray[np.int64]
    series: npt.NDArray[np.int64]
    seconds: npt.NDArray[np.int64]  # vitals.state.windows.seconds_of the times
    values32: npt.NDArray[np.float32]
    bins: npt.NDArray[np.int64]
    row_list: list[int]
    ts_list: list[int]
    value_list: list[float]
    half_life_list: list[float]
    raw_list: list[int]
    lowered_list: list[int]


class ShardState:
    """Rolling vitals, duplicates, levels with hysteresis and data quality for the series of one shard."""

    def __init__(
        self, catalog: Catalog, shard: int = 0, n_shards: int = 1, windows: tuple[Window, ...] = DEFAULT_WINDOWS,
        *, duplicate_depth: int = DEFAULT_DEPTH, quantile_bins: int = DEFAULT_BINS,
        stuck_cadences: float = DEFAULT_STUCK_CADENCES,
        ewma_half_life_cadences: float = DEFAULT_EWMA_HALF_LIFE_CADENCES,
        hysteresis_margin: float | None = None, hysteresis_intervals: int | None = None,
    ) -> None:
        if not 0 <= shard < n_shards:
            msg = f"shard {shard} is not in 0..{n_shards - 1}"
            raise StateError(msg)
        if quantile_bins < 3 or duplicate_depth < 1:
            msg = f"quantile_bins must be >= 3 and duplicate_depth >= 1, got {quantile_bins}, {duplicate_depth}"
            raise StateError(msg)
        self.catalog, self.shard, self.n_shards = catalog, shard, n_shards
        self.n_rows = rows_per_shard(catalog.n_series, n_shards)
        self.options = {"stuck_cadences": stuck_cadences, "ewma_half_life_cadences": ewma_half_life_cadences,
                        "hysteresis_margin": hysteresis_margin, "hysteresis_intervals": hysteresis_intervals,
                        "quantile_bins": quantile_bins}
        self._derive()
        self.rings = BucketRings(self.n_rows, windows, self.grid)
        self.scalars = SeriesScalars(self.n_rows)
        self.dups = DuplicateRing(self.n_rows, duplicate_depth)
        self.level = np.zeros(self.n_rows, dtype=np.int8)
        self.raw_level = np.zeros(self.n_rows, dtype=np.int8)
        # the worst level each row reached since the last vitals snapshot (:meth:`take_peak_levels`)
        self.peak_level = np.zeros(self.n_rows, dtype=np.int8)
        self.quiet = np.zeros(self.n_rows, dtype=np.int16)
        self.clock_ns = 0
        self.duplicates_total = 0
        self._fresh_view_cache()

    def _derive(self) -> None:
        """Objects rebuilt from the catalog and options (not pickled)."""
        cat, opt = self.catalog, self.options
        self.seasonal = SeasonalModel(cat)
        self.grid = QuantileGrid(cat, int(opt["quantile_bins"] or DEFAULT_BINS))
        self.rules = LevelRules(cat, opt["hysteresis_margin"], opt["hysteresis_intervals"])  # type: ignore[arg-type]
        self.half_life_ns = cat.cadence_array * float(opt["ewma_half_life_cadences"] or 0.0) * NS_PER_S

    # ---- snapshots (Bytewax recovery deep-copies the state at every epoch and pickles the copy) --------------
    def __getstate__(self) -> dict[str, Any]:
        """The arrays and counters; the catalog as cached bytes (:mod:`vitals.state.catalog_ref`)."""
        state = {k: v for k, v in vars(self).items() if k not in _NOT_PICKLED}
        state["catalog"] = catalog_payload(self.catalog)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "peak_level" not in state:  # pickled before peak levels: the interval's peak starts at the level
            self.peak_level = self.level.copy()
        self.catalog = restore_catalog(*state["catalog"])
        self._derive()
        self._fresh_view_cache()

    def __deepcopy__(self, memo: dict[int, Any]) -> ShardState:
        """A copy of the arrays sharing the catalog and everything derived from it (all read-only)."""
        twin = object.__new__(ShardState)
        for name, value in vars(self).items():
            if name in _NOT_PICKLED:
                twin.__dict__[name] = value
            else:
                twin.__dict__[name] = copy.deepcopy(value, memo)
        twin._fresh_view_cache()
        return twin

    def _fresh_view_cache(self) -> None:
        self._view_cache = ViewCache()
        self._dirty = np.zeros(self.n_rows, dtype=bool)
        self._rows_read: npt.NDArray[np.int64] | None = None  # rows with a reading (None: to be found again)
        self._capture_row_bytes = 0  # bytes a capture holds per row (0: not known yet)

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.rings.windows

    def state_bytes(self) -> int:
        """Bytes of per-series state held by this shard (the arrays; not the shared catalog)."""
        return (self.rings.nbytes() + self.scalars.nbytes() + self.dups.nbytes()
                + self.level.nbytes + self.raw_level.nbytes + self.peak_level.nbytes + self.quiet.nbytes
                + self._dirty.nbytes)

    # ---- update --------------------------------------------------------------------------------------------
    def prepare(self, batch: ReadingBatch) -> PreparedReadings:
        """What :meth:`update_one` needs of every reading of ``batch`` that does not depend on the state, worked
        out once for the batch (a sparse feed replayed fast folds a batch one reading at a time)."""
        series = self.catalog.series_id(batch.indicator, batch.street)
        self._check_shard(series, batch)
        rows = series // self.n_shards if self.n_shards > 1 else series
        indicator = batch.indicator.astype(np.int64)
        raw, lowered = self.rules.raw_and_lowered(
            indicator, badness(self.catalog, indicator, batch.value, batch.ts_ns, self.seasonal))
        return PreparedReadings(
            rows=rows, series=series, seconds=seconds_of(batch.ts_ns), values32=batch.value.astype(np.float32),
            bins=self.grid.bins(indicator, batch.value),
            row_list=rows.tolist(), ts_list=batch.ts_ns.tolist(), value_list=batch.value.tolist(),
            half_life_list=self.half_life_ns[indicator].tolist(), raw_list=raw.tolist(),
            lowered_list=lowered.tolist())

    def update_one(self, piece: ReadingBatch, prepared: PreparedReadings, at: int) -> UpdateResult:
        """:meth:`update` of a one-reading ``piece``, reading ``at`` of the batch ``prepared`` was made of: the
        same operations on the state in scalars (a duplicate takes :meth:`update`)."""
        row, ts = prepared.row_list[at], prepared.ts_list[at]
        if ts in self.dups.ts[row].tolist():
            return self.update(piece)
        self.clock_ns = max(self.clock_ns, ts)
        one = slice(at, at + 1)
        rows = prepared.rows[one]
        self.rings.update_seconds(rows, prepared.seconds[one], prepared.values32[one], prepared.bins[one],
                                  self.clock_ns)
        if ts > int(self.scalars.last_ts[row]):  # record-breaking: the levels' update
            raw = prepared.raw_list[at]
            self._level_one(row, raw, prepared.lowered_list[at])
            self.raw_level[row] = raw
        if self._rows_read is not None and not self.scalars.readings[row]:  # the row's first reading
            self._rows_read = None
        self.scalars.update_one(row, ts, prepared.value_list[at], prepared.half_life_list[at])
        if not self.dups.insert_one(row, ts):
            self.dups.insert_arrays(rows, piece.ts_ns, Groups.of(rows))
        self._dirty[row] = True
        return UpdateResult(1, [], prepared.series[one], piece.without_input())

    def _level_one(self, row: int, raw: int, lowered: int) -> None:
        """The hysteresis rule for one update of ``row`` (:func:`vitals.health.hysteresis.apply_updates`)."""
        apply_one(self.level, self.quiet, row, raw, lowered, intervals=self.rules.intervals)
        self.peak_level[row] = max(int(self.peak_level[row]), raw)

    def _check_shard(self, series: npt.NDArray[np.int64], batch: ReadingBatch) -> None:
        if self.n_shards > 1 and (series % self.n_shards != self.shard).any():
            msg = f"batch {batch.partition}:{batch.seq} holds series of other shards than {self.shard}; " \
                  "split it with vitals.state.split_by_shard first"
            raise StateError(msg)

    def update(self, batch: ReadingBatch) -> UpdateResult:
        """Fold a batch of valid readings of this shard in; exact duplicates are dropped and returned."""
        if not len(batch):
            return UpdateResult(0, [], np.empty(0, np.int64), batch)
        series = self.catalog.series_id(batch.indicator, batch.street)
        self._check_shard(series, batch)
        rows = series // self.n_shards if self.n_shards > 1 else series
        order = sort_by_row_then_time(rows, batch.ts_ns)
        r_sorted, t_sorted = rows[order], batch.ts_ns[order]
        dup = within_batch_duplicates(r_sorted, t_sorted) | self.dups.seen(r_sorted, t_sorted)
        keep = order[~dup]
        touched = self._fold(rows[keep], batch.ts_ns[keep], batch.value[keep], batch.indicator[keep].astype(np.int64),
                             keep)
        if len(keep) == len(batch):  # the accepted readings go on without their input (history, scorer)
            return UpdateResult(len(keep), [], touched * self.n_shards + self.shard, batch.without_input())
        dup_idx = np.sort(order[dup])
        self.duplicates_total += len(dup_idx)
        accepted = np.ones(len(batch), dtype=bool)
        accepted[dup_idx] = False
        return UpdateResult(len(keep), self._rejections(batch, dup_idx), touched * self.n_shards + self.shard,
                            batch.take(accepted).without_input())

    def _fold(
        self, rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        indicator: npt.NDArray[np.int64], arrival: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        """Apply de-duplicated readings sorted by (row, time); returns the touched rows (sorted)."""
        if not len(rows):
            return rows
        groups = Groups.of(rows)
        self._rows_read = None
        self.clock_ns = max(self.clock_ns, newest(ts))
        self.rings.update(rows, ts, values.astype(np.float32), self.grid.bins(indicator, values), self.clock_ns)
        updates = self.scalars.record_breaking(rows, ts, arrival, groups)
        self._levels(rows[updates], ts[updates], values[updates], indicator[updates], groups.gid[updates])
        self.scalars.update(rows, ts, values, self.half_life_ns[indicator], groups)
        self.dups.insert(rows, ts, groups)
        self._dirty[groups.rows] = True
        return groups.rows

    def _levels(
        self, rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        indicator: npt.NDArray[np.int64], gid: npt.NDArray[np.int64],
    ) -> None:
        """Raw level of the newest update per series, and the hysteresis level over all updates in order."""
        if not len(rows):
            return
        x = badness(self.catalog, indicator, values, ts, self.seasonal)
        raw, lowered = self.rules.raw_and_lowered(indicator, x)
        if len(rows) == 1:  # one update (a sparse feed's piece)
            occurrence = np.zeros(1, dtype=np.int64)
        else:
            first = np.ones(len(rows), dtype=bool)
            first[1:] = gid[1:] != gid[:-1]
            starts = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
            occurrence = np.arange(len(rows)) - starts
        apply_updates(self.level, self.quiet, rows, occurrence=occurrence, raw=raw, lowered=lowered,
                      intervals=self.rules.intervals)
        self.raw_level[rows] = raw  # fancy assignment: the last (newest) update of each row wins
        # a level rises only to an update's raw level (at once) and falls otherwise, so the worst level reached
        # since the interval began is the larger of the level then (the peak's reset) and every update's raw level
        np.maximum.at(self.peak_level, rows, raw)

    def _rejections(self, batch: ReadingBatch, idx: npt.NDArray[np.int64]) -> list[Rejection]:
        """Duplicate rejections (rare: one object each, as the dead-letter contract asks); raw: the input line of a
        parsed batch, else the reading rebuilt as JSON; placed at its message's offset or file line when the input
        knows it."""
        from vitals.readings.schema import clip_text  # only when there are duplicates

        out = []
        stamps = np.datetime_as_string(batch.ts_ns[idx].astype("datetime64[ns]"), unit="ns")
        indicators = [self.catalog.indicators[i].id for i in batch.indicator[idx].tolist()]
        streets = [self.catalog.streets[s].id for s in batch.street[idx].tolist()]
        sensors = [None] * len(idx) if batch.sensor is None else batch.sensor[idx].tolist()
        for text, where, stamp, ind, street, value, sensor in zip(
                batch.input_texts(idx), batch.input_positions(idx), stamps.tolist(), indicators, streets,
                batch.value[idx].tolist(), sensors, strict=True):
            ts = stamp + "Z"
            record: dict[str, object] = {"ts": ts, "indicator": ind, "area": street, "value": value}
            if sensor is not None:
                record["sensor"] = str(sensor)
            raw = clip_text(text) if text is not None else json.dumps(record, ensure_ascii=False)
            detail = f"{ind} in {street} already has an accepted reading at {ts}"
            out.append(Rejection("duplicate", raw, detail, batch.partition, batch.seq).at(where))
        return out

    # ---- view ----------------------------------------------------------------------------------------------
    def view(self, now_ns: int | None = None) -> VitalsView:
        """Vitals of every series with at least one reading, as of ``max(now_ns, shard clock)`` (event time).

        Incremental: window statistics are recomputed only for series written since the last view or whose
        windows moved over a bucket with data (:mod:`vitals.state.view_cache`); the columns are read-only."""
        as_of = self.clock_ns if now_ns is None else max(self.clock_ns, int(now_ns))
        view = render_view(self, as_of, self._view_cache, self._dirty)
        self._dirty[:] = False
        return view

    def take_peak_levels(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The worst level each of ``rows`` reached since the previous call (or the start), as float64 (a vitals
        column); then every row's peak starts again from its current level. Called at each vitals snapshot of the
        history: the snapshot's ``peak_level`` keeps a warning that rose and fell between two snapshots."""
        peak = self.peak_level[rows].astype(np.float64)
        np.copyto(self.peak_level, self.level)
        return peak

    def series_with_readings(self) -> int:
        """How many series of the shard have a reading (the rows a view or a capture shows)."""
        return len(self.rows_with_readings())

    def rows_with_readings(self) -> npt.NDArray[np.int64]:
        """The rows of :meth:`series_with_readings` (read-only; found again only after a row's first reading)."""
        if self._rows_read is None:
            rows = np.flatnonzero(self.scalars.readings > 0)
            rows.setflags(write=False)
            self._rows_read = rows
        return self._rows_read

    def capture(self, now_ns: int) -> Capture:
        """The state's rows as :meth:`view` would show them as of ``max(now_ns, shard clock)``, copied without
        computing anything (:func:`vitals.state.render.capture`); :meth:`render` makes the views later."""
        return capture(self, max(self.clock_ns, int(now_ns)), self.rows_with_readings())

    def capture_bytes(self, rows: int) -> int:
        """``Capture.nbytes`` of a capture of ``rows`` rows (its copies hold the same bytes for every row)."""
        if not self._capture_row_bytes:
            self._capture_row_bytes = capture(self, self.clock_ns, np.zeros(1, dtype=np.int64)).nbytes
        return rows * self._capture_row_bytes

    def render(self, captures: list[Capture]) -> list[VitalsView]:
        """The views of earlier captures, in one pass (bit for bit what :meth:`view` showed at each)."""
        return render_captures(self, captures)
