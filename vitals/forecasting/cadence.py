"""The time geometry of the models, derived from the catalog's cadence: one home for grid step, windows and lags.

Training and the flow must agree on it, so it is computed here from the catalog and stored in every fitted model
(the forecaster's ``step_s``, ``window_steps`` and ``horizons_s``; the window model's ``step_s_`` and
``window_s``); the flow's scorer reads it from the promoted model.

- **grid step** (``step_s``): the fastest indicator's cadence, but at least 5 minutes (faster readings are
  summarized to the last value per 5-minute cell, as the shipped model city always was). An hourly city gets a
  1-hour grid, a daily one a 1-day grid; the model city (cadences 60 s .. 1 day) keeps 300 s.
- **window**: ``WINDOW_STEPS`` (12) steps: the forecaster's lag window and the window model's window (1 hour at
  5 minutes, 12 hours at 1 hour).
- **horizons**: ``HORIZON_STEPS`` (3, 6, 12) steps (15, 30 and 60 minutes at 5 minutes), labelled by
  :func:`vitals.units.duration_label` (``15m``, ``30m``, ``1h``; ``3h``, ``6h``, ``12h`` on an hourly grid): the
  ``horizon`` label on /metrics, the view's ``forecast_<label>`` columns, alert rules and dashboards.
- **early-warning horizon**: ``EARLY_WARNING_STEPS`` (6) steps (30 minutes at 5 minutes, 6 hours at 1 hour): the
  default horizon of the ``VitalsEarlyWarning`` rule, the city backtest's early warning and the wall's
  "predicted orange" panel (seconds to the threshold within it, or the forecast level at it).
- **flow**: the scorer keeps a lag buffer of ``LAG_CELLS`` (5) cells per step (1 minute at 5 minutes) so the
  newest lag value is at most one cell old, forecasts every cell of event time, and holds a detection for a
  half-life of 2 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from vitals.catalog.model import Catalog
from vitals.errors import ModelError
from vitals.units import duration_label

MIN_STEP_S = 300
WINDOW_STEPS = 12
HORIZON_STEPS: tuple[int, ...] = (3, 6, 12)
EARLY_WARNING_STEPS = 6  # one of HORIZON_STEPS
LAG_CELLS = 5
HOLD_STEPS = 2


@dataclass(frozen=True)
class Cadence:
    """Model time geometry for one grid step (seconds)."""

    step_s: int

    def __post_init__(self) -> None:
        if self.step_s <= 0:
            msg = f"the grid step must be a positive number of seconds, got {self.step_s}"
            raise ModelError(msg)

    @property
    def window_steps(self) -> int:
        return WINDOW_STEPS

    @property
    def window_s(self) -> int:
        return WINDOW_STEPS * self.step_s

    @property
    def horizons_s(self) -> tuple[int, ...]:
        return tuple(k * self.step_s for k in HORIZON_STEPS)

    @property
    def horizon_labels(self) -> tuple[str, ...]:
        return tuple(duration_label(h) for h in self.horizons_s)

    @property
    def early_warning_horizon_s(self) -> int:
        return EARLY_WARNING_STEPS * self.step_s

    def horizons_within(self, seconds: int) -> tuple[str, ...]:
        """Labels of the horizons at most ``seconds`` ahead (the forecasts an early warning within it reads)."""
        return tuple(duration_label(h) for h in self.horizons_s if h <= seconds)

    @property
    def lag_resolution_s(self) -> int:
        """The flow's lag cell: the step divided by the largest of 5, 4, 3, 2, 1 that divides it."""
        return lag_resolution_s(self.step_s)

    @property
    def hold_half_life_s(self) -> float:
        return float(HOLD_STEPS * self.step_s)


def lag_resolution_s(step_s: int) -> int:
    """The flow's lag cell for a grid step: ``step_s / k`` for the largest k <= LAG_CELLS dividing it."""
    k = next(k for k in range(LAG_CELLS, 0, -1) if step_s % k == 0)
    return step_s // k


def catalog_step_s(catalog: Catalog) -> int:
    """The grid step of a catalog: its fastest cadence, at least ``MIN_STEP_S``."""
    return max(MIN_STEP_S, int(min(i.cadence_s for i in catalog.indicators)))


def catalog_cadence(catalog: Catalog, step_s: int | None = None) -> Cadence:
    """The geometry for a catalog (``step_s`` overrides the derived step)."""
    return Cadence(int(step_s) if step_s else catalog_step_s(catalog))
