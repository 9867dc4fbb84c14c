"""A Parquet history replayed for the city backtest a part at a time: the same one-minute batches as the whole
history read at once (:func:`vitals.backtest.city.history_batches` of its frame), holding only what is not yet due.

The parts are the files' row groups. :class:`StreamedHistory` first reads every row group once (ts, indicator,
area) for its time range and the ids it holds. The replay then reads the row groups in the order of their first
time. Before the next one is read, every minute that ends before that row group's first time is complete (no
unread row group holds a reading of it), so those minutes are sorted and sent, and only the rest stays held.
Readings at the same time are ordered by their place in the files (file order, then row), as in the whole history
sorted at once. Late readings make row groups overlap by their lateness, which costs only that much more held.
A history written by the flow (a file per domain, shard and day under ``date=`` partitions, each spanning its day)
is held a day at a time (checked on a replay's history: 120 files of 2 hours, the same batches); a ``vitals
simulate`` file (row groups in time order, late readings up to minutes late) a few row groups at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

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
    """One row group: its file, index, first row in the file, rows, and event-time range (ns)."""

    path: Path
    group: int
    first_row: int
    rows: int
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
        self.max_held = 0  # the most readings held at once by a replay (batches), for tests and figures
        for path in files:
            with reading(base, [path]):
                parquet = pq.ParquetFile(path, read_dictionary=list(ID_COLUMNS))
                first_row = 0
                for g in range(parquet.num_row_groups):
                    table = parquet.read_row_group(g, columns=["ts", *ID_COLUMNS])
                    if table.num_rows:
                        ts = history_ts_ns(table.column("ts"), str(path), first_row=first_row)
                        self.parts.append(_Part(path, g, first_row, table.num_rows, int(ts.min()), int(ts.max())))
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

    def batches(self, catalog: Catalog) -> Iterator[ReadingBatch]:
        """One-minute batches (``batch_s``) of event time, as :func:`vitals.backtest.city.history_batches`."""
        step = self.batch_s * NS_PER_S
        offsets = np.cumsum([0] + [p.rows for p in self.parts])  # each row group's first row in the whole history
        order = sorted(range(len(self.parts)), key=lambda k: self.parts[k].lo)
        held: list[npt.NDArray[Any]] = [np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int32),
                                        np.empty(0, np.float64), np.empty(0, np.int64)]
        seq = 0
        for j, k in enumerate(order):
            ts, ind, street, value, row = self._read(self.parts[k], catalog)
            held = [np.concatenate([h, a]) for h, a in zip(held, (ts, ind, street, value, row + offsets[k]),
                                                            strict=True)]
            self.max_held = max(self.max_held, len(held[0]))
            due_before = self.parts[order[j + 1]].lo // step if j + 1 < len(order) else None
            bucket = held[0] // step
            due = bucket < due_before if due_before is not None else np.ones(len(bucket), dtype=bool)
            if not due.any():
                continue
            sent = [a[due] for a in held]
            held = [a[~due] for a in held]
            by_time = np.lexsort((sent[4], sent[0]))  # time, then place in the files
            for batch in minute_batches(*(a[by_time] for a in sent[:4]), step_ns=step, first_seq=seq):
                yield batch
                seq += 1

    def _read(self, part: _Part, catalog: Catalog) -> tuple[npt.NDArray[Any], ...]:
        """A row group's readings of the catalog's series, with each one's row in the row group."""
        import pyarrow.parquet as pq

        from vitals.history_files import catalog_readings, reading

        with reading(self.base, [part.path]):
            table = pq.ParquetFile(part.path, read_dictionary=list(ID_COLUMNS)).read_row_group(
                part.group, columns=["ts", *ID_COLUMNS, "value"])
        ts, ind, street, value, row = catalog_readings(table, [i.id for i in catalog.indicators],
                                                       [s.id for s in catalog.streets], str(part.path),
                                                       first_row=part.first_row)
        return ts, ind, street, value, row.astype(np.int64)


def minute_batches(ts: npt.NDArray[np.int64], ind: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
                   value: npt.NDArray[np.float64], *, step_ns: int, first_seq: int = 0) -> Iterator[ReadingBatch]:
    """Readings sorted by event time as one batch per ``step_ns`` bucket, received at the bucket's end, numbered
    from ``first_seq``."""
    if not len(ts):
        return
    bucket = ts // step_ns
    cuts = np.r_[0, np.flatnonzero(np.diff(bucket)) + 1, len(ts)]
    for seq, (lo, hi) in enumerate(pairwise(cuts), start=first_seq):
        yield ReadingBatch(ts[lo:hi], ind[lo:hi].astype(np.int16, copy=False),
                           street[lo:hi].astype(np.int32, copy=False), value[lo:hi],
                           received_ns=int(bucket[lo] + 1) * step_ns, seq=seq)


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
