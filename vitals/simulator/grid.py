"""Which series report when: each series reports at its indicator's cadence with its own phase offset.

Series are grouped by cadence and sorted by phase, so the readings due in a time window are found with two
binary searches per cadence cycle, without touching the series that are not due.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.simulator.randomness import SALT_SERIES, U64, as_u64, combine, seed_key, to_unit
from vitals.units import NS_PER_S

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Selection:
    """The simulated series (a subset of the catalog's), as parallel arrays indexed by a local series index."""

    indicator: npt.NDArray[np.int16]
    street: npt.NDArray[np.int32]
    district: npt.NDArray[np.int32]
    series_id: I64  # the catalog's dense series id
    cadence_ns: I64
    phase_ns: I64
    key: U64  # per-series random key (seed and catalog series id)

    def __len__(self) -> int:
        return int(self.indicator.shape[0])


def select_series(
    catalog: Catalog, seed: int, streets: tuple[str, ...] | None, indicators: tuple[str, ...] | None,
) -> Selection:
    """All (indicator, street) pairs of the chosen streets and indicators, indicator-major."""
    ind_codes = _codes(catalog.indicator_index, indicators, "indicator")
    street_codes = _codes(catalog.street_index, streets, "street")
    ind = np.repeat(ind_codes, street_codes.size).astype(np.int16)
    st = np.tile(street_codes, ind_codes.size).astype(np.int32)
    sid = catalog.series_id(ind, st)
    key = combine(seed_key(seed, SALT_SERIES), as_u64(sid))
    cadence_s = catalog.cadence_array[ind].astype(np.int64)
    phase_s = np.floor(to_unit(key) * cadence_s).astype(np.int64)
    return Selection(
        indicator=ind, street=st, district=catalog.street_district_array[st], series_id=sid,
        cadence_ns=cadence_s * NS_PER_S, phase_ns=phase_s * NS_PER_S, key=key,
    )


def _codes(index: dict[str, int], ids: tuple[str, ...] | None, what: str) -> I64:
    if ids is None:
        return np.arange(len(index), dtype=np.int64)
    unknown = [i for i in ids if i not in index]
    if unknown:
        msg = f"unknown {what} id(s) {', '.join(unknown[:5])}: use ids from the catalog (`vitals catalog show`)"
        raise ConfigError(msg)
    if not ids:
        msg = f"the {what} selection is empty: give at least one {what} id, or None for all"
        raise ConfigError(msg)
    return np.unique(np.array([index[i] for i in ids], dtype=np.int64))


@dataclass(frozen=True, eq=False)
class CadenceGroup:
    cadence_ns: int
    phase_ns: I64  # sorted
    local: I64  # local series index of each phase


class ReportingGrid:
    """The reporting times of the series owned by one partition."""

    def __init__(self, selection: Selection, start_ns: int, partition: int, n_partitions: int) -> None:
        owned = np.flatnonzero(selection.street % n_partitions == partition)
        self.start_ns = start_ns
        self.groups: list[CadenceGroup] = []
        cadence = selection.cadence_ns[owned]
        for c in np.unique(cadence):
            members = owned[cadence == c]
            order = np.argsort(selection.phase_ns[members], kind="stable")
            self.groups.append(CadenceGroup(int(c), selection.phase_ns[members][order], members[order]))

    def due(self, lo_ns: int, hi_ns: int) -> tuple[I64, I64, I64]:
        """Readings with event time in [lo_ns, hi_ns): (local series index, ts_ns, reading number)."""
        parts_sel: list[I64] = []
        parts_ts: list[I64] = []
        parts_n: list[I64] = []
        for g in self.groups:
            cycle = (lo_ns - self.start_ns) // g.cadence_ns
            cycle_start = self.start_ns + cycle * g.cadence_ns
            while cycle_start < hi_ns:
                a = max(lo_ns, cycle_start) - cycle_start
                b = min(hi_ns, cycle_start + g.cadence_ns) - cycle_start
                i0, i1 = np.searchsorted(g.phase_ns, (a, b), side="left")
                if i1 > i0:
                    parts_sel.append(g.local[i0:i1])
                    parts_ts.append(g.phase_ns[i0:i1] + cycle_start)
                    parts_n.append(np.full(i1 - i0, cycle, dtype=np.int64))
                cycle += 1
                cycle_start += g.cadence_ns
        if not parts_sel:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty.copy(), empty.copy()
        return np.concatenate(parts_sel), np.concatenate(parts_ts), np.concatenate(parts_n)


def reading_times(selection: Selection, local: I64, start_ns: int, lo_ns: I64, hi_ns: I64) -> tuple[I64, I64, I64]:
    """All reading times of series ``local[j]`` in [lo_ns[j], hi_ns[j]): (row j, ts_ns, reading number).

    Used for ground truth (not the hot path): vectorized with a repeat/cumsum expansion.
    """
    c = selection.cadence_ns[local]
    ph = selection.phase_ns[local]
    first = -((start_ns + ph - lo_ns) // c)  # ceil((lo - start - phase) / c)
    first = np.maximum(first, 0)
    last = -((start_ns + ph - hi_ns) // c)  # exclusive
    count = np.maximum(last - first, 0)
    row = np.repeat(np.arange(local.size, dtype=np.int64), count)
    offsets = np.arange(row.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    n = first[row] + offsets
    return row, start_ns + ph[row] + n * c[row], n


def matching_rows(
    sorted_local: npt.NDArray[np.int64], local: npt.NDArray[np.int64]
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]]:
    """Pairs each reading with every row of a table sorted by series (``sorted_local``) for the same series, in
    rounds: each round yields (positions of the readings, their k-th matching table row). Vectorized per round;
    the number of rounds is the most rows any one series has."""
    left = np.searchsorted(sorted_local, local, side="left")
    count = np.searchsorted(sorted_local, local, side="right") - left
    for r in range(int(count.max()) if len(count) else 0):
        hit = np.flatnonzero(count > r)
        yield hit, left[hit] + r
