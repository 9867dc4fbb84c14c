"""The order every batch is folded in: by (local row, event time), ties (exact duplicates) in arrival order.

A stable sort by time, then stable sorts by the row number 16 bits at a time (least significant digit
first): numpy sorts 16-bit keys with a radix sort, and a batch mostly arrives in time order, which its
stable sort (timsort) handles in about linear time. For a 10,000-reading batch this is about 5x faster than
one stable argsort of a combined (row, time) key, and gives the same permutation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_DIGIT = 16
_DIGIT_MASK = (1 << _DIGIT) - 1


def sort_by_row_then_time(rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The stable permutation that orders readings by (row, time); rows are non-negative."""
    if len(rows) == 1:  # one reading (a sparse feed's piece): nothing to sort
        return np.zeros(1, dtype=np.intp)
    order = np.argsort(ts_ns, kind="stable")
    if not len(rows):
        return order
    keyed = rows[order]
    shift = 0
    top = int(keyed.max())
    while True:
        digit = ((keyed >> shift) & _DIGIT_MASK).astype(np.uint16)
        step = np.argsort(digit, kind="stable")
        order, keyed = order[step], keyed[step]
        shift += _DIGIT
        if top >> shift == 0:
            return order
