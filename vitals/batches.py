"""Columnar batches of readings: the unit that flows through the hot path.

A :class:`ReadingBatch` holds N readings as parallel numpy arrays, with indicator and street already
encoded as catalog codes. Nothing on the hot path creates one Python object per reading.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class FilePlace:
    """Where an input item sits in a replayed file: the file (its path as given) and the item's 1-based line
    (CSV, JSON lines: the line its record starts on; a CSV's header is line 1) or 0-based row (Parquet)."""

    file: str
    line: int | None = None
    row: int | None = None


Position = int | FilePlace | None
"""Where an input item sits: a Kafka message's offset, a place in a replayed file, or None (not known)."""


class InputRows(Protocol):
    """The input text of a parsed block by item (``vitals.readings.input_text.InputText``): picklable. An input
    read from a source that knows where each item sits tells it by :meth:`positions`: a Kafka message's offset
    (``vitals.readings.input_text.MessageInput``), a file's line or row (``vitals.readings.input_text.FileInput``);
    others give None."""

    def __call__(self, row: int) -> str: ...

    def many(self, rows: list[int]) -> list[str]: ...

    def positions(self, rows: list[int]) -> list[Position]: ...


class JoinedInput:
    """Input items of consecutive blocks as one numbering (a batch concatenated from several parses)."""

    def __init__(self, parts: list[InputRows | None], starts: list[int]) -> None:
        self.parts, self.starts = parts, starts

    def __call__(self, row: int) -> str:
        k = bisect.bisect_right(self.starts, row) - 1
        part = self.parts[k]
        return "" if part is None else part(row - self.starts[k])

    def many(self, rows: list[int]) -> list[str]:
        return [self(row) for row in rows]

    def positions(self, rows: list[int]) -> list[Position]:
        out: list[Position] = [None] * len(rows)
        asked: dict[int, list[tuple[int, int]]] = {}  # part -> (place in rows, item in the part): one call a part
        for at, row in enumerate(rows):
            k = bisect.bisect_right(self.starts, row) - 1
            asked.setdefault(k, []).append((at, row - self.starts[k]))
        for k, pairs in asked.items():
            part = self.parts[k]
            if part is not None:
                for (at, _), found in zip(pairs, part.positions([item for _, item in pairs]), strict=True):
                    out[at] = found
        return out


def newest(ts_ns: npt.NDArray[np.int64]) -> int:
    """The largest of (non-empty) event times, as an int (without a reduction call for one reading)."""
    return int(ts_ns[0]) if ts_ns.shape[0] == 1 else int(ts_ns.max())


@dataclass(frozen=True, eq=False)
class ReadingBatch:
    """N valid, encoded readings.

    ts_ns:      int64 event time, nanoseconds since the Unix epoch, UTC.
    indicator:  int16 indicator code (position in ``Catalog.indicators``).
    street:     int32 street code (position in ``Catalog.streets``).
    value:      float64 reading value.
    sensor:     optional object array of sensor ids (str or None); None when the source has no sensors.
    received_ns: int64 arrival time of the batch (wall clock, or the simulator's virtual clock).
    partition:  the source partition the batch came from (for watermarks, offsets and history file names).
    seq:        the source partition's batch sequence number (resume offset; history files are named by it).
    raw_index:  optional int32 item of each reading in its parsed input (line, CSV record, table row; -1: none),
                with ``raw_source`` the input itself (by reference): the dead letters of readings rejected after
                parsing (late, duplicate) hold the input line, as malformed ones do (:meth:`input_text`), and,
                when the source knows it, where the item sits in its partition (:meth:`input_positions`: a Kafka
                message's offset). Nothing per reading is added for that: the input maps items to positions.
    """

    ts_ns: npt.NDArray[np.int64]
    indicator: npt.NDArray[np.int16]
    street: npt.NDArray[np.int32]
    value: npt.NDArray[np.float64]
    sensor: npt.NDArray[np.object_] | None = None
    received_ns: int = 0
    partition: str = "0"
    seq: int = 0
    meta: dict[str, object] = field(default_factory=dict)
    raw_index: npt.NDArray[np.int32] | None = None
    raw_source: InputRows | None = None

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def take(self, idx: npt.NDArray[np.integer] | npt.NDArray[np.bool_]) -> ReadingBatch:
        """A new batch with the selected rows (index array or boolean mask)."""
        return ReadingBatch(
            ts_ns=self.ts_ns[idx],
            indicator=self.indicator[idx],
            street=self.street[idx],
            value=self.value[idx],
            sensor=None if self.sensor is None else self.sensor[idx],
            received_ns=self.received_ns,
            partition=self.partition,
            seq=self.seq,
            meta=dict(self.meta),
            raw_index=None if self.raw_index is None else self.raw_index[idx],
            raw_source=self.raw_source,
        )

    def slice(self, start: int, stop: int) -> ReadingBatch:
        """The rows ``start:stop`` (views of this batch's arrays: cheaper than :meth:`take` for a run of rows)."""
        return ReadingBatch(
            ts_ns=self.ts_ns[start:stop],
            indicator=self.indicator[start:stop],
            street=self.street[start:stop],
            value=self.value[start:stop],
            sensor=None if self.sensor is None else self.sensor[start:stop],
            received_ns=self.received_ns,
            partition=self.partition,
            seq=self.seq,
            meta=dict(self.meta),
            raw_index=None if self.raw_index is None else self.raw_index[start:stop],
            raw_source=self.raw_source,
        )

    def input_text(self, row: int) -> str | None:
        """The input text of reading ``row`` as it was read, or None when the batch does not carry its input."""
        if self.raw_index is None or self.raw_source is None or self.raw_index[row] < 0:
            return None
        return self.raw_source(int(self.raw_index[row]))

    def input_texts(self, rows: npt.NDArray[np.integer]) -> list[str | None]:
        """:meth:`input_text` of several readings (rendered together: one conversion for a table)."""
        if self.raw_index is None or self.raw_source is None:
            return [None] * len(rows)
        items = self.raw_index[rows]
        found = self.raw_source.many([int(i) for i in items if i >= 0])
        texts = iter(found)
        return [next(texts) if i >= 0 else None for i in items.tolist()]

    def input_positions(self, rows: npt.NDArray[np.integer]) -> list[Position]:
        """Where the input of each of ``rows`` sits: its Kafka message's offset, its file and line or row (file
        replay), or None for a reading whose source does not say (MQTT, the simulator)."""
        if self.raw_index is None or self.raw_source is None:
            return [None] * len(rows)
        items = self.raw_index[rows].tolist()
        found = iter(self.raw_source.positions([i for i in items if i >= 0]))
        return [next(found) if i >= 0 else None for i in items]

    def without_input(self) -> ReadingBatch:
        """The same readings without the reference to their input (for batches kept in state or history)."""
        if self.raw_source is None and self.raw_index is None:
            return self
        return ReadingBatch(self.ts_ns, self.indicator, self.street, self.value, self.sensor, self.received_ns,
                            self.partition, self.seq, self.meta)

    @classmethod
    def empty(cls, partition: str = "0", seq: int = 0, received_ns: int = 0) -> ReadingBatch:
        return cls(
            ts_ns=np.empty(0, np.int64), indicator=np.empty(0, np.int16), street=np.empty(0, np.int32),
            value=np.empty(0, np.float64), received_ns=received_ns, partition=partition, seq=seq,
        )

    @classmethod
    def concat(cls, batches: list[ReadingBatch], items: list[int] | None = None) -> ReadingBatch:
        """Concatenate batches (partition, seq and received time of the last one). ``items``: how many input
        items each batch's parse read (accepted and rejected; :meth:`vitals.readings.schema.ParseResult.concat`),
        so that the joined input numbers every item as the concatenated input does; without it, items after
        a batch's last accepted reading are not numbered."""
        if not batches:
            return cls.empty()
        sensors = None
        if any(b.sensor is not None for b in batches):
            sensors = np.concatenate([
                b.sensor if b.sensor is not None else np.full(len(b), None, dtype=object) for b in batches
            ])
        last = batches[-1]
        raw_index, raw_source = _joined_input(batches, items)
        return cls(
            ts_ns=np.concatenate([b.ts_ns for b in batches]),
            indicator=np.concatenate([b.indicator for b in batches]),
            street=np.concatenate([b.street for b in batches]),
            value=np.concatenate([b.value for b in batches]),
            sensor=sensors, received_ns=last.received_ns, partition=last.partition, seq=last.seq,
            raw_index=raw_index, raw_source=raw_source,
        )


def _joined_input(batches: list[ReadingBatch], items: list[int] | None) -> tuple[npt.NDArray[np.int32] | None,
                                                                              InputRows | None]:
    """One input numbering over batches that carry their input (items of each batch's input after the last's)."""
    if all(b.raw_source is None for b in batches):
        return None, None
    parts: list[InputRows | None] = []
    starts: list[int] = []
    indices = []
    start = 0
    for k, b in enumerate(batches):
        own = b.raw_index if b.raw_index is not None and b.raw_source is not None else np.full(len(b), -1, np.int32)
        parts.append(b.raw_source)
        starts.append(start)
        indices.append(np.where(own >= 0, own + start, -1).astype(np.int32))
        if items is not None:
            start += items[k]
        else:
            start += int(own.max()) + 1 if len(own) and own.max() >= 0 else 0
    return np.concatenate(indices), JoinedInput(parts, starts)


@dataclass(frozen=True)
class Rejection:
    """One reading that was not accepted, with the reason and the raw input as received.

    reason: one of :data:`REJECT_REASONS`.
    raw:    the raw input as text (a JSON line, a CSV row, or a JSON rendering of an Arrow row).
    detail: a plain explanation (e.g. "value 3.2 outside valid range [0, 1.6] for water_pressure").
    offset: where the input sits in its source partition when the source knows (a Kafka message's offset).
    file, line, row: the replayed file the input came from and where in it (see :class:`FilePlace`).
    item: the input's item in the block its parser read (set by the parsers, for the source to place it; not
          compared, not written).
    """

    reason: str
    raw: str
    detail: str = ""
    partition: str = "0"
    seq: int = 0
    offset: int | None = None
    file: str | None = None
    line: int | None = None
    row: int | None = None
    item: int | None = field(default=None, compare=False, repr=False)

    def at(self, position: Position) -> Rejection:
        """This rejection placed at ``position`` (an offset, a file place, or None: unchanged)."""
        if position is None:
            return self
        if isinstance(position, FilePlace):
            return dataclasses.replace(self, file=position.file, line=position.line, row=position.row)
        return dataclasses.replace(self, offset=position)

    @property
    def where(self) -> int | tuple[str, int | None, int | None] | None:
        """What identifies the input in its source (offset, or (file, line, row)), or None (also for a file
        without a line or row: not known on its own, so never taken for another rejection of its file)."""
        if self.offset is not None:
            return self.offset
        if self.file is None or (self.line is None and self.row is None):
            return None
        return self.file, self.line, self.row


def placed(rejections: list[Rejection], source: InputRows, unknown: Position = None) -> list[Rejection]:
    """``rejections`` each placed where its input item sits in ``source`` (:attr:`Rejection.item`, one
    :meth:`InputRows.positions` call for all); a rejection without an item is placed at ``unknown`` (None:
    left as it is)."""
    known = [r.item for r in rejections if r.item is not None]
    if not known:
        return [r.at(unknown) for r in rejections]
    found = iter(source.positions(known))
    return [r.at(next(found) if r.item is not None else unknown) for r in rejections]


REJECT_REASONS: tuple[str, ...] = (
    "malformed",          # not parseable: bad JSON/CSV, missing or wrongly typed fields
    "unknown_indicator",  # indicator id not in the catalog
    "unknown_area",       # area id not in the catalog
    "non_finite",         # NaN or +-inf value
    "out_of_range",       # value outside the indicator's valid range
    "bad_timestamp",      # unparseable, naive-looking garbage, before 2000-01-01
    "future_timestamp",   # more than the allowed skew ahead of the arrival time
    "duplicate",          # same series and timestamp already accepted
    "late",               # behind the partition watermark minus allowed lateness
    "unreadable_file",    # a whole replay file that cannot be read (raw: its path); counts as one input
    "missing",            # a gap: no value (absent, null, empty, or NA / N/A / NaN / null / None as text)
)
# "missing" is last so that counts restored from older recovery snapshots keep their places; it ranks after
# malformed, unknown_indicator and unknown_area and before every other reason (see vitals.readings.parse_arrow).
