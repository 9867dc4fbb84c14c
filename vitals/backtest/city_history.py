"""A Parquet history replayed for the city backtest a part at a time: the same one-minute batches as the whole
history read at once (:func:`vitals.backtest.city.history_batches` of its frame), in the memory of the largest part.

The parts are the files' row groups. :class:`StreamedHistory` first reads every row group once (ts, indicator,
area) for its time range and the ids it holds; row groups whose time ranges overlap or touch are read together, in
the files' order, and sorted by time (stable, so readings at the same time keep the files' order, as in the whole
history sorted at once). Groups follow each other in time, so their batches are the whole history's; the last
minute of a group waits for the next group, whose first readings may fall in the same minute. A history written
by the flow (a file per domain, shard and day under ``date=`` partitions, each spanning its day) is read a day at
a time (checked on a replay's history: 120 files of 2 hours, one group, the same batches); a ``vitals simulate``
file (row groups in time order) a row group at a time; a file whose row groups each span the whole period, whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.readings.timestamps import history_ts_ns
from vitals.units import NS_PER_S

ID_COLUMNS = ("indicator", "area")


@dataclass(frozen=True)
class _Part:
    """One row group: its file, index, first row in the file, and event-time range (ns)."""

    path: Path
    group: int
    first_row: int
    lo: int
    hi: int


class StreamedHistory:
    """The readings of a Parquet history file or directory, scanned once; ``batches`` replays them."""

    def __init__(self, base: Path, files: list[Path], batch_s: int) -> None:
        import pyarrow.parquet as pq

        from vitals.history_files import reading

        self.base = base
        self.batch_s = batch_s
        self.parts: list[_Part] = []
        self.pairs: set[tuple[str, str]] = set()
        self.rows = 0
        for path in files:
            with reading(base, [path]):
                parquet = pq.ParquetFile(path, read_dictionary=list(ID_COLUMNS))
                first_row = 0
                for g in range(parquet.num_row_groups):
                    table = parquet.read_row_group(g, columns=["ts", *ID_COLUMNS])
                    if table.num_rows:
                        ts = history_ts_ns(table.column("ts"), str(path), first_row=first_row)
                        self.parts.append(_Part(path, g, first_row, int(ts.min()), int(ts.max())))
                        self.pairs |= _id_pairs(table)
                    first_row += table.num_rows
            self.rows += first_row

    def minutes(self) -> int:
        """The batches (``batch_s`` buckets of event time) from the first reading to the last: the timeline's
        columns."""
        if not self.parts:
            return 0
        step = self.batch_s * NS_PER_S
        return max(p.hi for p in self.parts) // step - min(p.lo for p in self.parts) // step + 1

    @property
    def indicators(self) -> set[str]:
        return {i for i, _ in self.pairs}

    @property
    def areas(self) -> set[str]:
        return {a for _, a in self.pairs}

    def series(self, catalog: Catalog) -> npt.NDArray[np.int64]:
        """Dense ids of the series the history has readings of (of those ``catalog`` knows)."""
        ids = [catalog.indicator_index[i] * catalog.n_streets + catalog.street_index[a]
               for i, a in self.pairs if i in catalog.indicator_index and a in catalog.street_index]
        return np.unique(np.asarray(ids, dtype=np.int64))

    def groups(self) -> list[list[_Part]]:
        """The row groups in time order, those whose ranges overlap or touch together (in the files' order)."""
        order = sorted(range(len(self.parts)), key=lambda k: self.parts[k].lo)
        groups: list[list[int]] = []
        hi = None
        for k in order:
            if hi is None or self.parts[k].lo > hi:
                groups.append([k])
                hi = self.parts[k].hi
            else:
                groups[-1].append(k)
                hi = max(hi, self.parts[k].hi)
        return [[self.parts[k] for k in sorted(g)] for g in groups]

    def batches(self, catalog: Catalog) -> Iterator[ReadingBatch]:
        """One-minute batches (``batch_s``) of event time, as :func:`vitals.backtest.city.history_batches`."""
        step = self.batch_s * NS_PER_S
        carry: tuple[npt.NDArray, ...] | None = None  # the last minute read, until the next group is read
        seq = 0
        for group in self.groups():
            ts, ind, street, value = self._read(group, catalog)
            order = np.argsort(ts, kind="stable")
            arrays = [ts[order], ind[order], street[order], value[order]]
            if carry is not None:
                arrays = [np.concatenate([c, a]) for c, a in zip(carry, arrays, strict=True)]
            bucket = arrays[0] // step
            cuts = np.r_[0, np.flatnonzero(np.diff(bucket)) + 1, len(bucket)]
            for lo, hi in pairwise(cuts[:-1]):  # every minute but the last
                yield _batch(arrays, lo, hi, int(bucket[lo] + 1) * step, seq)
                seq += 1
            carry = tuple(a[cuts[-2]:] for a in arrays)
        if carry is not None and len(carry[0]):
            yield _batch(list(carry), 0, len(carry[0]), int(carry[0][0] // step + 1) * step, seq)

    def _read(self, group: list[_Part], catalog: Catalog) -> tuple[npt.NDArray, ...]:
        import pyarrow.parquet as pq

        from vitals.history_files import id_codes, reading

        parts = []
        indicators = [i.id for i in catalog.indicators]
        streets = [s.id for s in catalog.streets]
        for part in group:
            with reading(self.base, [part.path]):
                table = pq.ParquetFile(part.path, read_dictionary=list(ID_COLUMNS)).read_row_group(
                    part.group, columns=["ts", *ID_COLUMNS, "value"])
            ind = id_codes(table.column("indicator"), indicators)
            street = id_codes(table.column("area"), streets)
            keep = (ind >= 0) & (street >= 0)
            ts = history_ts_ns(table.column("ts"), str(part.path), first_row=part.first_row)
            value = table.column("value").to_numpy().astype(np.float64, copy=False)
            parts.append((ts[keep], ind[keep].astype(np.int16), street[keep].astype(np.int32), value[keep]))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def _batch(arrays: list[npt.NDArray], lo: int, hi: int, received_ns: int, seq: int) -> ReadingBatch:
    ts, ind, street, value = (a[lo:hi] for a in arrays)
    return ReadingBatch(ts, ind, street, value, received_ns=received_ns, seq=seq)


def _id_pairs(table: pa.Table) -> set[tuple[str, str]]:
    """The distinct (indicator, area) pairs of a row group (a null id as "nan", as ``astype(str)`` spells it)."""
    codes = []
    names = []
    for column in ID_COLUMNS:
        chunk = table.column(column).combine_chunks()
        coded = chunk if pa.types.is_dictionary(chunk.type) else chunk.dictionary_encode()
        names.append([str(v) for v in coded.dictionary.to_pylist()] + ["nan"])
        codes.append(coded.indices.fill_null(len(names[-1]) - 1).to_numpy(zero_copy_only=False).astype(np.int64))
    width = len(names[1])
    distinct = np.unique(codes[0] * width + codes[1])
    return {(names[0][int(k) // width], names[1][int(k) % width]) for k in distinct}
