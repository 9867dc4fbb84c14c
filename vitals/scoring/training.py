"""Trainer of the ``window_model`` family for `vitals train` (picked up by :func:`vitals.training.default_trainers`).

:func:`make_trainer` returns a :class:`WindowModelTrainer`: it fits a
:class:`~vitals.scoring.city_window_model.CityWindowModel` (an IsolationForest per indicator family on residual window
features) on the first 70% of a training set's time range, backtests it on the held-out rest, refits on
everything and describes the result in a model card. Labelled incident windows (a simulated city) are left out
of the fit and used to check the scores.

Backtest figures (held-out windows): ROC-AUC of injected window anomalies against the normal windows they were
made from (``variance_burst``: deviations from the window mean times 4; ``level_shift``: +4 noise units;
``ramp``: 0 to +6 noise units across the window), ROC-AUC of windows overlapping labelled incidents, and false
alarms (normal windows scoring at or above the export threshold) per series and day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from vitals.catalog import Catalog
from vitals.detectors.window_forest import FEATURES, window_features
from vitals.forecasting.cadence import Cadence
from vitals.forecasting.grid import MAX_HOLDOUT_STEPS, SeriesGrid
from vitals.labels import LabelledWindow
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.registry.card import ModelCard, TrainingData
from vitals.scoring.city_window_model import CityWindowModel, GridCells, grid_cells
from vitals.units import DAY_S, NS_PER_S, duration_label

FAMILY = "window_model"
INJECTIONS: tuple[str, ...] = ("variance_burst", "level_shift", "ramp")


def make_trainer() -> WindowModelTrainer:
    """The trainer `vitals train` registers next to the forecaster."""
    return WindowModelTrainer()


@dataclass
class WindowModelTrainer:
    family: str = FAMILY
    params: dict[str, Any] = field(default_factory=dict)
    holdout: float = 0.3
    max_holdout_steps: int = MAX_HOLDOUT_STEPS
    refit: bool = True
    seed: int = 0

    def fit(self, data: Any, catalog: Catalog, progress: Callable[[str], None]) -> tuple[CityWindowModel, ModelCard]:
        grid: SeriesGrid = data.grid
        incident = incident_cells(grid, data.windows)
        split = grid.holdout_start(self.holdout, self.max_holdout_steps)
        params = {"window_s": Cadence(grid.step_s).window_s, **self.params}  # 12 grid steps unless given
        progress("fit (held-out backtest)")
        model = CityWindowModel(**params).fit(grid.slice_steps(0, split), catalog, incident[:, :split])
        progress("backtest")
        held = grid.slice_steps(split, grid.n_steps)
        metrics = backtest_window_model(model, catalog, held, incident[:, split:], seed=self.seed)
        if self.refit:
            progress("refit on all data")
            model = CityWindowModel(**params).fit(grid, catalog, incident)
        start, end = data.iso_range()
        card = ModelCard(
            family=self.family, version="", model_class=f"{type(model).__module__}.{type(model).__name__}",
            description=("Window model: one IsolationForest per indicator family (catalog domain) on features of "
                         f"{model.window_s // 60}-minute windows of seasonal residuals (catalog noise units, "
                         "standardized per indicator); scored for all series at each window close in the flow, "
                         "calibrated against the training windows; combined with the default detector by max."),
            training=TrainingData(source=data.source, start=start, end=end, rows=data.rows,
                                  series=grid.n_series, sha256=data.sha256,
                                  catalog=f"{catalog.source} (version {catalog.version})"),
            features=tuple(f"residual_window_{name}" for name in FEATURES),
            parameters={**model.get_params(), "step_s": model.step_s_},
            metrics={**metrics, "training_windows": model.n_training_windows_},
            notes=(f"Backtest on the last {self.holdout:.0%} of the time range (at most "
                   f"{duration_label(self.max_holdout_steps * grid.step_s)}) with a model fitted on the rest "
                   "(labelled incident cells left out of every fit); the stored model is refitted on all data. "
                   f"Families: {', '.join(model.families_)}."),
        )
        return model, card


def incident_cells(grid: SeriesGrid, windows: tuple[LabelledWindow, ...] | list[LabelledWindow]) -> npt.NDArray[
        np.bool_]:
    """(N, T) mask of grid cells inside a labelled incident window of their series."""
    if not windows:  # a history: no labels (the mask below would be 12 bytes a cell, 3 GB for a month of the city)
        return np.zeros((grid.n_series, grid.n_steps), dtype=bool)
    mask = np.zeros((grid.n_series, grid.n_steps + 1), dtype=np.int32)
    series = np.array([w.series for w in windows], dtype=np.int64)
    start = np.array([w.start_ns for w in windows], dtype=np.int64)
    end = np.array([w.end_ns for w in windows], dtype=np.int64)
    row = np.searchsorted(grid.series, series)
    known = (row < grid.n_series) & (grid.series[np.minimum(row, grid.n_series - 1)] == series)
    step_ns = grid.step_s * NS_PER_S
    c0 = np.clip((start - grid.start_ns) // step_ns, 0, grid.n_steps)
    c1 = np.clip((end - grid.start_ns) // step_ns + 1, 0, grid.n_steps)
    np.add.at(mask, (row[known], c0[known]), 1)
    np.add.at(mask, (row[known], c1[known]), -1)
    return np.cumsum(mask, axis=1, dtype=np.int32)[:, :-1] > 0


def window_labels(cells: GridCells, grid: SeriesGrid, incident: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per window key: does any of its cells lie in a labelled incident."""
    row = np.searchsorted(grid.series, cells.series)
    col = (cells.window_start_ns - grid.start_ns) // (grid.step_s * NS_PER_S) + cells.position
    hit = incident[row, col]
    return np.bincount(cells.key, weights=hit.astype(np.float64)) > 0


