"""`vitals train` as a Python API: fit, backtest on held-out time, register (and optionally promote).

Usable from a notebook::

    from vitals.catalog import load_catalog
    from vitals.registry import ModelRegistry
    from vitals.training import from_simulation, train

    catalog = load_catalog(streets_total=76)
    data = from_simulation(catalog, days=7, seed=7)
    results = train(data, catalog, ModelRegistry("models"), promote=True)
    results[0].metrics["lead_time_median_s"]

Each model family has a trainer (:class:`FamilyTrainer`); ``forecaster`` is built in. Hook for more: a module
every trainer registered in ``vitals.detectors.registry.TRAINERS`` (``FamilyTrainer``) is picked up (e.g. an
IsolationForest per indicator family), so `vitals train` trains and registers it too.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from vitals.catalog.model import Catalog
from vitals.forecasting.cadence import EARLY_WARNING_WITHIN_KEY, Cadence, warned_before_key
from vitals.forecasting.evaluate import (
    early_warning_lead_times,
    false_warnings_per_series_day,
    forecast_errors,
    incident_lead_times,
    walk_forward,
)
from vitals.forecasting.grid import MAX_HOLDOUT_STEPS
from vitals.forecasting.model import EarlyWarningForecaster
from vitals.registry.card import ModelCard, TrainingData
from vitals.registry.store import ModelRegistry
from vitals.training.data import TrainingSet
from vitals.units import DAY_S, duration_label

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class FamilyTrainer(Protocol):
    """Fits one model family on a training set and describes it in a model card (version left empty)."""

    family: str

    def fit(self, data: TrainingSet, catalog: Catalog, progress: Progress) -> tuple[Any, ModelCard]: ...


@dataclass(frozen=True)
class TrainResult:
    family: str
    version: str
    promoted: bool
    metrics: dict[str, Any]
    seconds: float
    artifact_bytes: int


@dataclass
class ForecasterTrainer:
    """Trains :class:`EarlyWarningForecaster`: fit on the first part of the time range, backtest walk-forward on
    the held-out rest (forecast error vs persistence and seasonal baselines, early-warning lead time before
    labelled orange crossings, false warnings), then refit on everything."""

    family: str = "forecaster"
    params: dict[str, Any] = field(default_factory=dict)
    holdout: float = 0.3
    max_holdout_steps: int = MAX_HOLDOUT_STEPS
    refit: bool = True

    def fit(self, data: TrainingSet, catalog: Catalog, progress: Progress) -> tuple[Any, ModelCard]:
        grid = data.grid
        params = self.model_params(grid.step_s)
        model = EarlyWarningForecaster(**params)
        split = grid.holdout_start(self.holdout, self.max_holdout_steps)
        progress("fit (held-out backtest)")
        model.fit(grid.slice_steps(0, split), catalog)
        held = grid.slice_steps(max(split - model.window_steps, 0), grid.n_steps)
        progress("backtest")
        metrics = backtest_forecaster(model, catalog, data, held)
        geometry = Cadence(model.step_s)
        if self.refit:
            progress("refit on all data")
            model = EarlyWarningForecaster(**params).fit(grid, catalog)
        start, end = data.iso_range()
        card = ModelCard(
            family=self.family, version="", model_class=f"{type(model).__module__}.{type(model).__name__}",
            description=("Early-warning forecaster: one Ridge regressor per indicator family (domain) and horizon "
                         "on noise-scaled lag, trend, calendar and seasonal features; predicts every series at "
                         "once at window close, with predicted warning levels and seconds to each threshold; a "
                         "noise-aware multi-span trend guard extrapolates unusual consistent trends on the "
                         "warning path."),
            training=TrainingData(source=data.source, start=start, end=end, rows=data.rows,
                                  series=grid.n_series, sha256=data.sha256,
                                  catalog=f"{catalog.source} (version {catalog.version})"),
            features=tuple(model.feature_names_),
            parameters={k: _plain(v) for k, v in model.get_params().items()},
            metrics=metrics,
            notes=(f"Backtest: walk-forward on the last {self.holdout:.0%} of the time range (at most "
                   f"{duration_label(self.max_holdout_steps * grid.step_s)}) with a model fitted "
                   f"on the rest; a warning is orange predicted within "
                   f"{duration_label(geometry.early_warning_horizon_s)} (the early-warning horizon of the "
                   f"{duration_label(geometry.step_s)} grid); the stored model is refitted on all data. "
                   f"Families: {', '.join(model.families_)}."),
        )
        return model, card

    def model_params(self, step_s: int) -> dict[str, Any]:
        """The forecaster's parameters: step, window and horizons from the training grid's step
        (:mod:`vitals.forecasting.cadence`), then the trainer's own ``params`` (e.g. ``--horizons``)."""
        geometry = Cadence(step_s)
        return {"step_s": step_s, "window_steps": geometry.window_steps, "horizons_s": geometry.horizons_s,
                **self.params}


