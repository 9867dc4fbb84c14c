"""Rolling windows in event time as rings of buckets, for all series of a shard at once.

Window ``w`` of length ``L`` has ``K`` buckets of ``b = L / K``. A reading at event time ``t`` belongs to bucket
number ``floor(t / b)`` and lands in ring slot ``floor(t / b) % K``; each slot remembers the bucket number it
holds (its tag), so a slot is reused when a newer bucket arrives and an older reading never overwrites a newer
bucket. As of a time ``T`` the window covers the buckets ``floor(T/b) - K + 1 .. floor(T/b)``.

All windows share one set of flat arrays of ``n_rows * n_slots`` entries (``n_slots`` = total buckets), so one
``ufunc.at`` call updates every window: ``tag`` int32 (bucket number since 2000-01-01); ``cells`` float32
records (count, sum, min, max) packed side by side so one reading touches one cache line (count as float32 is
exact up to 2**24 readings per bucket); and a uint8 histogram of ``n_bins`` per slot for the quantile sketch
(:mod:`vitals.state.quantile`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.errors import StateError
from vitals.state.quantile import QuantileGrid
from vitals.units import DAY_S, NS_PER_S

ORIGIN_NS = 946_684_800 * NS_PER_S  # 2000-01-01T00:00:00Z: bucket tags count from here
EMPTY_TAG = np.iinfo(np.int32).min
SATURATED = 255
COUNT, TOTAL, LOW, HIGH = 0, 1, 2, 3
EMPTY_CELL = np.array([0, 0, np.inf, -np.inf], dtype=np.float32).view(np.complex128)[0]  # (count, sum, low, high)


@dataclass(frozen=True)
class Window:
    """A rolling window: ``name`` (e.g. "5m"), length in seconds and the number of buckets."""

    name: str
    length_s: int
    buckets: int

    def __post_init__(self) -> None:
        if not self.name or self.length_s < 1 or self.buckets < 1 or self.length_s % self.buckets:
            msg = (f"window {self.name!r}: length_s ({self.length_s}) must be a positive multiple of buckets "
                   f"({self.buckets}), e.g. Window('1h', 3600, 12)")
            raise StateError(msg)

    @property
    def bucket_s(self) -> int:
        return self.length_s // self.buckets

    @property
    def bucket_ns(self) -> int:
        return self.bucket_s * NS_PER_S


DEFAULT_WINDOWS: tuple[Window, ...] = (Window("5m", 300, 5), Window("1h", 3600, 12), Window("24h", DAY_S, 24))


def bucket_numbers(ts_ns: npt.NDArray[np.int64], bucket_ns: int) -> npt.NDArray[np.int64]:
    """Bucket number of each event time, counted from 2000-01-01 (floor division, so negative before).

    Equal to ``((ts_ns - ORIGIN_NS) // NS_PER_S) // bucket_s`` because buckets are whole seconds."""
    return (ts_ns - ORIGIN_NS) // bucket_ns


WindowArrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


def seconds_of(ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Event times as whole seconds since ``ORIGIN_NS`` (what the rings' buckets count)."""
    return (ts_ns - ORIGIN_NS) // NS_PER_S


class BucketRings:
    """The ring buckets of every window for ``n_rows`` series (see the module docstring)."""

    def __init__(self, n_rows: int, windows: tuple[Window, ...], grid: QuantileGrid) -> None:
        names = [w.name for w in windows]
        if not windows or len(set(names)) != len(names):
            msg = f"windows need distinct names and at least one window, got {names}"
            raise StateError(msg)
        self.windows = windows
        self.n_rows = n_rows
        self.offsets = np.cumsum([0] + [w.buckets for w in windows])[:-1]
        self.n_slots = int(sum(w.buckets for w in windows))
        self.n_bins = grid.n_bins
        size = n_rows * self.n_slots
        self.tag = np.full(size, EMPTY_TAG, dtype=np.int32)
        self.cells = np.zeros((size, 4), dtype=np.float32)
        self.cells[:, LOW], self.cells[:, HIGH] = np.inf, -np.inf
        self.hist = np.zeros(size * self.n_bins, dtype=np.uint8)
        self._kernel_windows: WindowArrays | None = None  # made on first update (rings pickled before lack it)

    def windows_for_kernel(self) -> WindowArrays:
        """Bucket seconds, bucket counts and slot offsets of the windows as int64 arrays (the compiled update's and
        the window statistics' arguments), made once per rings object."""
        arrays: WindowArrays | None = getattr(self, "_kernel_windows", None)
        if arrays is None:
            arrays = (np.array([w.bucket_s for w in self.windows], dtype=np.int64),
                      np.array([w.buckets for w in self.windows], dtype=np.int64), self.offsets.astype(np.int64))
            self._kernel_windows = arrays  # writable, as after a pickle round trip: one compiled signature
        return arrays

    def nbytes(self) -> int:
        return int(self.tag.nbytes + self.cells.nbytes + self.hist.nbytes)

    def _targets(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], clock_ns: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int64] | None]:
        """Flat slot index, bucket tag and reading index (None: every reading of every window, window after
        window) of every (reading, window) inside its window as of the clock."""
        flats, tags, sources = [], [], []
        seconds = (ts_ns - ORIGIN_NS) // NS_PER_S
        clock_s = (clock_ns - ORIGIN_NS) // NS_PER_S
        oldest_s = (int(ts_ns.min()) - ORIGIN_NS) // NS_PER_S
        self._check_range(oldest_s, clock_s)
        base = rows * self.n_slots
        every = np.arange(len(rows))
        all_inside = True
        for w, off in zip(self.windows, self.offsets.tolist(), strict=True):
            b = seconds // w.bucket_s
            first_inside = clock_s // w.bucket_s - w.buckets + 1
            if oldest_s // w.bucket_s >= first_inside:
                flats.append(base + (b % w.buckets + off))
                tags.append(b)
                sources.append(every)
                continue
            all_inside = False
            keep = np.flatnonzero(b >= first_inside)
            b = b[keep]
            flats.append(base[keep] + (b % w.buckets + off))
            tags.append(b)
            sources.append(keep)
        return (np.concatenate(flats), np.concatenate(tags, dtype=np.int32),
                None if all_inside else np.concatenate(sources))

    def update(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
        bins: npt.NDArray[np.int64], clock_ns: int,
    ) -> None:
        """Add readings sorted by (row, time) (local rows, event times, values, quantile bins); ``clock_ns``
        already includes them.

        Only buckets inside their window as of the clock are written, so the buckets one batch writes to a
        row's ring span fewer than ``K`` bucket numbers (distinct slots), and no stored tag is newer than an
        incoming one: a slot whose tag differs from the incoming bucket is simply reset first. One compiled pass
        (:func:`vitals.state.rings_kernel.update_rings`), bit for bit :meth:`update_arrays`."""
        if not len(rows):
            return
        self.update_seconds(np.ascontiguousarray(rows, dtype=np.int64), seconds_of(ts_ns),
                            np.ascontiguousarray(values, dtype=np.float32), np.ascontiguousarray(bins, dtype=np.int64),
                            clock_ns)

    def update_seconds(
        self, rows: npt.NDArray[np.int64], seconds: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
        bins: npt.NDArray[np.int64], clock_ns: int,
    ) -> None:
        """:meth:`update` of (non-empty) readings given by their :func:`seconds_of`, as contiguous int64, float32
        and int64 arrays (a sparse feed's one-reading pieces: slices of arrays made once per batch)."""
        from vitals.state.rings_kernel import update_rings

        clock_s = (clock_ns - ORIGIN_NS) // NS_PER_S
        self._check_range(int(seconds[0]) if len(seconds) == 1 else int(seconds.min()), clock_s)
        bucket_s, buckets, offsets = self.windows_for_kernel()
        update_rings(self.tag, self.cells, self.hist, rows, seconds, values, bins, clock_s, bucket_s, buckets, offsets,
                     self.n_slots, self.n_bins)

    def _check_range(self, oldest_s: int, clock_s: int) -> None:
        if oldest_s // self.windows[0].bucket_s <= EMPTY_TAG or clock_s > np.iinfo(np.int32).max:
            msg = "event time outside the range the bucket rings can hold (2000-01-01 +- 68 years per 1 s bucket)"
            raise StateError(msg)

    def update_arrays(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
        bins: npt.NDArray[np.int64], clock_ns: int,
    ) -> None:
        """:meth:`update` in array operations (``ufunc.at``): the reference the compiled pass is tested against."""
        flat, tag, src = self._targets(rows, ts_ns, clock_ns)
        if not len(flat):
            return
        old = self.tag[flat]
        self.tag[flat] = tag
        self._reset(flat[old != tag])
        n_windows = len(self.windows)
        v = np.tile(values, n_windows) if src is None else values[src]
        cells = self.cells
        # count and sum side by side as one complex64: one ufunc.at adds both, with the same float32 arithmetic
        count_sum = cells.view(np.complex64)[:, 0]
        ones_v = np.empty(len(v), dtype=np.complex64)
        ones_v.real, ones_v.imag = 1.0, v
        np.add.at(count_sum, flat, ones_v)
        np.minimum.at(cells[:, LOW], flat, v)
        np.maximum.at(cells[:, HIGH], flat, v)
        self._add_hist(flat, flat * self.n_bins + (np.tile(bins, n_windows) if src is None else bins[src]))

    def _reset(self, flat: npt.NDArray[np.int64]) -> None:
        """Empty the cells and histograms of the slots ``flat`` (one whole-record write each)."""
        if not len(flat):
            return
        self.cells.view(np.complex128)[flat, 0] = EMPTY_CELL
        np.put(self.hist.view(np.dtype((np.void, self.n_bins))), flat, np.zeros((), np.dtype((np.void, self.n_bins))))

    def _add_hist(self, flat: npt.NDArray[np.int64], hidx: npt.NDArray[np.int64]) -> None:
        """Add one per reading to its bin, saturating at 255 (only buckets past 255 readings take the slow path)."""
        risky = self.cells[:, COUNT][flat] > SATURATED
        if risky.any():
            cells, counts = np.unique(hidx[risky], return_counts=True)
            self.hist[cells] = np.minimum(self.hist[cells].astype(np.int64) + counts, SATURATED).astype(np.uint8)
            hidx = hidx[~risky]
        np.add.at(self.hist, hidx, np.ones(len(hidx), dtype=np.uint8))
