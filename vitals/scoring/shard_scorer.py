"""Anomaly scores, expected band, forecasts and explanations for the series of one shard, in the flow.

Per batch of accepted readings (vectorized over the batch):
- the default detector (:class:`vitals.detectors.DefaultDetector`) scores every reading; the exported
  ``anomaly_score`` of a series is its peak score decayed with a half-life in event time (so a short onset
  detection stays visible to scrapes and alert rules for a while), or the current unsuppressed score if higher;
- a lag buffer keeps the forecaster's window per series on a fine grid (``lag_resolution_s``, a fifth of the
  step: 1 minute at the 5-minute step; step and window come from the catalog's cadence and follow the promoted
  forecaster's own, :mod:`vitals.forecasting.cadence`); at a forecast
  tick the forecaster's window is read from it every ``lag_step_s`` (5 minutes) back from *now*, the last
  column holding the newest reading (as of now, like a training window's last cell), so the newest lag value
  is at most one batch old instead of up to a whole 5-minute step;
- with a promoted window model (``window_model`` family: :class:`vitals.scoring.city_window_model.CityWindowModel`),
  a :class:`~vitals.scoring.window_state.WindowAccumulator` folds the shard's readings into residual windows;
  closed windows are scored together (all series of the shard in one call per family) at most every
  ``window_score_every_s`` of event time (default 600 s: the cost of IsolationForest scoring is mostly per
  call, so a window is scored up to 10 minutes after it closed). The window score is held
  like the default detector's (peak decayed with the same half-life) and combined by ``max``:
  ``anomaly_score = max(held default score, unsuppressed default score, held window score)``. ``max`` keeps each
  detector's calibration (a window score at the export threshold means what it means alone: about one training
  window in 10,000 of the family scores higher) and lets a window anomaly the per-reading detector misses (a
  variance burst of readings each unremarkable) alarm on its own. When the window score is the larger, the
  explanation is the window model (detector code 2) and its strongest feature (``window_<feature>``, the
  standardized feature furthest from its family's typical value).

At every forecast tick (``forecast_every_s`` of event time) the promoted early-warning forecaster
(:class:`vitals.forecasting.model.EarlyWarningForecaster`, from the model registry, hot-reloaded) predicts every
series with data at once. The prediction itself is deferred until something reads the forecasts (a view's
:meth:`ShardScorer.columns`, the ``forecast_*`` attributes, a pickle): the tick keeps the model, its rows and its
time, and a later tick replaces a tick nobody read. Its window is built from the lag buffer when read, or before the
buffer next changes (not at all when the next batch's tick of the same model replaces it unread), so it is the
window as of the tick whatever readings arrive after it. Predictions are a pure function of those, so every forecast
read is the one the tick would have made at once; a fast replay, whose batches span several ticks between views,
skips the windows and predictions nobody sees (on a model failure the forecasts kept are those of the last tick
read).
:meth:`ShardScorer.columns` returns the view columns the exporter renders (``anomaly_score``,
``expected_lower|mid|upper``, ``forecast_<h>``, ``forecast_level_<h>``, ``seconds_to_<level>``,
and explanation codes ``explain_detector`` / ``explain_feature``).

The scorer pickles with the shard (Bytewax snapshots): arrays only; models come from a :class:`ModelSource`.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch, newest
from vitals.catalog import Catalog, SeasonalModel
from vitals.catalog.model import LEVELS
from vitals.detectors import DefaultDetector
from vitals.errors import ConfigError
from vitals.forecasting.cadence import catalog_cadence
from vitals.forecasting.cadence import lag_resolution_s as lag_resolution
from vitals.forecasting.grid import LagBuffer
from vitals.planned_works import PlannedWorks
from vitals.scoring.explain_codes import WINDOW_DETECTOR, WINDOW_FEATURE_OFFSET, detector_code, feature_code
from vitals.scoring.window_state import ClosedWindows, WindowAccumulator
from vitals.state import rows_per_shard
from vitals.units import NS_PER_S, duration_label

log = logging.getLogger(__name__)


class ModelSource(Protocol):
    """Where the scorer gets the promoted forecaster (hot-reloaded); None when there is none."""

    def forecaster(self) -> Any | None: ...

    def window_model(self) -> Any | None: ...


@dataclass(frozen=True, eq=False)
class _Tick:
    """A forecast tick not predicted yet: the model, the rows with data, their window as of ``now_ns`` (None: not
    built yet, the lag buffer is as it was at the tick)."""

    catalog: Catalog
    model: Any
    rows: npt.NDArray[np.intp]
    window: npt.NDArray[np.float32] | None
    now_ns: int


class ShardScorer:
    """Detector and forecaster state for the rows of one shard (local row = global series id // n_shards)."""

    def __init__(
        self, catalog: Catalog, shard: int, n_shards: int, *, hold_half_life_s: float | None = None,
        forecast_every_s: int | None = None, lag_steps: int | None = None, lag_step_s: int | None = None,
        window_score_every_s: int = 600, lag_resolution_s: int | None = None,
    ) -> None:
        # time geometry from the catalog's cadence, as training derives it (vitals.forecasting.cadence): at 5 minutes
        # a 1-minute lag buffer of 12 steps, a forecast every minute, a 10-minute hold; a promoted forecaster with
        # another step or window re-shapes the lag buffer to its own (``_fit_lags``)
        geometry = catalog_cadence(catalog)
        hold_half_life_s = geometry.hold_half_life_s if hold_half_life_s is None else hold_half_life_s
        lag_step_s = geometry.step_s if lag_step_s is None else lag_step_s
        lag_steps = geometry.window_steps if lag_steps is None else lag_steps
        lag_resolution_s = lag_resolution(lag_step_s) if lag_resolution_s is None else lag_resolution_s
        forecast_every_s = lag_resolution_s if forecast_every_s is None else forecast_every_s
        self.shard, self.n_shards = shard, n_shards
        self.n_rows = rows_per_shard(catalog.n_series, n_shards)
        series = np.arange(self.n_rows, dtype=np.int64) * n_shards + shard
        valid = series < catalog.n_series
        indicator = np.where(valid, series // catalog.n_streets, 0)
        self.indicator = indicator.astype(np.int16)
        vmin = np.where(valid, catalog.valid_min_array[indicator], -np.inf)
        vmax = np.where(valid, catalog.valid_max_array[indicator], np.inf)
        self.detector = DefaultDetector(valid_min=vmin, valid_max=vmax).fit([], [], [], n_series=self.n_rows)
        self.hold_half_life_ns = hold_half_life_s * NS_PER_S
        self.peak = np.zeros(self.n_rows)
        self.peak_ts = np.zeros(self.n_rows, dtype=np.int64)
        self.seen = np.zeros(self.n_rows, dtype=bool)
        if lag_resolution_s <= 0 or lag_step_s % lag_resolution_s:
            msg = f"lag_step_s={lag_step_s} must be a positive multiple of lag_resolution_s={lag_resolution_s}"
            raise ConfigError(msg)
        self.lag_step_s, self.lag_steps = lag_step_s, lag_steps
        self.lag_stride = lag_step_s // lag_resolution_s
        self.lags = LagBuffer(self.n_rows, lag_steps * self.lag_stride + 1, lag_resolution_s)
        self.forecast_every_ns = forecast_every_s * NS_PER_S
        self.next_forecast_ns = 0
        self._forecast_at_ns = 0
        self._model_failed = False
        self._horizons: tuple[str, ...] = ()
        self._forecast_value = np.empty((self.n_rows, 0))
        self._forecast_level = np.empty((self.n_rows, 0), dtype=np.int8)
        self._seconds_to = np.full((self.n_rows, 4), np.nan)
        self._pending: _Tick | None = None  # the newest forecast tick, not predicted yet (nobody read it)
        self.seasonal = SeasonalModel(catalog)
        self.windows: WindowAccumulator | None = None  # created when a window model is first in use
        self.window_peak = np.zeros(self.n_rows)
        self.window_peak_ts = np.zeros(self.n_rows, dtype=np.int64)
        self.window_feature = np.zeros(self.n_rows, dtype=np.int8)
        self._window_failed = False
        self.window_score_every_ns = window_score_every_s * NS_PER_S
        self.next_window_score_ns = 0
        self.pending_windows: list[ClosedWindows] = []  # closed, not yet scored (scored together per tick)

    # ---- per batch --------------------------------------------------------------------------------------
    def update(self, catalog: Catalog, batch: ReadingBatch, models: ModelSource | None,
               rows: npt.NDArray[np.int64] | None = None, *, planned: PlannedWorks | None = None) -> int:
        """Fold a batch of accepted readings in; ``rows``: their local rows when the caller has them. Readings in a
        ``planned`` works are not fed to the detector nor to the window model (they score 0 and teach nothing:
        :mod:`vitals.planned_works`); the forecasts' inputs take them, as the vitals do. Returns how many readings a
        works left out."""
        if not len(batch):
            return 0
        if rows is None:
            rows = catalog.series_id(batch.indicator, batch.street) // self.n_shards
        inside = None if planned is None else planned.inside(batch.indicator, batch.street, batch.ts_ns)
        learn_rows, learn_ts, learn_values = rows, batch.ts_ns, batch.value
        if inside is not None:
            keep = ~inside
            learn_rows, learn_ts, learn_values = rows[keep], batch.ts_ns[keep], batch.value[keep]
        if len(learn_rows):
            scores = self.detector.update_score(learn_rows, learn_ts, learn_values)
            self._hold(learn_rows, learn_ts, scores)
        self.seen[rows] = True
        clock = newest(batch.ts_ns)
        due = clock >= self.next_forecast_ns
        model = models.forecaster() if due and models is not None else None
        self._before_lags_change(model)
        self.lags.update(rows, batch.ts_ns, batch.value)
        if len(learn_rows):
            self.score_windows(catalog, learn_rows, learn_ts, learn_values, models)
        if due:
            self.next_forecast_ns = (clock // self.forecast_every_ns + 1) * self.forecast_every_ns
            self._tick(catalog, clock, model)
        return 0 if inside is None else int(inside.sum())

    def _before_lags_change(self, next_model: Any | None) -> None:
        """The pending tick's window is built from the lag buffer when read; before the buffer changes it is built
        now (so it is the window as of the tick whatever readings arrive after it), unless this batch's tick
        (``next_model``: its model, None without a tick) replaces it unread: the same model, which predicts
        nothing of the old tick."""
        tick = self._pending
        if tick is None or tick.window is not None:
            return
        if next_model is not None and next_model is tick.model:  # the batch's rows are seen: its tick comes
            self._pending = None  # replaced by this batch's tick, never read
            return
        self._pending = replace(tick, window=self.lag_window(tick.now_ns, tick.rows))

    def _hold(self, rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> None:
        """Keep per row the peak score, decayed by the half-life in event time."""
        self._hold_into(self.peak, self.peak_ts, rows, ts, scores)

    def _hold_into(self, peak: npt.NDArray[np.float64], peak_ts: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
                   ts: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Raise held peaks where a new score beats the decayed one; returns the positions that did (per row, its
        highest score of the batch: :func:`vitals.scoring.hold_kernel.peak_picks`)."""
        if len(rows) == 1:  # one score (a sparse feed's piece): no pick to make
            return self._hold_one(peak, peak_ts, int(rows[0]), int(ts[0]), scores[0])
        from vitals.scoring.hold_kernel import peak_picks

        pick = peak_picks(np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(scores, dtype=np.float64),
                          peak.shape[0])
        if pick.size and pick[0] < 0:
            msg = f"rows outside the shard's {peak.shape[0]} rows"
            raise IndexError(msg)
        r, t, s = rows[pick], ts[pick], scores[pick]
        current = self._decayed(peak, peak_ts, r, t)
        higher = s >= current
        peak[r[higher]] = s[higher]
        peak_ts[r[higher]] = t[higher]
        return pick[higher]

    def _hold_one(self, peak: npt.NDArray[np.float64], peak_ts: npt.NDArray[np.int64], row: int, ts: int,
                  score: np.float64) -> npt.NDArray[np.intp]:
        """:meth:`_hold_into` of one score (the same decay, in scalars)."""
        if not 0 <= row < peak.shape[0]:
            msg = f"rows outside the shard's {peak.shape[0]} rows"
            raise IndexError(msg)
        # _decay in scalars: the same int64 age, its conversion to float64 and the same exp2
        current = peak[row] * np.exp2(float(-max(ts - int(peak_ts[row]), 0)) / float(self.hold_half_life_ns))
        if score >= current:
            peak[row], peak_ts[row] = score, ts
            return np.zeros(1, dtype=np.intp)
        return np.zeros(0, dtype=np.intp)

    def _decayed(self, peak: npt.NDArray[np.float64], peak_ts: npt.NDArray[np.int64], rows: npt.NDArray[np.int64],
                 now_ns: npt.NDArray[np.int64] | int) -> npt.NDArray[np.float64]:
        return self._decay(peak[rows], peak_ts[rows], now_ns)

    def _decay(self, peak: npt.NDArray[np.float64], peak_ts: npt.NDArray[np.int64],
               now_ns: npt.NDArray[np.int64] | int) -> npt.NDArray[np.float64]:
        """Held peaks (given per row) decayed to ``now_ns`` (one time, or one per row)."""
        age = np.maximum(np.asarray(now_ns, dtype=np.int64) - peak_ts, 0)
        return peak * np.exp2(-age / self.hold_half_life_ns)

    # ---- window model -------------------------------------------------------------------------------------
    def score_windows(self, catalog: Catalog, rows: npt.NDArray[np.int64], ts: npt.NDArray[np.int64],
                      values: npt.NDArray[np.float64], models: ModelSource | None) -> None:
        """Fold the batch into the window accumulators and score the windows it closes (a promoted window model
        only; a missing or failing model is skipped, the flow goes on)."""
        getter = getattr(models, "window_model", None)
        model = getter() if getter is not None else None
        if model is None:
            return
        try:
            model.check_catalog(catalog)
            step_s, window_s, min_count = int(model.step_s_), int(model.window_s), int(model.min_count)
        except Exception as exc:  # a model that does not fit this catalog: as if there were none
            self._window_error(model, exc)
            return
        if self.windows is None or not self.windows.matches(step_s, window_s, min_count):
            self.windows = WindowAccumulator(self.indicator, step_s=step_s, window_s=window_s, min_count=min_count)
        closed = self.windows.update(self.seasonal, rows, ts, values)
        if len(closed.rows):
            self.pending_windows.append(closed)
        clock = newest(ts)
        if self.pending_windows and clock >= self.next_window_score_ns:
            # one call per tick: scoring cost is mostly per call (per family and tree), not per window
            self.next_window_score_ns = (clock // self.window_score_every_ns + 1) * self.window_score_every_ns
            pending, self.pending_windows = self.pending_windows, []
            self._score_closed(model, ClosedWindows(*(np.concatenate([getattr(p, f) for p in pending]) for f in (
                "rows", "window_start_ns", "closed_ns", "raw"))))

    def _score_closed(self, model: Any, closed: ClosedWindows) -> None:
        try:
            scores, feature = model.score(self.indicator[closed.rows], closed.raw)
            scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
        except Exception as exc:  # a bad model must never stop the flow
            self._window_error(model, exc)
            return
        self._window_failed = False
        raised = self._hold_into(self.window_peak, self.window_peak_ts, closed.rows, closed.closed_ns, scores)
        self.window_feature[closed.rows[raised]] = np.asarray(feature)[raised]

    def _window_error(self, model: Any, exc: Exception) -> None:
        if not self._window_failed:
            log.error("window model %s failed on shard %d, window scores off until a working model is promoted: %s",
                      type(model).__name__, self.shard, exc)
        self._window_failed = True

    # ---- forecasts ----------------------------------------------------------------------------------------
    def _tick(self, catalog: Catalog, now_ns: int, model: Any | None) -> None:
        """A forecast tick: the forecaster's window of every series with data, as of ``now_ns``; predicted when
        read (:meth:`_predict_pending`), its window built then or before the lag buffer next changes."""
        if model is None:
            return
        rows = np.flatnonzero(self.seen)
        if not len(rows):
            return
        if self._pending is not None and self._pending.model is not model:
            self._predict_pending()  # a newly promoted model: the last tick of the old one as it would have been
        self._fit_lags(model)
        self._pending = _Tick(catalog, model, rows, None, now_ns)

    def _predict_pending(self) -> None:
        """Run the deferred prediction of the newest tick, if any (the forecasts as of that tick)."""
        tick, self._pending = self._pending, None
        if tick is None:
            return
        model, rows, now_ns = tick.model, tick.rows, tick.now_ns
        window = self.lag_window(now_ns, rows) if tick.window is None else tick.window  # the buffer as at the tick
        try:
            # values, levels and seconds only (the view exports no forecast explanation): cheaper when the model can
            predict = getattr(model, "predict_levels", None) or model.predict
            result = predict(tick.catalog, window, self.indicator[rows], now_ns)
        except Exception as exc:  # a bad model must never stop the flow: keep the last forecasts
            if not self._model_failed:
                log.error("forecaster %s failed on shard %d, forecasts stale until a working model is promoted: %s",
                          type(model).__name__, self.shard, exc)
            self._model_failed = True
            return
        self._model_failed = False
        hs = tuple(duration_label(int(h)) for h in result.horizons_s)
        if hs != self._horizons:
            self._horizons = hs
            expected = catalog_cadence(tick.catalog).horizon_labels
            if self.shard == 0 and hs != expected:
                log.warning("the forecaster's horizons %s are not the catalog cadence's %s: /metrics, alert rules and "
                            "dashboards show only %s; retrain without --horizons", ", ".join(hs),
                            ", ".join(expected), ", ".join(sorted(set(hs) & set(expected))) or "none of them")
            self._forecast_value = np.full((self.n_rows, len(hs)), np.nan)
            self._forecast_level = np.zeros((self.n_rows, len(hs)), dtype=np.int8)
        self._forecast_value[rows] = result.value
        self._forecast_level[rows] = result.level
        self._seconds_to[rows] = result.seconds_to_level
        self._forecast_at_ns = now_ns

    # the forecasts as of the newest tick (predicted on first read)
    @property
    def horizons(self) -> tuple[str, ...]:
        self._predict_pending()
        return self._horizons

    @property
    def forecast_value(self) -> npt.NDArray[np.float64]:
        self._predict_pending()
        return self._forecast_value

    @property
    def forecast_level(self) -> npt.NDArray[np.int8]:
        self._predict_pending()
        return self._forecast_level

    @property
    def seconds_to(self) -> npt.NDArray[np.float64]:
        self._predict_pending()
        return self._seconds_to

    @property
    def forecast_at_ns(self) -> int:
        self._predict_pending()
        return self._forecast_at_ns

    def __getstate__(self) -> dict[str, Any]:
        """Arrays only: a pending tick is predicted first (its model and catalog are not pickled)."""
        self._predict_pending()
        return dict(vars(self))

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name in ("horizons", "forecast_value", "forecast_level", "seconds_to", "forecast_at_ns"):
            if name in state:  # a scorer pickled before the deferred prediction
                state[f"_{name}"] = state.pop(name)
        state.setdefault("_pending", None)
        self.__dict__.update(state)

    def _fit_lags(self, model: Any) -> None:
        """Shape the lag buffer like the forecaster's own window (its ``step_s`` and ``window_steps``, stored when it
        was trained), so the flow and training cannot disagree; a change starts a new buffer (logged)."""
        step = int(getattr(model, "step_s", 0) or 0)
        steps = int(getattr(model, "window_steps", 0) or 0)
        have = getattr(self, "lag_step_s", None), getattr(self, "lag_steps", None)
        if step <= 0 or steps <= 0 or have in {(step, steps), (None, None)}:
            return  # (None, None): a scorer restored from before the fine grid keeps its coarse buffer
        resolution = lag_resolution(step)
        log.info("shard %d: lag window follows the forecaster: %d steps of %d s (was %s x %s s)", self.shard, steps,
                 step, have[1], have[0])
        self.lag_step_s, self.lag_steps, self.lag_stride = step, steps, step // resolution
        self.lags = LagBuffer(self.n_rows, steps * self.lag_stride + 1, resolution)
        self.forecast_every_ns = resolution * NS_PER_S

    def lag_window(self, now_ns: int, rows: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.float32]:
        """(n_rows, lag_steps + 1) values as of now and every ``lag_step_s`` before, oldest first: the fine
        buffer's columns up to the step in progress (its newest reading), every ``lag_stride``-th from the end;
        with ``rows`` only those rows (the same values as ``lag_window(now_ns)[rows]``)."""
        stride = getattr(self, "lag_stride", 1)  # a scorer restored from before the fine grid: its coarse buffer
        if stride == 1:
            return self.lags.window(now_ns, rows=rows)
        return self.lags.window(now_ns + self.lags.step_s * NS_PER_S, every=stride, rows=rows)

    # ---- export -------------------------------------------------------------------------------------------
    def columns(self, series: npt.NDArray[np.int64], now_ns: int) -> dict[str, npt.NDArray[np.float64]]:
        """View columns for the given global series ids of this shard."""
        rows = series // self.n_shards
        out = self._score_columns(self.detector, rows, peak=self.peak[rows], peak_ts=self.peak_ts[rows],
                                  window_peak=self.window_peak[rows], window_peak_ts=self.window_peak_ts[rows],
                                  window_feature=self.window_feature[rows], now_ns=now_ns)
        self._predict_pending()
        if self._horizons:
            fresh = self._forecast_at_ns > 0
            for k, h in enumerate(self._horizons):
                out[f"forecast_{h}"] = self._forecast_value[rows, k] if fresh else np.full(len(rows), np.nan)
                out[f"forecast_level_{h}"] = self._forecast_level[rows, k].astype(np.float64)
            elapsed = max(now_ns - self._forecast_at_ns, 0) / NS_PER_S
            for j, name in enumerate(LEVELS):
                secs = np.maximum(self._seconds_to[rows, j] - elapsed, 0.0)
                # "never within the look-ahead" is no sample at all, not +Inf (keeps /metrics small)
                out[f"seconds_to_{name}"] = np.where(np.isinf(secs), np.nan, secs)
        return out

    def _score_columns(self, det: DefaultDetector, rows: npt.NDArray[np.int64], *, peak: npt.NDArray[np.float64],
                       peak_ts: npt.NDArray[np.int64], window_peak: npt.NDArray[np.float64],
                       window_peak_ts: npt.NDArray[np.int64], window_feature: npt.NDArray[np.int8],
                       now_ns: npt.NDArray[np.int64] | int) -> dict[str, npt.NDArray[np.float64]]:
        """The anomaly score, band and explanation columns of ``rows`` of ``det`` (the peaks given per row)."""
        default = np.maximum(self._decay(peak, peak_ts, now_ns), det.level_score_[rows])
        window = self._decay(window_peak, window_peak_ts, now_ns)
        by_window = window > default
        out: dict[str, npt.NDArray[np.float64]] = {"anomaly_score": np.maximum(default, window)}
        lower, mid, upper = det.band(rows)
        out.update(expected_lower=lower, expected_mid=mid, expected_upper=upper)
        out["explain_detector"] = np.where(by_window, WINDOW_DETECTOR, detector_code(det.driver_[rows])).astype(
            np.float64)
        out["explain_feature"] = np.where(by_window, WINDOW_FEATURE_OFFSET + window_feature.astype(np.int64),
                                          feature_code(det, rows)).astype(np.float64)
        return out

    def capture(self, series: npt.NDArray[np.int64], now_ns: int) -> ScoreCapture | None:
        """What :meth:`columns` reads for ``series`` at ``now_ns``, copied (no computing), for
        :meth:`render_captures`; None while forecasts are in use (their columns are made by :meth:`columns`)."""
        return self.capture_rows(series // self.n_shards, now_ns)

    def capture_rows(self, rows: npt.NDArray[np.int64], now_ns: int) -> ScoreCapture | None:
        """:meth:`capture` of the local ``rows``."""
        self._predict_pending()
        if self._horizons:
            return None
        det = self.detector
        return ScoreCapture(now_ns, det.f_[rows], det.i_[rows], self.peak[rows], self.peak_ts[rows],
                            self.window_peak[rows], self.window_peak_ts[rows], self.window_feature[rows])

    def render_captures(self, captures: list[ScoreCapture]) -> list[dict[str, npt.NDArray[np.float64]]]:
        """The :meth:`columns` of each capture as they were when it was captured, computed in one pass over all
        their rows (every column is computed row by row, with each row's own time)."""
        if not captures:
            return []
        sizes = [len(c.peak) for c in captures]
        det = copy.copy(self.detector)  # the same parameters over the captured rows' state
        det.f_ = np.concatenate([c.f for c in captures])
        det.i_ = np.concatenate([c.i for c in captures])
        now = np.repeat(np.array([c.now_ns for c in captures], dtype=np.int64), sizes)
        out = self._score_columns(
            det, np.arange(len(now), dtype=np.int64), peak=np.concatenate([c.peak for c in captures]),
            peak_ts=np.concatenate([c.peak_ts for c in captures]),
            window_peak=np.concatenate([c.window_peak for c in captures]),
            window_peak_ts=np.concatenate([c.window_peak_ts for c in captures]),
            window_feature=np.concatenate([c.window_feature for c in captures]), now_ns=now)
        ends = np.cumsum(sizes).tolist()
        return [{name: column[end - size:end] for name, column in out.items()}
                for size, end in zip(sizes, ends, strict=True)]


@dataclass(frozen=True, eq=False)
class ScoreCapture:
    """A scorer's rows as :meth:`ShardScorer.columns` reads them at ``now_ns`` (copies)."""

    now_ns: int
    f: npt.NDArray[np.float64]
    i: npt.NDArray[np.int64]
    peak: npt.NDArray[np.float64]
    peak_ts: npt.NDArray[np.int64]
    window_peak: npt.NDArray[np.float64]
    window_peak_ts: npt.NDArray[np.int64]
    window_feature: npt.NDArray[np.int8]