def inject(cells: GridCells, kind: str, cpw: int) -> npt.NDArray[np.float64]:
    """Residuals of the cells with an anomaly of ``kind`` injected into every window."""
    r = cells.residual
    if kind == "variance_burst":
        mean = np.bincount(cells.key, r) / np.maximum(np.bincount(cells.key), 1)
        return mean[cells.key] + 4.0 * (r - mean[cells.key])
    if kind == "level_shift":
        return r + 4.0
    return r + 6.0 * cells.position / max(cpw - 1, 1)


def backtest_window_model(model: CityWindowModel, catalog: Catalog, held: SeriesGrid,
                          incident: npt.NDArray[np.bool_], *, seed: int = 0) -> dict[str, Any]:
    """Held-out figures of a fitted window model (see module doc)."""
    cells = grid_cells(held, catalog, model.window_s, model.min_count)
    if not cells.key.size:
        return {"heldout_windows": 0}
    labels = window_labels(cells, held, incident)
    ind, _, raw = window_features(cells.indicator, cells.key, cells.residual)
    scores, _ = model.score(ind, raw)
    normal = ~labels
    days = held.n_steps * held.step_s / DAY_S
    false_alarms = int((scores[normal] >= ANOMALY_THRESHOLD).sum())
    metrics: dict[str, Any] = {
        "heldout_days": round(days, 3), "heldout_windows": int(scores.size),
        "incident_windows": int(labels.sum()),
        "normal_score_p99": round(float(np.quantile(scores[normal], 0.99)), 4) if normal.any() else None,
        "false_alarms_per_series_day": round(false_alarms / max(held.n_series * days, 1e-9), 5),
    }
    normal_cells = cells.select(normal[cells.key])
    rng = np.random.default_rng(seed)
    aucs = []
    for kind in INJECTIONS:
        # inject into a random half of the normal windows; the other half are the negatives
        picked = rng.random(int(cells.key.max()) + 1) < 0.5
        pos_cells = normal_cells.select(picked[normal_cells.key])
        if not pos_cells.key.size:
            continue
        ind_i, _, raw_i = window_features(pos_cells.indicator, pos_cells.key, inject(pos_cells, kind,
                                                                                     model.cells_per_window_))
        injected, _ = model.score(ind_i, raw_i)
        negatives = scores[normal & ~picked]
        truth = np.r_[np.ones(injected.size), np.zeros(negatives.size)]
        auc = float(roc_auc_score(truth, np.r_[injected, negatives]))
        metrics[f"roc_auc_{kind}"] = round(auc, 4)
        metrics[f"recall_{kind}"] = round(float((injected >= ANOMALY_THRESHOLD).mean()), 4)
        aucs.append(auc)
    if aucs:
        metrics["roc_auc_injected_mean"] = round(float(np.mean(aucs)), 4)
    if labels.any() and normal.any():
        metrics["roc_auc_incidents"] = round(float(roc_auc_score(labels, scores)), 4)
    return metrics
