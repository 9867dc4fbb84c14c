"""The simulator as a Bytewax input: a thin adapter over :meth:`CitySimulator.batches`.

Each Bytewax partition is one simulator partition (streets with street code % n == p); an item is a whole
:class:`ReadingBatch` (one step). The resume state is the next step number, so a flow recovered from a
snapshot continues exactly where it stopped (the simulator is counter-based). With ``speed`` > 0 a partition
asks to be woken when its next step is due (X simulated seconds per wall second) instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from vitals.batches import ReadingBatch
from vitals.errors import ConfigError
from vitals.simulator.city import CitySimulator
from vitals.simulator.pacing import Pacer


class SimulatorSource(FixedPartitionedSource[ReadingBatch, int]):
    """Bytewax source of simulated batches, ``n_partitions`` partitions ("0", "1", ...)."""

    def __init__(self, simulator: CitySimulator, n_partitions: int = 1, speed: float = 0.0) -> None:
        if n_partitions < 1:
            msg = f"n_partitions must be >= 1, not {n_partitions}"
            raise ConfigError(msg)
        self.simulator = simulator
        self.n_partitions = n_partitions
        self.speed = speed

    def list_parts(self) -> list[str]:
        return [str(p) for p in range(self.n_partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> SimulatorPartition:
        return SimulatorPartition(self.simulator, int(for_part), self.n_partitions, resume_state or 0, self.speed)


class SimulatorPartition(StatefulSourcePartition[ReadingBatch, int]):
    def __init__(self, simulator: CitySimulator, partition: int, n_partitions: int, start_step: int,
                 speed: float) -> None:
        self.n_steps = simulator.n_steps
        self.next_step = start_step
        self.batches: Iterator[ReadingBatch] = simulator.batches(partition, n_partitions, start_step)
        self.pacer = Pacer(speed, simulator.config.step_s)

    def next_batch(self) -> list[ReadingBatch]:
        if self.next_step >= self.n_steps:
            raise StopIteration
        batch = next(self.batches)
        self.next_step = batch.seq + 1
        return [batch]

    def next_awake(self) -> datetime | None:
        return self.pacer.due_at(self.next_step + 1)

    def snapshot(self) -> int:
        return self.next_step
