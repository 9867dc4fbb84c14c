"""The simulated city as a source: its settings (the simulator itself is :mod:`vitals.simulator`; the Bytewax
source is ``pipelines.connectors.SimulatorSource``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SimulatorSettings:
    """``source: simulator`` (the default): config section ``sources: {simulator: {seed: 42}}``, flag
    ``--seed``, variable ``VITALS_SEED``. Pacing (``speed``) and ``partitions`` are run settings."""

    seed: int = 42

    def problems(self) -> list[str]:
        return []

    def identity(self) -> dict[str, Any]:
        """What a recovery directory of this source is bound to (see :mod:`vitals.recovery`)."""
        return {"kind": "simulator", "seed": self.seed}
