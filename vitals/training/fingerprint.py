"""The fingerprint of a training data set: the same readings give the same fingerprint, whatever their order,
their files or the chunks they were read in.

Each reading (indicator code, street code, event time in ns, value as its 64 bits) is hashed to two 64-bit words
by two rounds of splitmix64's finalizer; the words are summed over the readings (mod 2**64) and the fingerprint is
the sha256 of a scheme tag, the count and the two sums. A sum does not depend on order, so a history read a file
or a row group at a time (:func:`vitals.training.data.from_history`, bounded memory) fingerprints as the same
readings held in memory at once (:func:`vitals.training.data.from_arrays`), and a reading read twice counts twice.
It tells data sets apart (provenance in a model card); it is not a cryptographic commitment: a crafted data set
could collide. Model cards written before 2026-12-04 hold the sha256 of the readings sorted by series and time
(a different scheme, which needed every reading in memory at once).
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

SCHEME = b"city-vitals readings multiset v1"
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SECOND = np.uint64(0xD6E8FEB86659FD93)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finalizer, in place (wrapping uint64 arithmetic)."""
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


class ReadingsFingerprint:
    """Accumulates readings in any number of chunks; :meth:`hexdigest` at any point."""

    def __init__(self) -> None:
        self.count = 0
        self._sum1 = np.uint64(0)
        self._sum2 = np.uint64(0)

    def add(self, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
            ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64]) -> None:
        if len(value) == 0:
            return
        key = np.asarray(indicator).astype(np.uint64) << np.uint64(32)
        key |= np.asarray(street).astype(np.uint32).astype(np.uint64)
        h = np.asarray(ts_ns, dtype=np.int64).astype(np.uint64)  # a copy: mixed in place below
        h += _GOLDEN
        _mix(h)
        h ^= np.ascontiguousarray(value, dtype=np.float64).view(np.uint64)
        _mix(h)
        h ^= key
        del key
        _mix(h)
        with np.errstate(over="ignore"):
            self._sum1 += h.sum(dtype=np.uint64)
            h ^= _SECOND
            self._sum2 += _mix(h).sum(dtype=np.uint64)
        self.count += len(h)

    def hexdigest(self) -> str:
        digest = hashlib.sha256(SCHEME)
        digest.update(int(self.count).to_bytes(8, "little"))
        digest.update(int(self._sum1).to_bytes(8, "little"))
        digest.update(int(self._sum2).to_bytes(8, "little"))
        return digest.hexdigest()
