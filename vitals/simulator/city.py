"""The city simulator: deterministic, partitioned, resumable columnar batches of readings.

Step k covers event time [start + k * step, start + (k + 1) * step). ``batches(p, n, start_step)`` yields one
:class:`ReadingBatch` per step with the readings of the streets owned by partition p (street code % n == p),
so a series never crosses partitions. Every random draw is a hash of (seed, series, reading number), and
incidents and fault episodes are precomputed schedules, so the partitions of a run together hold exactly the
readings of a one-partition run, and a source resumed at step k yields exactly the tail of a full run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.simulator import faults as flt
from vitals.simulator.config import SimulatorConfig
from vitals.simulator.grid import ReportingGrid, reading_times, select_series
from vitals.simulator.incidents import build_effect_rows, resolve_incidents
from vitals.simulator.randomness import F64
from vitals.simulator.signal import SignalModel
from vitals.simulator.truth import GroundTruth, IncidentRecord

I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
BLOCK_ROWS = 40_000  # readings are generated about this many at a time (then cut into steps) ...
BLOCK_MAX_S = 6 * 3600  # ... and at most this much event time at a time


@dataclass(frozen=True, eq=False)
class _Rows:
    """Readings of one step before batching: local series index, event time, value, fault code, arrival step."""

    local: I64
    ts_ns: I64
    value: F64
    fault: I8
    arrival: I64

    def take(self, idx: I64 | npt.NDArray[np.bool_] | slice) -> _Rows:
        return _Rows(self.local[idx], self.ts_ns[idx], self.value[idx], self.fault[idx], self.arrival[idx])

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in ("local", "ts_ns", "value", "fault", "arrival")))


def resolution_decimals(catalog: Catalog) -> npt.NDArray[np.float64]:
    """Decimals each indicator is reported with: two digits finer than its noise sd (unit-independent)."""
    noise = np.array([i.seasonality.noise for i in catalog.indicators], dtype=np.float64)
    digits = 2.0 - np.floor(np.log10(np.where(noise > 0, noise, 1e-4)))
    return np.clip(digits, 0.0, 12.0)


class CitySimulator:
    """A simulated city for one catalog and one :class:`SimulatorConfig`."""

    def __init__(self, catalog: Catalog, config: SimulatorConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or SimulatorConfig()
        self.config.check()
        cfg = self.config
        self.selection = select_series(catalog, cfg.seed, cfg.streets, cfg.indicators)
        self.signal = SignalModel(catalog, self.selection, cfg.seed)
        self.incident_list = resolve_incidents(catalog, cfg, self.selection)
        self.effects = build_effect_rows(catalog, self.selection, self.signal, self.incident_list, cfg.seed)
        self._valid_min = catalog.valid_min_array[self.selection.indicator]
        self._valid_max = catalog.valid_max_array[self.selection.indicator]
        self._scale = 10.0 ** resolution_decimals(catalog)[self.selection.indicator]
        self.episodes = self._episodes_with_stuck_values()

    # ---- sizes ---------------------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return self.config.n_steps

    @property
    def n_series(self) -> int:
        return len(self.selection)

    def expected_readings(self) -> int:
        """Readings the sensors take in the run (before faults drop, repeat or delay some)."""
        sel, cfg = self.selection, self.config
        lo = np.full(len(sel), cfg.start_ns, dtype=np.int64)
        hi = np.full(len(sel), cfg.end_ns, dtype=np.int64)
        first = np.maximum(-((cfg.start_ns + sel.phase_ns - lo) // sel.cadence_ns), 0)
        last = -((cfg.start_ns + sel.phase_ns - hi) // sel.cadence_ns)
        return int(np.maximum(last - first, 0).sum())

    @cached_property
    def sensor_ids(self) -> npt.NDArray[np.object_]:
        """Sensor id of each simulated series: ``<indicator>@<street>``."""
        ids = np.array([i.id for i in self.catalog.indicators], dtype=object)
        streets = np.array([s.id for s in self.catalog.streets], dtype=object)
        return ids[self.selection.indicator] + "@" + streets[self.selection.street]

    # ---- values --------------------------------------------------------------------------------------
    def clean_values(self, local: I64, ts_ns: I64, n: I64) -> F64:
        """Values without sensor faults: normal behaviour plus incidents, clipped to the valid range, rounded."""
        value = self.signal.normal_values(local, ts_ns, n) + self.effects.delta_at(local, ts_ns)
        return self._rounded(local, value)

    def _rounded(self, local: I64, value: F64, keep: npt.NDArray[np.bool_] | None = None) -> F64:
        """Values at sensor resolution (integer / power of ten: the shortest decimal text, exactly), inside
        the valid range except where ``keep`` is set (impossible values stay impossible)."""
        scale = self._scale[local]
        inside = np.clip(np.rint(value * scale) / scale, self._valid_min[local], self._valid_max[local])
        return inside if keep is None else np.where(keep, value, inside)

    def _episodes_with_stuck_values(self) -> flt.Episodes:
        eps = flt.draw_episodes(self.config, len(self.selection))
        stuck = np.flatnonzero(eps.kind == flt.EPISODE_STUCK)
        if stuck.size:
            row, ts, n = reading_times(self.selection, eps.local[stuck], self.config.start_ns,
                                       eps.start_ns[stuck], eps.end_ns[stuck])
            first = np.unique(row, return_index=True)[1]  # first reading inside each episode
            values = self.clean_values(eps.local[stuck][row[first]], ts[first], n[first])
            eps.value[stuck[row[first]]] = values
        return eps

    # ---- steps ---------------------------------------------------------------------------------------
    def _generate(self, grid: ReportingGrid, k0: int, k1: int) -> _Rows:
        """Readings with event time in steps [k0, k1), in time order, with faults applied
        (late ones carry their arrival step; silent ones are dropped; duplicates are repeated)."""
        cfg = self.config
        lo = cfg.start_ns + k0 * cfg.step_ns
        hi = cfg.start_ns + k1 * cfg.step_ns
        local, ts, n = grid.due(lo, hi)
        # time order; equal times keep the grid's order (cadence, then series): independent of the blocking
        order = np.argsort(ts, kind="stable")
        local, ts, n = local[order], ts[order], n[order]
        keys = self.signal.reading_keys(local, n)
        value = self.signal.normal_values(local, ts, n, keys)
        effects = self.effects.active(lo, hi)
        if len(effects):
            value += effects.delta_at(local, ts)
        value = np.clip(value, self._valid_min[local], self._valid_max[local])
        episodes = self.episodes.active(lo, hi)
        ep = episodes.match(local, ts)
        fault = flt.reading_faults(keys, ep >= 0, cfg.faults)
        value = flt.apply_value_faults(value, fault, keys, sigma=self.signal.sigma[local],
                                       valid_min=self._valid_min[local], valid_max=self._valid_max[local])
        value = self._rounded(local, value, keep=fault == flt.IMPOSSIBLE)
        step = (ts - cfg.start_ns) // cfg.step_ns
        arrival = step.copy()
        late = np.flatnonzero(fault == flt.LATE)
        if late.size:
            arrival[late] = flt.late_arrival_steps(keys[late], step[late], cfg.faults, cfg.step_s, self.n_steps - 1)
            fault[late[arrival[late] == step[late]]] = flt.NONE  # readings of the last step cannot be late
        keep = np.ones(local.size, dtype=bool)
        if len(episodes):
            in_ep = np.flatnonzero(ep >= 0)
            stuck = in_ep[episodes.kind[ep[in_ep]] == flt.EPISODE_STUCK]
            value[stuck] = episodes.value[ep[stuck]]
            fault[stuck] = flt.STUCK
            keep[in_ep[episodes.kind[ep[in_ep]] == flt.EPISODE_SILENT]] = False
        copies = np.where(fault == flt.DUPLICATE, 2, 1) * keep
        return _Rows(local, ts, value, fault, arrival).take(np.repeat(np.arange(local.size), copies))

    # ---- batches -------------------------------------------------------------------------------------
    def batches(self, partition: int = 0, n_partitions: int = 1, start_step: int = 0) -> Iterator[ReadingBatch]:
        """One batch per step from ``start_step`` on, for the streets with street code % n_partitions == partition."""
        for batch, _ in self.batches_with_faults(partition, n_partitions, start_step):
            yield batch

    def batches_with_faults(
        self, partition: int = 0, n_partitions: int = 1, start_step: int = 0,
    ) -> Iterator[tuple[ReadingBatch, I8]]:
        """Like :meth:`batches`, with the fault code of every row (see ``vitals.simulator.faults``).

        Readings are generated a block of steps at a time (values do not depend on the blocking) and cut
        into one batch per step: the readings of the step in time order, then late readings arriving now.
        """
        if not 0 <= partition < n_partitions:
            msg = f"partition {partition} is not in [0, {n_partitions})"
            raise ConfigError(msg)
        cfg = self.config
        grid = ReportingGrid(self.selection, cfg.start_ns, partition, n_partitions)
        max_delay = max(1, int(cfg.faults.late_max_s // cfg.step_s))
        before = self._generate(grid, max(0, start_step - max_delay), max(0, start_step))
        waiting = before.take(before.arrival >= start_step)
        block = self._block_steps(n_partitions)
        for k0 in range(max(0, start_step), self.n_steps, block):
            k1 = min(k0 + block, self.n_steps)
            rows = self._generate(grid, k0, k1)
            step = (rows.ts_ns - cfg.start_ns) // cfg.step_ns
            late = rows.arrival != step
            on_time = rows.take(~late)
            waiting = _Rows.concat([waiting, rows.take(late)])
            waiting = waiting.take(np.argsort(waiting.arrival, kind="stable"))
            edges = cfg.start_ns + np.arange(k0, k1 + 1) * cfg.step_ns
            bounds = np.searchsorted(on_time.ts_ns, edges)
            arrive = np.searchsorted(waiting.arrival, np.arange(k0, k1 + 1))
            for k in range(k0, k1):
                out = on_time.take(slice(bounds[k - k0], bounds[k - k0 + 1]))
                if arrive[k - k0 + 1] > arrive[k - k0]:
                    out = _Rows.concat([out, waiting.take(slice(arrive[k - k0], arrive[k - k0 + 1]))])
                yield self._batch(out, partition, k), out.fault
            waiting = waiting.take(slice(arrive[-1], None))

    def _block_steps(self, n_partitions: int) -> int:
        """Steps generated at once: about BLOCK_ROWS readings, at most BLOCK_MAX_S of event time."""
        sel = self.selection
        per_step = float(np.sum(1.0 / sel.cadence_ns)) * self.config.step_ns / n_partitions
        steps = BLOCK_ROWS / max(per_step, 1e-9)
        return int(max(1, min(steps, BLOCK_MAX_S // self.config.step_s)))

    def _batch(self, rows: _Rows, partition: int, k: int) -> ReadingBatch:
        sel = self.selection
        return ReadingBatch(
            ts_ns=rows.ts_ns, indicator=sel.indicator[rows.local], street=sel.street[rows.local], value=rows.value,
            sensor=self.sensor_ids[rows.local] if self.config.sensors else None,
            received_ns=self.config.start_ns + (k + 1) * self.config.step_ns, partition=str(partition), seq=k,
        )

    def read_all(self, partition: int = 0, n_partitions: int = 1) -> ReadingBatch:
        """Every batch of a partition concatenated (for tests and small runs)."""
        return ReadingBatch.concat(list(self.batches(partition, n_partitions)))

    # ---- ground truth --------------------------------------------------------------------------------
    @cached_property
    def truth(self) -> GroundTruth:
        return GroundTruth(self)

    def incidents(self) -> list[IncidentRecord]:
        """Injected incidents with the affected series, their label windows and first orange crossings."""
        return self.truth.records

    def labels(self, min_level: int = 1) -> dict[str, list[list[str]]]:
        """Incident windows per ``<indicator>/<street>`` in the NAB ``combined_windows.json`` format."""
        return self.truth.labels(min_level)

    def fault_episodes(self) -> list[dict[str, object]]:
        """Stuck and silent episodes: kind, indicator, street, start, end (ISO UTC), and the stuck value."""
        return self.truth.fault_episodes()
