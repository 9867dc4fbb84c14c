"""The bucket rings' update (:meth:`vitals.state.windows.BucketRings.update`) as one compiled pass (numba): every
(reading, window) inside its window as of the clock resets its slot when the slot holds an older bucket, then
adds the reading's count, sum, min, max and histogram bin.

Bit for bit what the numpy formulation computes (kept as the oracle: :meth:`BucketRings.update_arrays`, compared
in ``tests/state/test_piece_fast_paths.py``): the readings one batch writes to a slot all carry the same bucket
number (a batch writes fewer than ``K`` bucket numbers per row's ring), so resetting a slot on the first reading
whose tag differs is the array form's reset of every slot whose old tag differs; the float32 count and sum are
added in reading order (``ufunc.at``'s order); min and max follow numpy's ``minimum``/``maximum`` (a NaN held
stays, an equal value such as ``-0.0`` replaces the one held); a histogram bin saturates at 255, which the array
form does only where a bucket's count passes 255 (below, no bin can reach it).

Imported by :mod:`vitals.state.windows` when rings are first updated (numba is then loaded, and the kernel read
from numba's cache in ``__pycache__`` after its first compilation).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)
from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

_COUNT, _TOTAL, _LOW, _HIGH = 0, 1, 2, 3  # vitals.state.windows.COUNT ...
_SATURATED = 255


@nb.njit(cache=True, nogil=True)
def update_rings(
    tag: npt.NDArray[np.int32], cells: npt.NDArray[np.float32], hist: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.int64], seconds: npt.NDArray[np.int64], values: npt.NDArray[np.float32],
    bins: npt.NDArray[np.int64], clock_s: int, bucket_s: npt.NDArray[np.int64], buckets: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64], n_slots: int, n_bins: int,
) -> None:
    """Add readings (local rows, seconds since the rings' origin, float32 values, quantile bins) to every window
    whose window as of ``clock_s`` holds them (windows given by bucket seconds, bucket counts and slot offsets)."""
    for w in range(bucket_s.shape[0]):
        bs, k, off = bucket_s[w], buckets[w], offsets[w]
        first_inside = clock_s // bs - k + 1
        for i in range(rows.shape[0]):
            b = seconds[i] // bs
            if b < first_inside:
                continue
            flat = rows[i] * n_slots + b % k + off
            if tag[flat] != b:
                tag[flat] = b
                cells[flat, _COUNT] = 0.0
                cells[flat, _TOTAL] = 0.0
                cells[flat, _LOW] = np.inf
                cells[flat, _HIGH] = -np.inf
                hist[flat * n_bins:(flat + 1) * n_bins] = 0
            v = values[i]
            cells[flat, _COUNT] += np.float32(1.0)
            cells[flat, _TOTAL] += v
            low = cells[flat, _LOW]
            if not (low < v or np.isnan(low)):  # numpy's minimum: an equal value (0.0, -0.0) replaces
                cells[flat, _LOW] = v
            high = cells[flat, _HIGH]
            if not (high > v or np.isnan(high)):
                cells[flat, _HIGH] = v
            h = flat * n_bins + bins[i]
            if hist[h] < _SATURATED:
                hist[h] += np.uint8(1)
