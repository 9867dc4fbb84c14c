"""The pick behind the held peak scores (:meth:`vitals.scoring.shard_scorer.ShardScorer._hold_into`) as one compiled
pass (numba): per row of a batch, the position of its highest score.

The order is the one ``np.lexsort((scores, rows))`` sorts in, whose last element per row was picked before: a NaN
above every number, and of equal scores the last in batch order (``0.0`` and ``-0.0`` are equal). One pass over the
batch and one over the shard's rows instead of a two-key sort of the batch.

Imported by :mod:`vitals.scoring.shard_scorer` when it first holds a score (numba is then loaded, and the kernel
read from numba's cache in ``__pycache__`` after its first compilation).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt


@nb.njit(cache=True, nogil=True)
def peak_picks(rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], n_rows: int) -> npt.NDArray[np.int64]:
    """Per distinct row of ``rows`` (each in ``0 .. n_rows - 1``; else an empty array and ``-1`` in its place: see
    the caller), the position of its highest score, in ascending order of rows."""
    best = np.full(n_rows, -1, dtype=np.int64)
    for p in range(rows.shape[0]):
        r = rows[p]
        if r < 0 or r >= n_rows:
            return np.full(1, -1, dtype=np.int64)
        b = best[r]
        if b < 0:
            best[r] = p
            continue
        s, held = scores[p], scores[b]
        if math.isnan(s) or (not math.isnan(held) and s >= held):
            best[r] = p
    n = 0
    for r in range(n_rows):
        if best[r] >= 0:
            best[n] = best[r]
            n += 1
    return best[:n].copy()
