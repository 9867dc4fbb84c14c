"""Walk-forward backtest of a forecaster on a grid: forecast error against baselines, and early-warning lead
time before labelled orange crossings.

The measure follows the grid's cadence (:mod:`vitals.forecasting.cadence`): the errors are keyed by their
horizon's label (``mae_15m`` .. ``mae_1h`` on a 5-minute grid, ``mae_3h`` .. ``mae_12h`` on an hourly one), and a
warning is "predicted to reach orange within the early-warning horizon" (30 minutes on a 5-minute grid, 6 hours on
an hourly one), the horizon of the ``VitalsEarlyWarning`` rule.

Every step close of the evaluation range is a forecast origin, exactly as the stream would run it (only the
window up to the origin is used). Positions are stacked into rows and predicted in chunks, so the whole
backtest is a few vectorized calls, not a loop over series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.catalog.model import ORANGE, Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.forecasting.cadence import Cadence, mae_key
from vitals.forecasting.features import threshold_units
from vitals.forecasting.grid import SeriesGrid
from vitals.forecasting.model import EarlyWarningForecaster
from vitals.labels import LabelledWindow
from vitals.units import DAY_S, NS_PER_S


def warn_within_s(grid: SeriesGrid) -> float:
    """The early-warning horizon of a grid's step: a warning is "orange predicted within" it."""
    return float(Cadence(grid.step_s).early_warning_horizon_s)


@dataclass(frozen=True, eq=False)
class WalkForward:
    """Forecasts from every origin: (N, P, H) values, (N, P) seconds to orange, origins (P,) in UTC ns."""

    origins_ns: npt.NDArray[np.int64]
    origin_cols: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    seconds_to_orange: npt.NDArray[np.float64]
    level_now: npt.NDArray[np.int8]


