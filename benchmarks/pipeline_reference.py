"""The numpy-only reference of the streaming core's Parquet replay (issue 2: "the same state update done with
numpy alone"), for ``bench_pipeline.py``. No Bytewax, no library objects on the per-batch path: plain arrays
derived once from the catalog, then per Parquet record batch:

1. decode: ``pyarrow.parquet`` record batches of ``batch_rows`` rows (the file and batch size the core reads);
   timestamp column as int64 ns; value column as float64;
2. id -> code mapping: each dictionary-encoded id column's dictionary is looked up once (cached while the
   file's dictionary is unchanged) and its indices gathered through it (unknown ids map to -1);
3. checks: known indicator and street, finite value, value inside the indicator's valid range, timestamp at
   most 300 s ahead of the wall clock, and the partition watermark's lateness rule (a valid reading more than
   300 s behind the newest earlier valid reading is late; a running maximum in arrival order, as the core's);
4. the window bucket updates the core does: 5 min / 1 h / 24 h rings of 5 / 12 / 24 buckets in one flat array
   per statistic (the core's layout), a slot's tag checked and the slot reset when a newer bucket takes it,
   only buckets inside their window as of the clock written; count, sum (float32), min, max per slot with
   ``ufunc.at``, the p95 histogram (24 bins per slot, the core's per-indicator grid, uint8 counts; the core
   also guards against saturation past 255 readings per bucket, which never happens here);
5. the last value and its time per series.

What the core does and this reference does not: exact-duplicate detection (ring of recent event times per
series), the (row, time) sort those and the next need, EWMA, stuck-sensor reference, the data-quality
counters, warning levels with hysteresis, the split into shards, dead letters and rejection bookkeeping,
Bytewax (operators, epochs, routing), and the exporter's views and health roll-up.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.catalog import Catalog
from vitals.state.quantile import DEFAULT_BINS, QuantileGrid

NS = 1_000_000_000
ORIGIN_NS = 946_684_800 * NS  # 2000-01-01: bucket numbers count from here (as in the core)
WINDOWS = ((300, 5), (3600, 12), (86400, 24))  # (length s, buckets): the core's DEFAULT_WINDOWS
LATENESS_NS = 300 * NS
FUTURE_NS = 300 * NS
EMPTY_TAG = np.iinfo(np.int32).min


class NumpyPipelineReference:
    """Parquet file -> coded, checked readings -> window rings and last values, in plain numpy."""

    def __init__(self, catalog: Catalog) -> None:
        grid = QuantileGrid(catalog, DEFAULT_BINS)  # only its per-indicator arrays are used below
        self.grid_lo, self.grid_width, self.n_bins = grid.lo, grid.width, DEFAULT_BINS
        self.ind_index = {i.id: n for n, i in enumerate(catalog.indicators)}
        self.street_index = {s.id: n for n, s in enumerate(catalog.streets)}
        self.valid_lo = np.array([i.valid_min for i in catalog.indicators], dtype=np.float64)
        self.valid_hi = np.array([i.valid_max for i in catalog.indicators], dtype=np.float64)
        self.n_streets = len(catalog.streets)
        n_series = len(catalog.indicators) * self.n_streets
        self.n_slots = sum(k for _, k in WINDOWS)
        size = n_series * self.n_slots
        self.tag = np.full(size, EMPTY_TAG, dtype=np.int32)
        self.count = np.zeros(size, dtype=np.float32)
        self.total = np.zeros(size, dtype=np.float32)
        self.low = np.full(size, np.inf, dtype=np.float32)
        self.high = np.full(size, -np.inf, dtype=np.float32)
        self.hist = np.zeros(size * self.n_bins, dtype=np.uint8)
        self.hist_rows = self.hist.view(np.dtype((np.void, self.n_bins)))
        self.empty_row = np.zeros((), dtype=self.hist_rows.dtype)
        self.last_ts = np.full(n_series, np.iinfo(np.int64).min, dtype=np.int64)
        self.last = np.full(n_series, np.nan, dtype=np.float64)
        self.watermark: int | None = None  # the newest valid event time so far
        self.clock_ns = 0
        self._dicts: dict[str, tuple[pa.Array, npt.NDArray[np.int64]]] = {}
        self.accepted = 0
        self.rejected = 0

    def replay(self, path: Path, batch_rows: int) -> None:
        for rb in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            self.update(rb)

    def _codes(self, column: pa.DictionaryArray, name: str, index: dict[str, int]) -> npt.NDArray[np.int64]:
        cached = self._dicts.get(name)
        if cached is None or not cached[0].equals(column.dictionary):
            lookup = np.array([index.get(x, -1) for x in column.dictionary.to_pylist()], dtype=np.int64)
            cached = (column.dictionary, lookup)
            self._dicts[name] = cached
        return cached[1][column.indices.to_numpy(zero_copy_only=False)]

    def update(self, rb: pa.RecordBatch) -> None:
        ts = rb.column("ts").cast(pa.int64()).to_numpy()
        ind = self._codes(rb.column("indicator"), "indicator", self.ind_index)
        street = self._codes(rb.column("area"), "area", self.street_index)
        value = rb.column("value").to_numpy(zero_copy_only=False)
        known = (ind >= 0) & (street >= 0)
        safe_ind = np.where(known, ind, 0)
        ok = known & np.isfinite(value) & (value >= self.valid_lo[safe_ind]) & (value <= self.valid_hi[safe_ind])
        ok &= ts <= time.time_ns() + FUTURE_NS
        keep = np.flatnonzero(ok)
        if len(keep):  # late: behind the newest earlier valid reading of the partition minus the lateness
            t = ts[keep]
            carried = int(t[0]) if self.watermark is None else self.watermark
            newest = np.maximum.accumulate(np.concatenate(([carried], t)))
            self.watermark = int(newest[-1])
            keep = keep[t >= newest[:-1] - LATENESS_NS]
        self.accepted += len(keep)
        self.rejected += len(ok) - len(keep)
        self._fold(ts[keep], ind[keep], street[keep], value[keep])

    def _fold(self, ts: npt.NDArray[np.int64], ind: npt.NDArray[np.int64], street: npt.NDArray[np.int64],
              value: npt.NDArray[np.float64]) -> None:
        if not len(ts):
            return
        series = ind * self.n_streets + street
        self.clock_ns = max(self.clock_ns, int(ts.max()))
        seconds = (ts - ORIGIN_NS) // NS
        clock_s = (self.clock_ns - ORIGIN_NS) // NS
        pos = np.floor((value - self.grid_lo[ind]) / self.grid_width[ind]) + 1.0
        bins = np.clip(pos, 0, self.n_bins - 1).astype(np.int64)
        v32 = value.astype(np.float32)
        base, off = series * self.n_slots, 0
        flats, tags, sources = [], [], []
        for length, buckets in WINDOWS:
            width = length // buckets
            b = seconds // width
            inside = np.flatnonzero(b >= clock_s // width - buckets + 1)
            flats.append(base[inside] + (b[inside] % buckets + off))
            tags.append(b[inside])
            sources.append(inside)
            off += buckets
        flat = np.concatenate(flats)
        tag = np.concatenate(tags).astype(np.int32)
        src = np.concatenate(sources)
        stale = flat[self.tag[flat] != tag]
        self.tag[flat] = tag
        self.count[stale], self.total[stale], self.low[stale], self.high[stale] = 0, 0, np.inf, -np.inf
        np.put(self.hist_rows, stale, self.empty_row)  # each slot's bins as one 24-byte record
        v = v32[src]
        np.add.at(self.count, flat, np.ones(len(flat), dtype=np.float32))  # operands of the array's dtype:
        np.add.at(self.total, flat, v)                                     # numpy's fast ufunc.at path
        np.minimum.at(self.low, flat, v)
        np.maximum.at(self.high, flat, v)
        np.add.at(self.hist, flat * self.n_bins + bins[src], np.ones(len(flat), dtype=np.uint8))
        np.maximum.at(self.last_ts, series, ts)
        newest = ts == self.last_ts[series]
        self.last[series[newest]] = value[newest]


def time_reference(catalog: Catalog, path: Path, batch_rows: int) -> tuple[float, float, NumpyPipelineReference]:
    """A fresh reference replays ``path`` in this process: (wall s, CPU s of this process, the reference)."""
    ref = NumpyPipelineReference(catalog)
    started, cpu = time.perf_counter(), time.process_time()
    ref.replay(path, batch_rows)
    return time.perf_counter() - started, time.process_time() - cpu, ref
