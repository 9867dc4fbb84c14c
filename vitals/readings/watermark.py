"""Event-time watermark of one source partition, and the split of a batch into on-time and late readings.

The rule: a reading is **late** iff its timestamp is earlier than the newest timestamp among all readings
that arrived before it in the same partition, minus the allowed lateness::

    late(i)  <=>  ts[i] < max(ts[j] for j arriving before i) - allowed_lateness

The first reading of a partition is never late. Late readings cannot raise the maximum (they are below it),
so it does not matter whether they count. The verdict of a reading depends only on the readings before it,
never on how the stream was cut into batches. The state is two integers, so it pickles into Bytewax
recovery snapshots and a resumed flow gives the same verdicts.
"""

from __future__ import annotations

import json
import math

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch, Rejection
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.readings.schema import clip_text
from vitals.readings.timestamps import format_ns
from vitals.readings.validate import render_raw
from vitals.units import NS_PER_S


class PartitionWatermark:
    """Watermark of one partition: the newest event time seen minus the allowed lateness."""

    def __init__(self, allowed_lateness_s: float) -> None:
        if not math.isfinite(allowed_lateness_s) or allowed_lateness_s < 0:
            msg = f"allowed lateness must be a finite number of seconds >= 0, got {allowed_lateness_s}"
            raise ConfigError(msg)
        self.allowed_lateness_ns = round(allowed_lateness_s * NS_PER_S)
        self.max_ts_ns: int | None = None

    @property
    def watermark_ns(self) -> int | None:
        """Readings with an earlier timestamp are late; None before the first reading."""
        return None if self.max_ts_ns is None else self.max_ts_ns - self.allowed_lateness_ns

    def late_mask(self, ts_ns: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Which readings (in arrival order) are late, and the newest time before each; advances the state."""
        if not len(ts_ns):
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        carried = int(ts_ns[0]) if self.max_ts_ns is None else self.max_ts_ns
        newest = np.maximum.accumulate(np.concatenate(([carried], ts_ns)))
        before = newest[:-1]
        self.max_ts_ns = int(newest[-1])
        return ts_ns < before - self.allowed_lateness_ns, before

    def split_late(
        self, batch: ReadingBatch, catalog: Catalog | None = None
    ) -> tuple[ReadingBatch, list[Rejection]]:
        """On-time readings, and a ``late`` rejection for each late one (raw: the input line of a parsed batch, else
        rebuilt as JSON, with catalog ids when given; placed at its message's offset or file line when the input
        knows it)."""
        late, before = self.late_mask(batch.ts_ns)
        rows = np.flatnonzero(late)
        if not len(rows):
            return batch, []
        lateness_s = self.allowed_lateness_ns / NS_PER_S
        rejections = []
        for row, text, where in zip(rows.tolist(), batch.input_texts(rows), batch.input_positions(rows),
                                    strict=True):
            ts, newest = int(batch.ts_ns[row]), int(before[row])
            why = (f"timestamp {format_ns(ts)} is {(newest - ts) / NS_PER_S:g} s behind {format_ns(newest)}, "
                   f"the newest earlier reading of partition {batch.partition} (allowed lateness {lateness_s:g} s)")
            raw = clip_text(text) if text is not None else _rebuilt(catalog, batch, row)
            rejections.append(Rejection("late", raw, why, batch.partition, batch.seq).at(where))
        return batch.take(~late), rejections

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PartitionWatermark) and other.allowed_lateness_ns == self.allowed_lateness_ns
                and other.max_ts_ns == self.max_ts_ns)

    __hash__ = None  # type: ignore[assignment]  # mutable state

    def __repr__(self) -> str:
        return f"PartitionWatermark(allowed_lateness_ns={self.allowed_lateness_ns}, max_ts_ns={self.max_ts_ns})"


def _rebuilt(catalog: Catalog | None, batch: ReadingBatch, row: int) -> str:
    """A JSON rendering of a coded reading that carries no input text (e.g. from the simulator)."""
    if catalog is not None:
        return render_raw(catalog, batch, row)
    record: dict[str, object] = {
        "ts": format_ns(int(batch.ts_ns[row])), "indicator_code": int(batch.indicator[row]),
        "street_code": int(batch.street[row]), "value": float(batch.value[row]),
    }
    return json.dumps(record, allow_nan=True)
