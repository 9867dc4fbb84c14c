"""Series on a regular event-time grid: the shape forecasters train and predict on.

A :class:`SeriesGrid` holds one row per series and one column per step of ``step_s`` seconds; cell
``[i, t]`` is the last value series ``i`` reported in ``[start + t*step, start + (t+1)*step)``, carried
forward when the series was silent (a low-cadence series keeps its last reading). Column ``t`` describes the
state at its end time ``start + (t+1)*step``. Built from arrays (a simulated city, a stream) or from a history
DataFrame; everything is vectorized.

:class:`LagBuffer` is the streaming counterpart: a ring of the last ``n_steps`` grid columns per series,
updated from columnar batches and read at window close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import Catalog
from vitals.errors import ModelError
from vitals.units import NS_PER_S

# a training's backtest holds out the last 30 % of its steps, at most this many (3 days of a 5-minute grid): its
# memory and time grow with the cells it holds out
MAX_HOLDOUT_STEPS = 864


def forward_fill(values: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Carry the last non-NaN value forward along the last axis (leading NaNs stay NaN)."""
    n_cols = values.shape[-1]
    idx = np.where(np.isnan(values), 0, np.arange(n_cols))
    np.maximum.accumulate(idx, axis=-1, out=idx)
    filled = np.take_along_axis(values, idx, axis=-1)
    # a leading NaN run points at column 0, which is NaN itself: it stays NaN
    return filled


