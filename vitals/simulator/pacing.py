"""Real-time pacing: at speed X, step k of a run ends X times faster than in real time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class Pacer:
    """Wall-clock schedule for a stream of steps. ``speed`` = simulated seconds per wall second; 0 = no pacing.

    The clock starts at the first call, so the first batch is never delayed.
    """

    def __init__(self, speed: float, step_s: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.speed = float(speed)
        self.step_s = float(step_s)
        self.clock = clock
        self.sleep = sleep
        self.origin: float | None = None
        self.first_step = 0

    def due_in(self, steps_done: int) -> float:
        """Seconds from now until ``steps_done`` steps may have been emitted (<= 0: now)."""
        if self.speed <= 0:
            return 0.0
        now = self.clock()
        if self.origin is None:
            self.origin, self.first_step = now, steps_done - 1
        return self.origin + (steps_done - self.first_step - 1) * self.step_s / self.speed - now

    def wait(self, steps_done: int) -> None:
        """Sleep until ``steps_done`` steps are due."""
        delay = self.due_in(steps_done)
        if delay > 0:
            self.sleep(delay)

    def due_at(self, steps_done: int) -> datetime | None:
        """Aware UTC wall time when ``steps_done`` steps are due (None when not paced)."""
        if self.speed <= 0:
            return None
        return datetime.now(UTC) + timedelta(seconds=max(self.due_in(steps_done), 0.0))
