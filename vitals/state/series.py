"""Per-series scalar state: last value, EWMA, first time, the stuck-sensor reference time and reading counts.

Readings reach :meth:`SeriesScalars.update` sorted by (row, time), duplicates removed, with ``groups`` giving
the start and end of each row's run. Every statistic here is defined so that it does not depend on how the
readings were split into batches:
- last: the value of the reading with the largest event time (accepted times are unique per series);
- EWMA (time-decayed mean): ``sum(x_i * 2**(-(T - t_i)/h)) / sum(2**(-(T - t_i)/h))`` over every accepted
  reading, ``h`` the half-life; it does not depend on ``T`` or on the arrival order, so an out-of-order reading
  simply enters with the weight of its own event time. Kept as a scaled sum and weight referenced to the
  series' latest time (rescaled when that advances, so nothing overflows).
- change time: the largest event time of a reading whose value differs from the current last value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EMPTY_TS = np.iinfo(np.int64).min
NO_TS = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Groups:
    """Runs of equal rows in readings sorted by (row, time): start/end positions, row and run id per reading."""

    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]      # inclusive: the last (newest) reading of the row
    rows: npt.NDArray[np.int64]     # the row of each run
    gid: npt.NDArray[np.int64]      # the run id of each reading

    @classmethod
    def of(cls, rows: npt.NDArray[np.int64]) -> Groups:
        if len(rows) == 1:  # one reading: one run
            zero = np.zeros(1, dtype=np.int64)
            return cls(zero, zero.copy(), rows.copy(), zero.copy())
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        start = np.flatnonzero(first)
        end = np.concatenate([start[1:], [len(rows)]]) - 1
        return cls(start, end, rows[start], np.cumsum(first) - 1)


class SeriesScalars:
    """Arrays of ``n_rows`` per-series scalars (see the module docstring)."""

    def __init__(self, n_rows: int) -> None:
        self.last = np.full(n_rows, np.nan, dtype=np.float64)
        self.last_ts = np.full(n_rows, EMPTY_TS, dtype=np.int64)
        self.first_ts = np.full(n_rows, NO_TS, dtype=np.int64)
        self.change_ts = np.full(n_rows, EMPTY_TS, dtype=np.int64)
        self.ewma_sum = np.zeros(n_rows, dtype=np.float64)
        self.ewma_weight = np.zeros(n_rows, dtype=np.float64)
        self.readings = np.zeros(n_rows, dtype=np.int64)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in vars(self).values())

    def record_breaking(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], arrival: npt.NDArray[np.int64],
        groups: Groups,
    ) -> npt.NDArray[np.bool_]:
        """True for readings newer, when they arrived, than every earlier accepted reading of their series.

        In (row, time) order: newer than the stored last time, and arrived before every later-time reading of
        its row in this batch (a grouped suffix minimum of arrival positions).
        """
        n = len(rows)
        if n == 1:  # one reading: nothing after it in the batch
            return ts_ns > self.last_ts[rows]
        key = groups.gid * (int(arrival.max()) + 1) + arrival
        suffix_min = np.minimum.accumulate(key[::-1])[::-1]
        after = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        after[:-1] = suffix_min[1:]
        after[groups.end] = np.iinfo(np.int64).max
        return (key < after) & (ts_ns > self.last_ts[rows])

    def update(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        half_life_ns: npt.NDArray[np.float64], groups: Groups,
    ) -> None:
        """Fold sorted, de-duplicated readings in (``half_life_ns`` per reading)."""
        if len(rows) == 1:
            self.update_one(int(rows[0]), int(ts_ns[0]), float(values[0]), float(half_life_ns[0]))
        else:
            self.update_arrays(rows, ts_ns, values, half_life_ns, groups)

    def update_arrays(
        self, rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
        half_life_ns: npt.NDArray[np.float64], groups: Groups,
    ) -> None:
        """:meth:`update` in array operations, for any number of readings (the reference of the one-reading path)."""
        r, newest_ts, newest_val = groups.rows, ts_ns[groups.end], values[groups.end]
        old_ts, old_val = self.last_ts[r], self.last[r]
        newer = newest_ts > old_ts
        head_ts = np.where(newer, newest_ts, old_ts)
        seen = old_ts != EMPTY_TS
        self._ewma(r, rows, ts_ns, values=values, half_life_ns=half_life_ns, groups=groups, head_ts=head_ts,
                   old_ref=np.where(seen, old_ts, head_ts))
        last_val = np.where(newer, newest_val, old_val)
        changed = newer & seen & (newest_val != old_val)
        self.change_ts[r[changed]] = np.maximum(self.change_ts[r[changed]], old_ts[changed])
        differs = values != last_val[groups.gid]
        np.maximum.at(self.change_ts, rows[differs], ts_ns[differs])
        self.last[r], self.last_ts[r] = last_val, head_ts
        self.first_ts[r] = np.minimum(self.first_ts[r], ts_ns[groups.start])
        self.readings[r] += groups.end - groups.start + 1

    def update_one(self, row: int, ts: int, value: float, half_life_ns: float) -> None:
        """:meth:`update` of one reading, in scalars: the same IEEE operations in the same order (``np.exp2`` of a
        float64 as the array form computes it)."""
        old_ts, old_val = int(self.last_ts[row]), float(self.last[row])
        newer = ts > old_ts
        head_ts = ts if newer else old_ts
        seen = old_ts != EMPTY_TS
        old_ref = old_ts if seen else head_ts
        decay = np.exp2(np.float64(-float(head_ts - old_ref)) / half_life_ns)
        weight = np.exp2(np.float64(-float(head_ts - ts)) / half_life_ns)
        self.ewma_sum[row] = self.ewma_sum[row] * decay + weight * value
        self.ewma_weight[row] = self.ewma_weight[row] * decay + weight
        last_val = value if newer else old_val
        change = int(self.change_ts[row])
        if newer and seen and value != old_val:
            change = max(change, old_ts)
        if value != last_val:
            change = max(change, ts)
        self.change_ts[row] = change
        self.last[row], self.last_ts[row] = last_val, head_ts
        self.first_ts[row] = min(int(self.first_ts[row]), ts)
        self.readings[row] += 1

    def _ewma(
        self, r: npt.NDArray[np.int64], rows: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64], *,
        values: npt.NDArray[np.float64], half_life_ns: npt.NDArray[np.float64], groups: Groups,
        head_ts: npt.NDArray[np.int64], old_ref: npt.NDArray[np.int64],
    ) -> None:
        """Rescale each series' decayed sums to its new head time, then add the readings' decayed weights."""
        hl_run = half_life_ns[groups.end]
        decay = np.exp2(-(head_ts - old_ref).astype(np.float64) / hl_run)
        self.ewma_sum[r] *= decay
        self.ewma_weight[r] *= decay
        weight = np.exp2(-(head_ts[groups.gid] - ts_ns).astype(np.float64) / half_life_ns)
        np.add.at(self.ewma_sum, rows, weight * values)
        np.add.at(self.ewma_weight, rows, weight)

    def ewma(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        total, weight = self.ewma_sum[rows], self.ewma_weight[rows]
        if weight.all():  # no division by zero to silence (np.errstate costs more than a small division)
            return total / weight
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / weight