def walk_forward(
    model: EarlyWarningForecaster, catalog: Catalog, grid: SeriesGrid, first_col: int, chunk_rows: int = 200_000
) -> WalkForward:
    """Forecast every series from every column ``t >= first_col`` (needs ``first_col >= window_steps``)."""
    w = model.window_steps
    cols = np.arange(max(first_col, w), grid.n_steps, dtype=np.int64)
    n, p, h = grid.n_series, cols.size, len(model.horizons_s)
    value = np.full((n, p, h), np.nan)
    secs = np.full((n, p), np.nan)
    level_now = np.zeros((n, p), dtype=np.int8)
    ends = grid.column_end_ns()
    per_chunk = max(1, chunk_rows // max(n, 1))
    for lo in range(0, p, per_chunk):
        c = cols[lo: lo + per_chunk]
        win = grid.values[:, c[:, None] + np.arange(-w, 1)[None, :]]  # (N, k, w+1)
        k = c.size
        fc = model.predict(catalog, win.reshape(n * k, w + 1), np.repeat(grid.indicator, k),
                           np.tile(ends[c], n))
        value[:, lo: lo + k, :] = fc.value.reshape(n, k, h)
        secs[:, lo: lo + k] = fc.seconds_to_level[:, ORANGE - 1].reshape(n, k)
        level_now[:, lo: lo + k] = (fc.seconds_to_level[:, ORANGE - 1] == 0).reshape(n, k) * ORANGE
    return WalkForward(origins_ns=ends[cols], origin_cols=cols, value=value, seconds_to_orange=secs,
                       level_now=level_now)


def forecast_errors(
    model: EarlyWarningForecaster, catalog: Catalog, grid: SeriesGrid, wf: WalkForward
) -> dict[str, float]:
    """Mean absolute error per horizon for the model, persistence and the seasonal baseline, in threshold units
    (1 = the distance from an indicator's typical value to its orange threshold), so that indicators of any unit
    and noise level count alike (in noise units one outage count far past red would outweigh the city)."""
    seasonal = SeasonalModel(catalog)
    noise = threshold_units(catalog, seasonal)[grid.indicator][:, None]
    out: dict[str, float] = {}
    for k, h in enumerate(model.horizons_s):
        steps = int(h) // grid.step_s
        target_cols = wf.origin_cols + steps
        ok = target_cols < grid.n_steps
        tc, oc = target_cols[ok], wf.origin_cols[ok]
        truth = grid.values[:, tc].astype(np.float64)
        now = grid.values[:, oc].astype(np.float64)
        target_ns = grid.column_end_ns()[tc]
        ind = np.repeat(grid.indicator, tc.size)
        expected = seasonal.expected(ind, np.tile(target_ns, grid.n_series)).reshape(truth.shape)
        key = mae_key(h)
        out[key] = float(np.nanmean(np.abs(wf.value[:, ok, k] - truth) / noise))
        out[f"{key}_persistence"] = float(np.nanmean(np.abs(now - truth) / noise))
        out[f"{key}_seasonal"] = float(np.nanmean(np.abs(expected - truth) / noise))
    return out


def early_warning_lead_times(
    grid: SeriesGrid, wf: WalkForward, windows: list[LabelledWindow], warn_within_s: float | None = None
) -> npt.NDArray[np.float64]:
    """Lead time (s) of the early warning before each crossing inside the walk-forward range.

    The warning is "predicted to reach orange within ``warn_within_s``" (default: the grid's early-warning
    horizon) at a step close. Its lead time is the
    crossing time minus the first close of the unbroken run of warnings that reaches the last close before the
    crossing, counted only inside the incident window; no warning at that last close gives lead 0.
    """
    row_of = {int(s): i for i, s in enumerate(grid.series)}
    warn = _warning(grid, wf, warn_within_s)
    leads = []
    for cr in windows:
        row = row_of.get(cr.series)
        if row is None or cr.orange_ns < 0 or not wf.origins_ns[0] <= cr.orange_ns <= wf.origins_ns[-1]:
            continue
        before = np.flatnonzero((wf.origins_ns < cr.orange_ns) & (wf.origins_ns >= cr.start_ns))
        if before.size == 0 or not warn[row, before[-1]]:
            leads.append(0.0)
            continue
        run = warn[row, before][::-1]
        length = int(np.argmin(run)) if not run.all() else run.size
        first = before[before.size - length]
        leads.append((cr.orange_ns - int(wf.origins_ns[first])) / NS_PER_S)
    return np.asarray(leads, dtype=np.float64)


def incident_lead_times(
    grid: SeriesGrid, wf: WalkForward, windows: list[LabelledWindow], warn_within_s: float | None = None
) -> npt.NDArray[np.float64]:
    """Lead time (s) per incident: its first orange crossing (any series) minus its first warning that ran
    unbroken up to a crossing of the same series (the operator's view: how early the incident was flagged)."""
    by_incident: dict[int, list[tuple[int, float]]] = {}
    for cr in windows:
        if cr.incident < 0 or cr.orange_ns < 0:
            continue
        lead = early_warning_lead_times(grid, wf, [cr], warn_within_s)
        if lead.size:
            by_incident.setdefault(cr.incident, []).append((cr.orange_ns, float(lead[0])))
    out = []
    for pairs in by_incident.values():
        first_orange = min(o for o, _ in pairs)
        first_warning = min(o - lead * NS_PER_S for o, lead in pairs)
        out.append((first_orange - first_warning) / NS_PER_S)
    return np.asarray(out, dtype=np.float64)


def false_warnings_per_series_day(
    grid: SeriesGrid, wf: WalkForward, windows: list[LabelledWindow], warn_within_s: float | None = None
) -> float:
    """Warning onsets outside every labelled window (widened by an hour), per series per day."""
    warn = _warning(grid, wf, warn_within_s)
    onset = warn & ~np.concatenate([np.zeros((warn.shape[0], 1), bool), warn[:, :-1]], axis=1)
    row_of = {int(s): i for i, s in enumerate(grid.series)}
    labelled = np.zeros_like(warn)
    for cr in windows:
        row = row_of.get(cr.series)
        if row is not None:
            inside = (wf.origins_ns >= cr.start_ns - 3600 * NS_PER_S) & (wf.origins_ns <= cr.end_ns)
            labelled[row] |= inside
    days = wf.origins_ns.size * grid.step_s / DAY_S
    return float((onset & ~labelled).sum() / max(grid.n_series * days, 1e-9))


def _warning(grid: SeriesGrid, wf: WalkForward, within_s: float | None) -> npt.NDArray[np.bool_]:
    """(N, P): orange predicted within ``within_s`` (default: the grid's early-warning horizon), not yet orange."""
    within = warn_within_s(grid) if within_s is None else within_s
    return np.asarray((wf.seconds_to_orange <= within) & (wf.level_now < ORANGE))
