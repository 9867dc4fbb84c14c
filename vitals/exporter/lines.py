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
        self._chunk = b""
        self.formatted = 0  # values formatted since creation (for tests and the benchmark)

    def __len__(self) -> int:
        return int(self._lines.shape[0])

    def render(self, keys: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
        """The lines for ``keys`` in the given order with the given values, each ending in a newline (UTF-8).

        Keys are expected to be unique; if one repeats, every occurrence shows its last value.
        """
        keys = np.asarray(keys, dtype=np.int64)
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
        stale = ~self._filled[keys] | (self._bits[keys] != bits)
        if stale.any():
            self._refresh(keys[stale], bits[stale])
        elif self._chunk_keys is not None and np.array_equal(self._chunk_keys, keys):
            return self._chunk
        self._chunk = ("\n".join(self._lines[keys].tolist()) + "\n").encode("utf-8") if keys.size else b""
        self._chunk_keys = keys.copy()
        return self._chunk

    def _refresh(self, keys: npt.NDArray[np.int64], bits: npt.NDArray[np.int64]) -> None:
        missing = keys[~self._filled[keys] & (self._prefixes[keys] == None)]  # noqa: E711 (elementwise)
        if missing.size:
            self._prefixes[missing] = self._build_prefixes(missing)
        texts = format_values(bits.view(np.float64))
        self._lines[keys] = list(map(operator.add, self._prefixes[keys].tolist(), texts))
        self._bits[keys] = bits
        self._filled[keys] = True
        self.formatted += len(texts)