def backtest_forecaster(
    model: EarlyWarningForecaster, catalog: Catalog, data: TrainingSet, held: Any
) -> dict[str, Any]:
    """Held-out figures at the model's cadence (:mod:`vitals.forecasting.cadence`): MAE (noise units) per horizon
    vs baselines (``mae_<horizon label>``), lead time of warnings (orange predicted within the early-warning
    horizon, ``early_warning_within_s``), the share warned at least ``WARNED_BEFORE_STEPS`` steps ahead
    (``warned_<label>_before_share``) and false warnings. On the 5-minute grid: ``mae_15m``, ``mae_30m``,
    ``mae_1h``, within 30 minutes, ``warned_15m_before_share``; on an hourly grid ``mae_3h`` .. ``mae_12h``,
    within 6 hours, ``warned_3h_before_share``."""
    geometry = Cadence(model.step_s)
    within = geometry.early_warning_horizon_s
    windows = list(data.windows)
    wf = walk_forward(model, catalog, held, first_col=model.window_steps)
    metrics: dict[str, Any] = dict(forecast_errors(model, catalog, held, wf))
    leads = early_warning_lead_times(held, wf, windows, within)
    metrics[EARLY_WARNING_WITHIN_KEY] = within
    metrics["orange_crossings"] = int(leads.size)
    metrics["lead_time_median_s"] = float(np.median(leads)) if leads.size else None
    metrics["lead_time_p25_s"] = float(np.percentile(leads, 25)) if leads.size else None
    metrics[warned_before_key(geometry.warned_before_s)] = (
        float((leads >= geometry.warned_before_s).mean()) if leads.size else None)
    per_incident = incident_lead_times(held, wf, windows, within)
    metrics["incidents_with_orange"] = int(per_incident.size)
    metrics["incident_lead_time_median_s"] = float(np.median(per_incident)) if per_incident.size else None
    metrics["false_warnings_per_series_day"] = false_warnings_per_series_day(held, wf, windows, within)
    metrics["heldout_days"] = round(held.n_steps * held.step_s / DAY_S, 3)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


def default_trainers(params: dict[str, Any] | None = None) -> list[FamilyTrainer]:
    """The forecaster, plus every trainer registered by name in ``TRAINERS`` (the window model's, built in)."""
    from vitals.detectors.registry import TRAINERS

    trainers: list[FamilyTrainer] = [ForecasterTrainer(params=dict(params or {}))]
    trainers.extend(TRAINERS.create(name) for name in TRAINERS.names())
    return trainers


def train(
    data: TrainingSet, catalog: Catalog, registry: ModelRegistry, *, promote: bool = False,
    trainers: list[FamilyTrainer] | None = None, progress: bool = True,
) -> list[TrainResult]:
    """Train every family, register a new version of each, and promote them if asked: only once every family
    trained and saved, so a failed run promotes nothing (its saved versions stay, unpromoted)."""
    from tqdm import tqdm

    results = []
    for trainer in trainers if trainers is not None else default_trainers():
        began = time.perf_counter()
        with tqdm(desc=f"train {trainer.family}", unit="stage", disable=not progress, leave=False) as bar:
            def step(stage: str, bar: Any = bar) -> None:
                bar.set_postfix_str(stage)
                bar.update(1)
            model, card = trainer.fit(data, catalog, step)
            step("save")
            version = registry.save(trainer.family, model, card)
        size = (registry.version_dir(trainer.family, version) / "model.skops").stat().st_size
        results.append(TrainResult(family=trainer.family, version=version, promoted=promote, metrics=card.metrics,
                                   seconds=time.perf_counter() - began, artifact_bytes=size))
    if promote:
        for r in results:
            registry.promote(r.family, r.version)
    return results


def _plain(v: Any) -> Any:
    """Parameters as JSON-friendly values."""
    if isinstance(v, tuple):
        return list(v)
    if v is None or isinstance(v, bool | int | float | str | list | dict):
        return v
    return repr(v)
