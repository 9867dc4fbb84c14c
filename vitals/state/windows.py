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
from vitals.state.scratch import Scratch, scratch
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

    def nbytes(self) -> int:
        return int(self.tag.nbytes + self.cells.nbytes + self.hist.nbytes)

    def _targets(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], clock_ns: int, work: Scratch
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int64] | None]:
        """Flat slot index, bucket tag and reading index (None: every reading of every window, window after
        window) of every (reading, window) inside its window as of the clock; in ``work``'s arrays."""
        n = len(rows)
        seconds = np.subtract(ts_ns, ORIGIN_NS, out=work.take("seconds", n, np.int64))
        seconds //= NS_PER_S
        clock_s = (clock_ns - ORIGIN_NS) // NS_PER_S
        oldest_s = (int(ts_ns.min()) - ORIGIN_NS) // NS_PER_S
        if oldest_s // self.windows[0].bucket_s <= EMPTY_TAG or clock_s > np.iinfo(np.int32).max:
            msg = "event time outside the range the bucket rings can hold (2000-01-01 +- 68 years per 1 s bucket)"
            raise StateError(msg)
        base = np.multiply(rows, self.n_slots, out=work.take("base", n, np.int64))
        b = work.take("bucket", n, np.int64)
        flat = work.take("flat", n * len(self.windows), np.int64)
        tag = work.take("tag", n * len(self.windows), np.int32)
        pos, parts = 0, []  # (start in flat, readings kept: None = all)
        for w, off in zip(self.windows, self.offsets.tolist(), strict=True):
            np.floor_divide(seconds, w.bucket_s, out=b)
            first_inside = clock_s // w.bucket_s - w.buckets + 1
            if oldest_s // w.bucket_s >= first_inside:
                keep, m = None, n
                seg = np.remainder(b, w.buckets, out=flat[pos:pos + m])
                seg += off
                seg += base
                tag[pos:pos + m] = b
            else:
                keep = np.flatnonzero(b >= first_inside)
                m = len(keep)
                seg = np.take(b, keep, out=flat[pos:pos + m], mode="clip")
                tag[pos:pos + m] = seg
                np.remainder(seg, w.buckets, out=seg)
                seg += off
                seg += np.take(base, keep, out=work.take("kept_base", m, np.int64), mode="clip")
            parts.append((pos, keep))
            pos += m
        if all(keep is None for _, keep in parts):
            return flat, tag, None
        src = work.take("source", pos, np.int64)
        for start, keep in parts:
            got = work.arange(n) if keep is None else keep
            src[start:start + len(got)] = got
        return flat[:pos], tag[:pos], src

    def update(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
        bins: npt.NDArray[np.int64], clock_ns: int,
    ) -> None:
        """Add readings sorted by (row, time) (local rows, event times, values, quantile bins); ``clock_ns``
        already includes them.

        Only buckets inside their window as of the clock are written, so the buckets one batch writes to a
        row's ring span fewer than ``K`` bucket numbers (distinct slots), and no stored tag is newer than an
        incoming one: a slot whose tag differs from the incoming bucket is simply reset first. The work arrays
        are this thread's :func:`vitals.state.scratch.scratch` (reused, not made per call)."""
        # np.take(..., mode="clip"): every index is in range by construction, and the default "raise" would
        # buffer ``out`` (a fresh array again)
        work = scratch()
        flat, tag, src = self._targets(rows, ts_ns, clock_ns, work)
        m = len(flat)
        if not m:
            return
        old = np.take(self.tag, flat, out=work.take("old_tag", m, np.int32), mode="clip")
        self.tag[flat] = tag
        self._reset(flat[np.not_equal(old, tag, out=work.take("fresh", m, np.bool_))])
        v = work.take("values", m, np.float32)
        hidx = np.multiply(flat, self.n_bins, out=work.take("hist_index", m, np.int64))
        if src is None:
            n = len(values)
            for k in range(len(self.windows)):
                v[k * n:(k + 1) * n] = values
                hidx[k * n:(k + 1) * n] += bins
        else:
            np.take(values, src, out=v, mode="clip")
            hidx += np.take(bins, src, out=work.take("bins", m, np.int64), mode="clip")
        cells = self.cells
        # count and sum side by side as one complex64: one ufunc.at adds both, with the same float32 arithmetic
        count_sum = cells.view(np.complex64)[:, 0]
        ones_v = work.take("count_sum", m, np.complex64)
        ones_v.real, ones_v.imag = 1.0, v
        np.add.at(count_sum, flat, ones_v)
        np.minimum.at(cells[:, LOW], flat, v)
        np.maximum.at(cells[:, HIGH], flat, v)
        self._add_hist(flat, hidx, work)

    def _reset(self, flat: npt.NDArray[np.int64]) -> None:
        """Empty the cells and histograms of the slots ``flat`` (one whole-record write each)."""
        if not len(flat):
            return
        self.cells.view(np.complex128)[flat, 0] = EMPTY_CELL
        np.put(self.hist.view(np.dtype((np.void, self.n_bins))), flat, np.zeros((), np.dtype((np.void, self.n_bins))))

    def _add_hist(self, flat: npt.NDArray[np.int64], hidx: npt.NDArray[np.int64], work: Scratch) -> None:
        """Add one per reading to its bin, saturating at 255 (only buckets past 255 readings take the slow path)."""
        counts = np.take(self.cells[:, COUNT], flat, out=work.take("counts", len(flat), np.float32), mode="clip")
        risky = np.greater(counts, SATURATED, out=work.take("risky", len(flat), np.bool_))
        if risky.any():
            cells, added = np.unique(hidx[risky], return_counts=True)
            self.hist[cells] = np.minimum(self.hist[cells].astype(np.int64) + added, SATURATED).astype(np.uint8)
            hidx = hidx[~risky]
        ones = work.take("ones", len(hidx), np.uint8)
        ones.fill(1)
        np.add.at(self.hist, hidx, ones)
