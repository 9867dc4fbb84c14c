"""Data-quality vitals per series (staleness, stuck sensors, dropout); the roll-up per indicator x district is
in :mod:`vitals.health.area_quality`. Plain array arithmetic: this module imports nothing from the state.

Per series, as of a time ``T`` (the view's now, an event time):
- ``seconds_since_last`` = ``T - last_ts``.
- ``stuck`` = 1 when ``last_ts - t_ref >= N * cadence`` (N = ``stuck_cadences``, default 6), where ``t_ref`` is
  the event time of the latest reading whose value differs from the last value, or the series' first reading
  when no reading differs: the value has not changed for N cadences.
- ``dropout_ratio`` over the dropout window of the indicator (the shortest window at least 4 cadences long,
  else the longest): ``expected = floor((T - start) / cadence)`` with ``start = max(window start, first_ts)``;
  ``ratio = clip(1 - count / expected, 0, 1)``, 0 when nothing is expected yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from vitals.units import NS_PER_S

DEFAULT_STUCK_CADENCES = 6
DROPOUT_MIN_CADENCES = 4
EMPTY_TS = np.iinfo(np.int64).min


def stuck_flags(
    last_ts: npt.NDArray[np.int64], change_ts: npt.NDArray[np.int64], first_ts: npt.NDArray[np.int64],
    cadence_s: npt.NDArray[np.float64], n_cadences: float = DEFAULT_STUCK_CADENCES, *,
    last: npt.NDArray[np.float64] | None = None, flat_normal: npt.NDArray[np.int8] | None = None,
) -> npt.NDArray[np.float64]:
    """1.0 where the value has not changed for ``n_cadences`` cadences (see the module docstring), except
    where the catalog says a flat line is normal (``flat_normal`` per series: 2 any flat line, 1 a run of
    zeros, given with the ``last`` values)."""
    ref = np.where(change_ts == EMPTY_TS, first_ts, change_ts)
    unchanged_s = (last_ts - ref) / NS_PER_S
    stuck = unchanged_s >= n_cadences * cadence_s
    if flat_normal is not None:
        normal = (flat_normal == 2) | ((flat_normal == 1) & (last == 0.0) if last is not None else False)
        stuck &= ~normal
    return stuck.astype(np.float64)


def dropout_window_index(window_lengths_s: Sequence[int], cadence_s: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Per indicator, the index of the shortest window at least 4 cadences long, else of the longest."""
    lengths = np.asarray(window_lengths_s, dtype=np.float64)
    order = np.argsort(lengths, kind="stable")
    fits = lengths[order][None, :] >= DROPOUT_MIN_CADENCES * cadence_s[:, None]
    first_fit = np.where(fits.any(axis=1), np.argmax(fits, axis=1), len(lengths) - 1)
    return order[first_fit].astype(np.int64)


def dropout_ratio(
    count: npt.NDArray[np.float64], window_start_ns: npt.NDArray[np.int64], first_ts: npt.NDArray[np.int64],
    as_of_ns: int, cadence_s: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Share of expected readings missing in a window (see the module docstring)."""
    start = np.maximum(window_start_ns, first_ts)
    expected = np.floor((as_of_ns - start) / NS_PER_S / cadence_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.clip(1.0 - count / expected, 0.0, 1.0)
    return np.where(expected >= 1, ratio, 0.0)
