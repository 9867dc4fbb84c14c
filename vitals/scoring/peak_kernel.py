"""The held peak's per-row pick as one compiled pass (numba): which reading of a batch holds each row's highest score.

:meth:`vitals.scoring.shard_scorer.ShardScorer._hold_into` raises held peaks from it. The reference is
``np.lexsort((scores, rows))`` keeping the last of each row: the highest score, NaN above every number (numpy sorts
NaN last), the later reading in batch order on ties (the sort is stable);
``tests/scoring/test_shard_scorer.py`` compares the two.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt


@nb.njit(cache=True, nogil=True)
def row_peaks(rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float64],
              n_rows: int) -> npt.NDArray[np.intp]:  # pragma: no cover (compiled)
    """Positions in the batch of each row's highest score (NaN highest, the later position on ties), ordered by
    row."""
    best = np.full(n_rows, -1, dtype=np.intp)
    count = 0
    for j in range(rows.shape[0]):
        r = rows[j]
        k = best[r]
        if k < 0:
            best[r] = j
            count += 1
        elif math.isnan(scores[j]) or (not math.isnan(scores[k]) and scores[j] >= scores[k]):
            best[r] = j
    out = np.empty(count, dtype=np.intp)
    q = 0
    for r in range(n_rows):
        if best[r] >= 0:
            out[q] = best[r]
            q += 1
    return out
