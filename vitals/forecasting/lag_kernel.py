"""The flow's lag window as one compiled loop (numba): every ``every``-th step of a :class:`LagBuffer` ring,
carried forward, without building the full window.

Imported by :meth:`vitals.forecasting.grid.LagBuffer.window` when it is first asked for every k-th column (numba
loads only with scoring). The full window (``every=1``, numpy) is the reference: the same values as slicing it
(``tests/forecasting/test_forecasting.py::test_lag_window_every_kth_column_equals_the_full_window``).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)

from __future__ import annotations

import numba as nb
import numpy as np
import numpy.typing as npt

_NO_STEP = np.iinfo(np.int64).min


@nb.njit(cache=True, nogil=True)
def carried_rows(values: npt.NDArray[np.float32], bucket: npt.NDArray[np.int64],
                 evicted_value: npt.NDArray[np.float32], evicted_bucket: npt.NDArray[np.int64], oldest: int,
                 n_steps: int, every: int, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float32]:  # pragma: no cover
    """(len(rows), m) values of the given rows, in their order, at steps ``oldest + first + every * k``
    (``first = (n_steps - 1) % every``, oldest first), each the newest non-NaN value held at or before its step,
    else the carry: the newest ring slot or evicted value from before ``oldest`` (NaN if none)."""
    ring = values.shape[1]
    first = (n_steps - 1) % every
    m = (n_steps - 1) // every + 1
    out = np.empty((rows.shape[0], m), dtype=np.float32)
    start = oldest % ring
    for q in range(rows.shape[0]):
        i = rows[q]
        last = np.float32(np.nan)
        held = False
        lead = 0  # the first columns, before any step held in the window: they take the carry
        k = 0
        s = start  # the ring slot of each step, advanced without a division per step
        for j in range(n_steps):
            if bucket[i, s] == oldest + j and not np.isnan(values[i, s]):
                last = values[i, s]
                held = True
            if j == first + every * k:
                out[q, k] = last
                if not held:
                    lead = k + 1
                k += 1
            s += 1
            if s == ring:
                s = 0
        if lead:  # the carry: the newest step before ``oldest`` in any slot, or the evicted value if newer
            best = -1
            carry = np.float32(np.nan)
            for s in range(ring):
                b = bucket[i, s]
                if best < b < oldest:
                    best = b
                    carry = values[i, s]
            if best < evicted_bucket[i] < oldest:
                carry = evicted_value[i]
            for k in range(lead):
                out[q, k] = carry
    return out


@nb.njit(cache=True, nogil=True)
def carried_columns(values: npt.NDArray[np.float32], bucket: npt.NDArray[np.int64],
                    evicted_value: npt.NDArray[np.float32], evicted_bucket: npt.NDArray[np.int64], oldest: int,
                    n_steps: int, every: int) -> npt.NDArray[np.float32]:  # pragma: no cover (compiled)
    """:func:`carried_rows` of every row."""
    return carried_rows(values, bucket, evicted_value, evicted_bucket, oldest, n_steps, every,
                        np.arange(values.shape[0]))


@nb.njit(cache=True, nogil=True)
def record_readings(values: npt.NDArray[np.float32], bucket: npt.NDArray[np.int64], slot_ts: npt.NDArray[np.int64],
                    evicted_value: npt.NDArray[np.float32], evicted_bucket: npt.NDArray[np.int64],
                    rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], value: npt.NDArray[np.float64],
                    step_ns: int) -> bool:  # pragma: no cover (compiled)
    """:meth:`LagBuffer.update` in one pass over the readings in batch order, when the batch spans fewer steps than
    the ring (each slot of a row then meets one step of the batch); returns False, changing nothing, otherwise.

    The same state as the vectorized update: per (row, step) the latest reading wins, the later one on ties
    (a reading replaces the slot when its time is at or after the one held); a slot is newer when its step is
    later or the same step at an equal or later time; a replaced older step is evicted when it is newer than the
    row's evicted step *before the batch*, and of several such evictions in one batch the one replaced by the
    latest step is kept (the vectorized update's last write in (row, step) order)."""
    n = rows.shape[0]
    if n == 0:
        return True
    ring = values.shape[1]
    lo = ts[0] // step_ns
    hi = lo
    for j in range(n):
        b = ts[j] // step_ns
        lo = min(lo, b)
        hi = max(hi, b)
    if hi - lo >= ring:
        return False
    before = evicted_bucket.copy()  # the evicted steps before the batch
    winner = np.full(values.shape[0], _NO_STEP, dtype=np.int64)  # step of the eviction kept
    for j in range(n):
        i = rows[j]
        b = ts[j] // step_ns
        s = b % ring
        held = bucket[i, s]
        if not (b > held or (b == held and ts[j] >= slot_ts[i, s])):
            continue
        if held != b and held >= 0 and held > before[i] and b > winner[i]:
            evicted_value[i] = values[i, s]
            evicted_bucket[i] = held
            winner[i] = b
        values[i, s] = value[j]
        bucket[i, s] = b
        slot_ts[i, s] = ts[j]
    return True
