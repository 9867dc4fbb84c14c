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


@nb.njit(cache=True, nogil=True)
def carried_columns(values: npt.NDArray[np.float32], bucket: npt.NDArray[np.int64],
                    evicted_value: npt.NDArray[np.float32], evicted_bucket: npt.NDArray[np.int64], oldest: int,
                    n_steps: int, every: int) -> npt.NDArray[np.float32]:  # pragma: no cover (compiled)
    """(N, m) values at steps ``oldest + first + every * k`` (``first = (n_steps - 1) % every``, oldest first),
    each the newest non-NaN value held at or before its step, else the carry: the newest ring slot or evicted
    value from before ``oldest`` (NaN if none)."""
    n, ring = values.shape
    first = (n_steps - 1) % every
    m = (n_steps - 1) // every + 1
    out = np.empty((n, m), dtype=np.float32)
    for i in range(n):
        best = -1
        last = np.float32(np.nan)
        for s in range(ring):
            b = bucket[i, s]
            if best < b < oldest:
                best = b
                last = values[i, s]
        if best < evicted_bucket[i] < oldest:
            last = evicted_value[i]
        k = 0
        s = oldest % ring  # the ring slot of each step, advanced without a division per step
        for j in range(n_steps):
            step = oldest + j
            if bucket[i, s] == step and not np.isnan(values[i, s]):
                last = values[i, s]
            if j == first + every * k:
                out[i, k] = last
                k += 1
            s += 1
            if s == ring:
                s = 0
    return out
