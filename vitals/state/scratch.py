"""Work arrays reused from one state update to the next, one set per thread.

The bucket-ring update needs a few arrays of (readings x windows) entries per batch (slot indices, tags, values,
histogram indices): some MB. Made afresh at every call, glibc hands them to the OS between calls and every call
faults fresh pages (docs/benchmarks.md, fifth and sixth pass). :func:`scratch` returns this thread's
:class:`Scratch`, whose arrays grow to the largest batch seen and are then reused. They live outside every
``ShardState`` (nothing of them is pickled or deep-copied) and are shared by the shards a thread updates in
turn; a view of one never outlives the call that took it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

GROWTH = 1.25  # a larger batch than any before reallocates with this much room
KEPT_BYTES = 8 << 20  # a larger array (a batch of over ~330,000 readings for the rings) is made per call, not kept


class Scratch:
    """Named work arrays of one thread: :meth:`take` gives the first ``n`` entries of a reused array."""

    def __init__(self) -> None:
        self._arrays: dict[str, npt.NDArray[Any]] = {}

    def take(self, name: str, n: int, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        """``n`` uninitialised entries of the array ``name`` (reallocated when too short or of another dtype).
        Two names never share memory; the same name returns the same memory until it grows. Above
        :data:`KEPT_BYTES` a fresh array is returned and nothing is kept (no unbounded memory after one huge
        batch)."""
        have = self._arrays.get(name)
        if have is None or len(have) < n or have.dtype != np.dtype(dtype):
            if n * np.dtype(dtype).itemsize > KEPT_BYTES:
                return np.empty(n, dtype=dtype)
            size = max(n, int(len(have) * GROWTH) if have is not None else n)
            have = np.empty(min(size, KEPT_BYTES // np.dtype(dtype).itemsize), dtype=dtype)
            self._arrays[name] = have
        return have[:n]

    def arange(self, n: int) -> npt.NDArray[np.int64]:
        """``0 .. n - 1`` (read-only; kept between calls)."""
        have = self._arrays.get("__arange")
        if have is None or len(have) < n:
            have = np.arange(max(n, int(len(have) * GROWTH) if have is not None else n), dtype=np.int64)
            have.flags.writeable = False
            self._arrays["__arange"] = have
        return have[:n]

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays.values())


_local = threading.local()


def scratch() -> Scratch:
    """This thread's :class:`Scratch` (made on first use)."""
    work: Scratch | None = getattr(_local, "scratch", None)
    if work is None:
        work = _local.scratch = Scratch()
    return work