def latest_per_key(key: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Indices of the latest reading (by event time; the later row on ties) for each distinct key."""
    order = np.lexsort((ts_ns, key))  # stable: rows tied on (key, time) keep their order, the later one last
    key_sorted = key[order]
    is_last = np.ones(key_sorted.shape[0], dtype=bool)
    is_last[:-1] = key_sorted[1:] != key_sorted[:-1]
    return order[is_last]


@dataclass(frozen=True, eq=False)
class SeriesGrid:
    """Values of N series on T regular steps.

    values:    float32 (N, T), NaN before a series' first reading.
    series:    int64 (N,) global series ids (``Catalog.series_id``).
    indicator: int16 (N,) indicator codes.
    street:    int32 (N,) street codes.
    start_ns:  the start of column 0 (UTC ns); column t ends at ``start_ns + (t + 1) * step_s * 1e9``.
    step_s:    the grid step in seconds.
    """

    values: npt.NDArray[np.float32]
    series: npt.NDArray[np.int64]
    indicator: npt.NDArray[np.int16]
    street: npt.NDArray[np.int32]
    start_ns: int
    step_s: int

    @property
    def n_series(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])

    def column_end_ns(self) -> npt.NDArray[np.int64]:
        """End time (UTC ns) of every column."""
        step_ns = self.step_s * NS_PER_S
        return self.start_ns + (np.arange(self.n_steps, dtype=np.int64) + 1) * step_ns

    def holdout_start(self, share: float, max_steps: int = MAX_HOLDOUT_STEPS) -> int:
        """The first step of a backtest's held-out part: the last ``share`` of the steps, at most ``max_steps`` of
        them (a backtest's memory and time grow with the cells it holds out; 3 days of the full city's 5-minute
        grid are ~1 M windows, and a month's training holds out no more)."""
        return max(int(self.n_steps * (1.0 - share)), self.n_steps - max_steps)

    def slice_steps(self, first: int, stop: int) -> SeriesGrid:
        """Columns ``[first, stop)`` as a new grid."""
        return SeriesGrid(
            values=self.values[:, first:stop], series=self.series, indicator=self.indicator,
            street=self.street, start_ns=self.start_ns + first * self.step_s * NS_PER_S, step_s=self.step_s,
        )

    @classmethod
    def from_readings(
        cls,
        catalog: Catalog,
        indicator: npt.NDArray[np.integer],
        street: npt.NDArray[np.integer],
        ts_ns: npt.NDArray[np.int64],
        value: npt.NDArray[np.float64],
        *,
        step_s: int = 300,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> SeriesGrid:
        """Grid of every series that has at least one valid reading (values outside the catalog's valid
        range or non-finite are dropped, as the stream would reject them): :class:`GridExtent` and
        :class:`GridBuilder` over one chunk."""
        extent = GridExtent(catalog)
        extent.add(indicator, street, ts_ns, value)
        builder = extent.builder(step_s, start_ns=start_ns, end_ns=end_ns)
        builder.add(indicator, street, ts_ns, value)
        return builder.finish()


def check_step(step_s: int) -> None:
    """Refuse a grid step that is not positive."""
    if step_s <= 0:
        msg = f"step_s must be positive, got {step_s}"
        raise ModelError(msg)


def valid_readings(
    catalog: Catalog, indicator: npt.NDArray[np.integer], value: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """The readings a grid keeps: finite and inside their indicator's valid range (what the stream accepts)."""
    ind = np.asarray(indicator)
    val = np.asarray(value, dtype=np.float64)
    ok = np.isfinite(val)
    ok &= val >= catalog.valid_min_array[ind]
    ok &= val <= catalog.valid_max_array[ind]
    return ok


class GridExtent:
    """The first pass of a grid built from readings in chunks (a month of history does not fit in memory as
    readings; its grid does): the valid readings' time range and the series that have one. ``add`` every chunk,
    then :meth:`builder` for the second pass."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.first_ns = int(np.iinfo(np.int64).max)
        self.last_ns = int(np.iinfo(np.int64).min)
        self.present = np.zeros(catalog.n_series, dtype=bool)

    def add(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
            ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]) -> None:
        ok = valid_readings(self.catalog, indicator, value)
        if not ok.any():
            return
        ts = np.asarray(ts_ns, np.int64)
        self.first_ns = min(self.first_ns, int(ts.min(where=ok, initial=self.first_ns)))
        self.last_ns = max(self.last_ns, int(ts.max(where=ok, initial=self.last_ns)))
        self.present[self.catalog.series_id(np.asarray(indicator)[ok], np.asarray(street)[ok])] = True

    def layout(self, step_s: int, *, start_ns: int | None = None, end_ns: int | None = None) -> tuple[int, int]:
        """The grid's first step (UTC ns) and its number of steps: from the first valid reading's step (or
        ``start_ns``) to the last valid reading (or ``end_ns``, exclusive)."""
        check_step(step_s)
        if self.first_ns > self.last_ns:
            msg = "no valid readings to build a series grid from"
            raise ModelError(msg)
        step_ns = step_s * NS_PER_S
        start = self.first_ns // step_ns * step_ns if start_ns is None else int(start_ns)
        end = self.last_ns + 1 if end_ns is None else int(end_ns)
        return start, max(1, -(-(end - start) // step_ns))

    @property
    def n_series(self) -> int:
        """The series with a valid reading so far (the grid's rows, at most)."""
        return int(np.count_nonzero(self.present))

    def builder(self, step_s: int, *, start_ns: int | None = None, end_ns: int | None = None) -> GridBuilder:
        """The empty grid of the series seen, over :meth:`layout`'s steps."""
        start, n_steps = self.layout(step_s, start_ns=start_ns, end_ns=end_ns)
        return GridBuilder(self.catalog, np.flatnonzero(self.present), start_ns=start, n_steps=n_steps,
                           step_s=step_s)


class GridBuilder:
    """Fills a :class:`SeriesGrid` of given series and steps from readings in chunks, in their order: a cell
    holds the latest valid reading of its step by event time, the later one read on ties (across chunks as
    within one), exactly as if all chunks were one. Memory: the grid (4 bytes a cell) and the event time of
    each cell's value (8 bytes), dropped by :meth:`finish`; a series with no reading in the grid's steps is left
    out of the result."""

    FILL_BLOCK_CELLS = 1 << 22  # the forward fill's temporaries (12 bytes a cell) are bounded to this many cells

    def __init__(self, catalog: Catalog, series: npt.NDArray[np.integer], *, start_ns: int, n_steps: int,
                 step_s: int) -> None:
        self.catalog = catalog
        self.series = np.asarray(series, dtype=np.int64)
        self.start_ns = int(start_ns)
        self.step_s = int(step_s)
        self.row_of = np.full(catalog.n_series, -1, dtype=np.int64)
        self.row_of[self.series] = np.arange(self.series.size)
        self.values = np.full((self.series.size, n_steps), np.nan, dtype=np.float32)
        self.value_ts = np.full(self.values.shape, np.iinfo(np.int64).min, dtype=np.int64)
        self.touched = np.zeros(self.series.size, dtype=bool)

    def add(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
            ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]) -> None:
        n_cols = self.values.shape[1]
        step_ns = self.step_s * NS_PER_S
        ts_all = np.asarray(ts_ns, np.int64)
        ok = valid_readings(self.catalog, indicator, value)
        ok &= ts_all >= self.start_ns
        ok &= ts_all < self.start_ns + n_cols * step_ns
        idx = np.flatnonzero(ok)
        del ok
        row = self.row_of[self.catalog.series_id(np.asarray(indicator)[idx], np.asarray(street)[idx])]
        mine = row >= 0
        if not mine.all():  # a reading of a series this grid does not hold
            idx, row = idx[mine], row[mine]
        self.touched[row] = True
        ts = ts_all[idx]
        cell = row
        cell *= n_cols
        cell += (ts - self.start_ns) // step_ns
        pick = latest_per_key(cell, ts)
        cell, ts = cell[pick], ts[pick]
        newer = ts >= self.value_ts.reshape(-1)[cell]  # ties: the later chunk's, as the later row's within one
        cell, ts, pick = cell[newer], ts[newer], pick[newer]
        self.value_ts.reshape(-1)[cell] = ts
        self.values.reshape(-1)[cell] = np.asarray(value, dtype=np.float64)[idx[pick]]

    def finish(self) -> SeriesGrid:
        """The grid, carried forward over silent steps; the builder is spent."""
        del self.value_ts
        values = self.values
        block = max(1, self.FILL_BLOCK_CELLS // max(values.shape[1], 1))
        for first in range(0, values.shape[0], block):
            values[first:first + block] = forward_fill(values[first:first + block])
        series = self.series
        if not self.touched.all():
            values, series = values[self.touched], series[self.touched]
        ind_codes, street_codes = self.catalog.split_series_id(series)
        return SeriesGrid(values=values, series=series, indicator=ind_codes.astype(np.int16),
                          street=street_codes.astype(np.int32), start_ns=self.start_ns, step_s=self.step_s)


class LagBuffer:
    """The last ``n_steps`` grid columns of every series, kept in a ring, for streaming.

    ``update`` takes columnar readings (vectorized); ``window(now_ns)`` returns the (N, n_steps) grid whose
    last column is the step that ends at or before ``now_ns``, oldest first, carried forward like
    :class:`SeriesGrid` (a value older than the window carries in). Plain numpy state: it pickles for
    recovery snapshots. The ring has two spare slots so that readings of the step in progress never
    overwrite a step the window still needs.
    """

    def __init__(self, n_series: int, n_steps: int, step_s: int = 300) -> None:
        if n_steps < 1 or step_s <= 0 or n_series < 0:
            msg = f"LagBuffer needs n_series >= 0, n_steps >= 1 and step_s > 0, got {n_series}, {n_steps}, {step_s}"
            raise ModelError(msg)
        self.n_series = n_series
        self.n_steps = n_steps
        self.step_s = step_s
        ring = n_steps + 2
        self.values = np.full((n_series, ring), np.nan, dtype=np.float32)
        self.bucket = np.full((n_series, ring), -1, dtype=np.int64)  # which step each slot holds
        self.slot_ts = np.zeros((n_series, ring), dtype=np.int64)  # event time of the value held
        self.evicted_value = np.full(n_series, np.nan, dtype=np.float32)  # newest value pushed out of the ring
        self.evicted_bucket = np.full(n_series, -1, dtype=np.int64)

    def update(
        self, series: npt.NDArray[np.integer], ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64], *,
        compiled: bool = True,
    ) -> None:
        """Record readings (any order; the latest event time in a step wins). A batch spanning fewer steps than the
        ring is recorded by one compiled pass (:func:`vitals.forecasting.lag_kernel.record_readings`); others, or
        ``compiled=False`` (the reference), by the vectorized update: the same state."""
        if len(series) == 0:
            return
        ring = self.values.shape[1]
        sid = np.asarray(series, dtype=np.int64)
        ts = np.asarray(ts_ns, dtype=np.int64)
        if compiled:
            from vitals.forecasting.lag_kernel import record_readings  # numba: only the flow's scorer asks

            if record_readings(self.values, self.bucket, self.slot_ts, self.evicted_value, self.evicted_bucket,
                               np.ascontiguousarray(sid), np.ascontiguousarray(ts),
                               np.ascontiguousarray(value, dtype=np.float64), self.step_s * NS_PER_S):
                return
        b = ts // (self.step_s * NS_PER_S)
        pick = latest_per_key(sid * (1 << 40) + b, ts)
        row, b, ts, val = sid[pick], b[pick], ts[pick], np.asarray(value, np.float64)[pick]
        slot = b % ring
        held_b, held_ts = self.bucket[row, slot], self.slot_ts[row, slot]
        newer = (b > held_b) | ((b == held_b) & (ts >= held_ts))
        row, slot, b, ts, val, held_b = row[newer], slot[newer], b[newer], ts[newer], val[newer], held_b[newer]
        evict = (held_b >= 0) & (held_b < b) & (held_b > self.evicted_bucket[row])
        self.evicted_value[row[evict]] = self.values[row[evict], slot[evict]]
        self.evicted_bucket[row[evict]] = held_b[evict]
        self.values[row, slot] = val
        self.bucket[row, slot] = b
        self.slot_ts[row, slot] = ts

    def window(self, now_ns: int, every: int = 1, rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.float32]:
        """(N, n_steps) values of the steps ending at or before ``now_ns``, oldest first, carried forward; with
        ``every`` > 1 only every ``every``-th of those columns counted back from the newest (the same values as
        ``window(now_ns)[:, ::-every][:, ::-1]``, without carrying every column forward); with ``rows`` only those
        rows, in their order (the same values as ``window(now_ns, every)[rows]``)."""
        ring = self.values.shape[1]
        newest = now_ns // (self.step_s * NS_PER_S) - 1  # the last complete step
        if every > 1 and rows is not None:
            from vitals.forecasting.lag_kernel import carried_rows  # numba: only the flow's scorer asks

            return carried_rows(self.values, self.bucket, self.evicted_value, self.evicted_bucket,
                                newest - (self.n_steps - 1), self.n_steps, every,
                                np.ascontiguousarray(rows, dtype=np.intp))
        if rows is not None:
            return self.window(now_ns, every)[rows]
        if every > 1:
            from vitals.forecasting.lag_kernel import carried_columns  # numba: only the flow's scorer asks

            return carried_columns(self.values, self.bucket, self.evicted_value, self.evicted_bucket,
                                   newest - (self.n_steps - 1), self.n_steps, every)
        wanted = newest - np.arange(self.n_steps - 1, -1, -1, dtype=np.int64)
        slots = wanted % ring
        held = np.take(self.bucket, slots, axis=1) == wanted[None, :]  # take: faster than [:, slots]
        out = np.where(held, np.take(self.values, slots, axis=1), np.float32(np.nan))
        # the newest value from before the window carries in: a stale ring slot or the last evicted value
        stale_b = np.where(self.bucket < wanted[0], self.bucket, -1)
        best = stale_b.argmax(axis=1)
        rows = np.arange(self.n_series)
        carry_b = stale_b[rows, best]
        carry = np.where(carry_b >= 0, self.values[rows, best], np.float32(np.nan))
        use_evicted = (self.evicted_bucket > carry_b) & (self.evicted_bucket < wanted[0])
        carry = np.where(use_evicted, self.evicted_value, carry)
        out[:, 0] = np.where(np.isnan(out[:, 0]), carry, out[:, 0])
        return forward_fill(out)
