"""A cache of rendered sample lines for one (family, member) over a fixed key space.

Keys are dense integers (a global series id, an indicator x district group, an area code). The label part of
each line (``name{labels} ``) is built once, lazily, for the keys that are ever rendered; the value text is
re-formatted only for keys whose value changed bit for bit since the previous render. In steady operation
most series do not change between two scrapes, so a scrape costs little more than one ``str.join``.

Not thread-safe on its own: the :class:`~vitals.exporter.hub.ExportHub` serializes renders.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from vitals.exporter.textformat import format_values

PrefixBuilder = Callable[[npt.NDArray[np.int64]], list[str]]


class LineTable:
    """Rendered lines by key, with change detection on the float64 bit pattern of the value."""

    def __init__(self, size: int, build_prefixes: PrefixBuilder) -> None:
        self._build_prefixes = build_prefixes
        self._prefixes = np.full(size, None, dtype=object)
        self._lines = np.full(size, None, dtype=object)   # prefix + value text, no newline
        self._bits = np.zeros(size, dtype=np.int64)
        self._filled = np.zeros(size, dtype=bool)
        self._chunk_keys: npt.NDArray[np.int64] | None = None
        self._chunk_bounds = np.empty(0, dtype=np.intp)
        self._chunks: list[bytes] = []
        self.formatted = 0  # values formatted since creation (for tests and the benchmark)

    def __len__(self) -> int:
        return int(self._lines.shape[0])

    def render(self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
        """The lines for ``keys`` in the given order with the given values, each ending in a newline (UTF-8).

        Keys are expected to be unique; if one repeats, every occurrence shows its last value.
        """
        keys = np.asarray(keys, dtype=np.int64)
        return self.render_slices(keys, values, np.array([0, keys.shape[0]], dtype=np.intp))[0]

    def render_slices(self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
                      bounds: npt.NDArray[np.intp]) -> list[bytes]:
        """One chunk of lines per slice ``keys[bounds[i]:bounds[i + 1]]`` (e.g. one per indicator family).

        Change detection runs once over all keys; a slice whose keys and values did not change since the
        previous call reuses its previous chunk.
        """
        keys = np.asarray(keys, dtype=np.int64)
        bounds = np.asarray(bounds, dtype=np.intp)
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
        stale = ~self._filled[keys] | (self._bits[keys] != bits)
        if stale.any():
            self._refresh(keys[stale], bits[stale])
        same_layout = (self._chunk_keys is not None and np.array_equal(self._chunk_keys, keys)
                       and np.array_equal(self._chunk_bounds, bounds))
        stale_in_slice = np.add.reduceat(np.append(stale, False).astype(np.int64), bounds[:-1]) if len(bounds) > 1 \
            else np.empty(0, np.int64)
        chunks = []
        for i, (lo, hi) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)):
            if hi <= lo:
                chunks.append(b"")
            elif same_layout and not stale_in_slice[i] and hi > lo:
                chunks.append(self._chunks[i])
            else:
                chunks.append(("\n".join(self._lines[keys[lo:hi]].tolist()) + "\n").encode("utf-8"))
        self._chunk_keys, self._chunk_bounds, self._chunks = keys.copy(), bounds.copy(), chunks
        return chunks

    def _refresh(self, keys: npt.NDArray[np.int64], bits: npt.NDArray[np.int64]) -> None:
        missing = keys[~self._filled[keys] & (self._prefixes[keys] == None)]  # noqa: E711 (elementwise)
        if missing.size:
            self._prefixes[missing] = self._build_prefixes(missing)
        texts = format_values(bits.view(np.float64))
        self._lines[keys] = list(map(operator.add, self._prefixes[keys].tolist(), texts))
        self._bits[keys] = bits
        self._filled[keys] = True
        self.formatted += len(texts)
