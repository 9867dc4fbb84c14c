"""Columnar batches of readings: the unit that flows through the hot path.

A :class:`ReadingBatch` holds N readings as parallel numpy arrays, with indicator and street already
encoded as catalog codes. Nothing on the hot path creates one Python object per reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

NS_PER_S = 1_000_000_000


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
        )

    @classmethod
    def empty(cls, partition: str = "0", seq: int = 0, received_ns: int = 0) -> ReadingBatch:
        return cls(
            ts_ns=np.empty(0, np.int64), indicator=np.empty(0, np.int16), street=np.empty(0, np.int32),
            value=np.empty(0, np.float64), received_ns=received_ns, partition=partition, seq=seq,
        )

    @classmethod
    def concat(cls, batches: list[ReadingBatch]) -> ReadingBatch:
        """Concatenate batches (partition, seq and received time of the last one)."""
        if not batches:
            return cls.empty()
        sensors = None
        if any(b.sensor is not None for b in batches):
            sensors = np.concatenate([
                b.sensor if b.sensor is not None else np.full(len(b), None, dtype=object) for b in batches
            ])
        last = batches[-1]
        return cls(
            ts_ns=np.concatenate([b.ts_ns for b in batches]),
            indicator=np.concatenate([b.indicator for b in batches]),
            street=np.concatenate([b.street for b in batches]),
            value=np.concatenate([b.value for b in batches]),
            sensor=sensors, received_ns=last.received_ns, partition=last.partition, seq=last.seq,
        )


@dataclass(frozen=True)
class Rejection:
    """One reading that was not accepted, with the reason and the raw input as received.

    reason: one of :data:`REJECT_REASONS`.
    raw:    the raw input as text (a JSON line, a CSV row, or a JSON rendering of an Arrow row).
    detail: a plain explanation (e.g. "value 3.2 outside valid range [0, 1.6] for water_pressure").
    offset: where the input sits in its source partition when the source knows (a Kafka message's offset).
    """

    reason: str
    raw: str
    detail: str = ""
    partition: str = "0"
    seq: int = 0
    offset: int | None = None


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
)
