"""The city's window model: :class:`~vitals.detectors.WindowFeatureModel` on residual windows, per indicator.

What a window is, the same offline (training on a :class:`~vitals.forecasting.grid.SeriesGrid`) and in the flow
(:class:`~vitals.scoring.window_state.WindowAccumulator`):

1. cells: the last value of a series in each ``step_s`` cell of event time (the grid of the training set);
2. a cell counts only if its value differs from the previous counted cell of the series (a grid carries silent
   series forward; in the stream a repeated value is no news either, so both sides see the same sequence);
3. residual of a counted cell: ``(value - expected) / noise`` in catalog noise units, ``expected`` the catalog's
   seasonal value (:class:`~vitals.catalog.SeasonalModel`) at the cell's end;
4. windows of ``window_s // step_s`` cells; a window with at least ``min_count`` counted cells is scored.

The fitted :class:`WindowFeatureModel` standardizes per *indicator* (its "series" are indicator codes: robust
centre and scale of the residuals of all streets of an indicator), so one model serves a catalog of any number
of streets (the shipped default is trained on 76 streets and scores the full 1,031-street city). Its families
are the catalog domains (one IsolationForest each).

Scores: the calibrated window score ``p`` (share of training windows less abnormal) becomes a surprise
``-log10(1 - p)`` squashed like the default detector's rank surprise: ``s / (s + surprise_half)``; the default
``surprise_half`` puts the export threshold (:data:`vitals.metric_names.ANOMALY_THRESHOLD`) at a surprise of 4
(one training window of the family in 10,000 scores higher). The
explanation is the standardized feature furthest (in training spread) from its family's typical value.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.catalog import Catalog, SeasonalModel
from vitals.detectors.calibration import squash
from vitals.detectors.window_forest import FEATURES, WindowFeatureModel, family_scores, window_features
from vitals.errors import ModelError, NotFittedError
from vitals.forecasting.features import expected_grid
from vitals.forecasting.grid import SeriesGrid
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.params import Parameters
from vitals.units import NS_PER_S

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ALARM_SURPRISE = 4.0  # a window this surprising (one training window in 10,000) scores the export threshold
SURPRISE_HALF = ALARM_SURPRISE * (1.0 - ANOMALY_THRESHOLD) / ANOMALY_THRESHOLD
TAIL_POINTS = 64  # quantiles of the training scores per family, evenly spaced in surprise
MAX_WINDOWS = 2_000_000  # window keys become event times of key * cells per window seconds: inside int64 ns


def cell_residuals(seasonal: SeasonalModel, indicator: npt.NDArray[np.integer], cell_end_ns: IntArray,
                   value: FloatArray) -> FloatArray:
    """Residuals of cell values against the catalog's seasonal expectation, in catalog noise units."""
    ind = np.asarray(indicator, dtype=np.int64)
    return (value - seasonal.expected(ind, cell_end_ns)) / seasonal.noise[ind]


def few_cell_residuals(seasonal: SeasonalModel, indicator: npt.NDArray[np.integer], cell_end_ns: IntArray,
                       value: FloatArray, ends: tuple[IntArray, IntArray] | None = None) -> FloatArray:
    """:func:`cell_residuals` of cells that end at a few distinct times (a stream's batch: thousands of cells of a
    few grid steps): the expected values computed once per (indicator, distinct end) and gathered, elementwise the
    same values (:func:`vitals.forecasting.features.expected_grid`); ``ends``: the distinct ends and the index of
    each cell's end among them, when the caller knows them (else ``np.unique`` finds them)."""
    ind = np.asarray(indicator, dtype=np.int64)
    distinct, at = ends if ends is not None else np.unique(np.asarray(cell_end_ns, dtype=np.int64),
                                                           return_inverse=True)
    if distinct.size * seasonal.base.shape[0] >= ind.size:  # as many (indicator, end) pairs as cells: no sharing
        return cell_residuals(seasonal, ind, cell_end_ns, value)
    return (value - expected_columns(seasonal, distinct)[ind, at.ravel()]) / seasonal.noise[ind]


# recent expected values per seasonal model: end time (ns) -> (indicators,) (the grid steps a stream's batches share)
_COLUMNS: weakref.WeakKeyDictionary[SeasonalModel, dict[int, FloatArray]] = weakref.WeakKeyDictionary()
_MAX_COLUMNS = 256


def expected_columns(seasonal: SeasonalModel, ends_ns: IntArray) -> FloatArray:
    """(indicators, len(ends_ns)) seasonal expected value of every indicator at each end: each column computed
    once per seasonal model while it is recent (:func:`vitals.forecasting.features.expected_grid`, elementwise the
    values of ``seasonal.expected``)."""
    columns = _COLUMNS.setdefault(seasonal, {})
    wanted = [int(e) for e in ends_ns]
    missing = list(dict.fromkeys(e for e in wanted if e not in columns))
    if missing and len(columns) + len(missing) > _MAX_COLUMNS:  # start afresh (a stream's ends move on)
        columns.clear()
        missing = list(dict.fromkeys(wanted))
    if missing:
        table = expected_grid(seasonal, np.arange(seasonal.base.shape[0]), np.asarray(missing, dtype=np.int64))
        columns.update(zip(missing, table.T.copy(), strict=True))
    return np.stack([columns[e] for e in wanted], axis=1)


def counted_cells(values: npt.NDArray[np.floating]) -> npt.NDArray[np.bool_]:
    """(N, T) mask of grid cells that count: finite and different from the previous finite cell of the row."""
    finite = np.isfinite(values)
    keep = finite.copy()
    # forward-filled previous value (NaN cells never count and never become "previous")
    idx = np.where(finite, np.arange(values.shape[1]), -1)
    np.maximum.accumulate(idx, axis=1, out=idx)
    prev_idx = np.full_like(idx, -1)
    prev_idx[:, 1:] = idx[:, :-1]
    has_prev = prev_idx >= 0
    prev = np.take_along_axis(values, np.maximum(prev_idx, 0), axis=1)
    keep[has_prev] &= values[has_prev] != prev[has_prev]
    return keep


class CityWindowModel(Parameters):
    """Window model of the city (see module doc): fit on a training grid, score closed windows."""

    def __init__(self, *, window_s: int = 3600, min_count: int = 3, n_estimators: int = 50,
                 max_samples: int | str = 256, max_windows: int = 200_000, surprise_half: float = SURPRISE_HALF,
                 random_state: int = 0) -> None:
        self.window_s = window_s
        self.min_count = min_count
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_windows = max_windows
        self.surprise_half = surprise_half
        self.random_state = random_state

    # ---- training -------------------------------------------------------------------------------------------
    def fit(self, grid: SeriesGrid, catalog: Catalog, exclude: npt.NDArray[np.bool_] | None = None) -> CityWindowModel:
        """Fit on a training grid; ``exclude`` (N, T) marks cells to leave out (e.g. labelled incidents)."""
        if not 0 < self.max_windows <= MAX_WINDOWS:
            msg = f"max_windows must be in 1..{MAX_WINDOWS:,}, got {self.max_windows}"
            raise ModelError(msg)
        cells = grid_cells(grid, catalog, self.window_s, self.min_count, exclude, max_windows=self.max_windows,
                           seed=self.random_state)
        if cells.indicator.size == 0:
            msg = f"no window with {self.min_count}+ distinct cell values of {grid.step_s} s in the training data"
            raise ModelError(msg)
        self.step_s_ = int(grid.step_s)
        self.cells_per_window_ = cells_per_window(self.window_s, grid.step_s)
        self.indicators_ = tuple(i.id for i in catalog.indicators)
        domains = sorted({i.domain for i in catalog.indicators})
        self.families_ = tuple(domains)
        family = np.array([domains.index(i.domain) for i in catalog.indicators], dtype=np.int64)
        # the WindowFeatureModel sees indicators as its series, one window per (series, window) key, on a clock of
        # one second per cell (a window of cells_per_window_ "seconds"): keys stay far inside int64 nanoseconds
        # whatever the window's length (a 12-day window of a daily grid times 200,000 keys would not)
        cpw = self.cells_per_window_
        ts = (cells.key * cpw + cells.position) * NS_PER_S
        self.model_ = WindowFeatureModel(window_s=cpw, n_estimators=self.n_estimators,
                                         max_samples=self.max_samples, random_state=self.random_state,
                                         min_count=self.min_count)
        self.model_.fit(cells.indicator, ts, cells.residual, n_series=len(self.indicators_), families=family)
        ind_w, _, raw = window_features(cells.indicator, cells.key, cells.residual)
        x, raw_scores = self._raw_scores(ind_w, raw)
        self._fit_tails(x, raw_scores, family[ind_w], len(domains))
        self.n_training_windows_ = int(raw.shape[0])
        return self

    # ---- scoring --------------------------------------------------------------------------------------------
    def check_catalog(self, catalog: Catalog) -> None:
        """Refuse a catalog whose indicators differ from the training catalog's (codes would not match)."""
        self._check_fitted()
        ids = tuple(i.id for i in catalog.indicators)
        if ids != self.indicators_:
            msg = (f"window model trained on indicators {self.indicators_[:3]}... ({len(self.indicators_)}), "
                   f"the catalog has {ids[:3]}... ({len(ids)}): retrain it with `vitals train`")
            raise ModelError(msg)

    def score(self, indicator: npt.NDArray[np.integer], raw: FloatArray) -> tuple[FloatArray, IntArray]:
        """(scores in [0, 1), strongest feature index into FEATURES) of closed windows with raw features."""
        self._check_fitted()
        ind = np.asarray(indicator, dtype=np.int64)
        if ind.size == 0:
            return np.empty(0), np.empty(0, np.int64)
        x, raw_scores = self._raw_scores(ind, raw)
        fam = self.model_.family_[ind]
        distance = np.abs(x - self.feature_median_[fam]) / self.feature_scale_[fam]
        return squash(self.surprise(raw_scores, fam), self.surprise_half), np.argmax(distance, axis=1).astype(np.int64)

    def surprise(self, raw_scores: FloatArray, family: IntArray) -> FloatArray:
        """``-log10`` of the share of training windows of the family scoring at least as high (linear in the raw
        score beyond the training maximum, with the slope of the last quantile step)."""
        out = np.zeros(raw_scores.shape[0])
        for f in np.unique(family):
            sel = family == f
            q, s = self.tail_raw_[f], self.tail_surprise_[f]
            slope = (s[-1] - s[-2]) / max(q[-1] - q[-2], 1e-3)
            inside = np.interp(raw_scores[sel], q, s)
            out[sel] = np.where(raw_scores[sel] > q[-1], s[-1] + slope * (raw_scores[sel] - q[-1]), inside)
        return out

    def _raw_scores(self, ind: IntArray, raw: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(standardized features, IsolationForest anomaly scores: higher = more abnormal) per window."""
        m = self.model_
        centre, scale = m.centre_[ind][:, None], m.scale_[ind][:, None]
        x = raw.copy()
        x[:, [0, 2, 3]] = (raw[:, [0, 2, 3]] - centre) / scale  # mean, min, max: location and scale
        x[:, [1, 4, 5]] = raw[:, [1, 4, 5]] / scale               # std, range, change: scale only
        return x, family_scores(m, m.models_, m.family_[ind], x)

    def _fit_tails(self, x: FloatArray, raw_scores: FloatArray, family: IntArray, n_fam: int) -> None:
        """Per family: typical feature values (for explanations) and the upper tail of the training scores."""
        self.tail_surprise_ = np.tile(np.linspace(0.0, np.log10(max(raw_scores.shape[0], 10)), TAIL_POINTS), (n_fam, 1))
        self.tail_raw_ = np.tile(np.quantile(raw_scores, 1.0 - 10.0 ** -self.tail_surprise_[0]), (n_fam, 1))
        self.feature_median_ = np.zeros((n_fam, len(FEATURES)))
        self.feature_scale_ = np.ones((n_fam, len(FEATURES)))
        for f in np.unique(family):
            sel = family == f
            self.tail_surprise_[f] = np.linspace(0.0, np.log10(max(int(sel.sum()), 10)), TAIL_POINTS)
            self.tail_raw_[f] = np.quantile(raw_scores[sel], 1.0 - 10.0 ** -self.tail_surprise_[f])
            med = np.median(x[sel], axis=0)
            self.feature_median_[f] = med
            self.feature_scale_[f] = np.maximum(np.median(np.abs(x[sel] - med), axis=0) * 1.4826, 1e-6)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            msg = "CityWindowModel is not fitted: call fit(grid, catalog) first"
            raise NotFittedError(msg)


def cells_per_window(window_s: int, step_s: int) -> int:
    if step_s <= 0 or window_s < step_s:
        msg = f"the window ({window_s} s) must hold at least one cell of {step_s} s"
        raise ModelError(msg)
    return window_s // step_s


@dataclass
class GridCells:
    """Counted cells of a grid (per series in time order): indicator code, window key (dense after
    :func:`grid_cells`), position in the window, residual, window start, global series id."""

    indicator: IntArray
    key: IntArray
    position: IntArray
    residual: FloatArray
    window_start_ns: IntArray
    series: IntArray

    def select(self, mask: npt.NDArray[np.bool_]) -> GridCells:
        return GridCells(*(a[mask] for a in self.arrays()))

    def arrays(self) -> tuple[Any, ...]:
        return self.indicator, self.key, self.position, self.residual, self.window_start_ns, self.series



CELLS_BLOCK = 1 << 22  # grid cells per block of series in grid_cells (its temporaries: ~100 bytes a counted cell)


def grid_cells(grid: SeriesGrid, catalog: Catalog, window_s: int, min_count: int,
               exclude: npt.NDArray[np.bool_] | None = None, *, max_windows: int | None = None,
               seed: int = 0) -> GridCells:
    """The counted cells of a grid in windows with at least ``min_count`` of them (keys dense, time order); with
    ``max_windows``, of that many windows drawn at random (``seed``) when there are more. Computed in blocks of
    series, so the temporaries are a block's and, with ``max_windows``, so is the result until the draw (a month
    of the full city's grid has ~120 M counted cells: ~12 GB of temporaries at once)."""
    cpw = cells_per_window(window_s, grid.step_s)
    seasonal = SeasonalModel(catalog)
    rows_per_block = max(1, CELLS_BLOCK // max(grid.n_steps, 1))
    blocks = [(r, min(r + rows_per_block, grid.n_series)) for r in range(0, grid.n_series, rows_per_block)]

    def block(lo: int, hi: int) -> GridCells:
        return _block_cells(grid, (lo, hi), cpw, min_count, exclude=None if exclude is None else exclude[lo:hi],
                            seasonal=seasonal)

    if max_windows is None:
        return _joined([block(lo, hi) for lo, hi in blocks])
    counts = [_n_windows(block(lo, hi)) for lo, hi in blocks]  # first pass: how many windows each block has
    total = sum(counts)
    if total <= max_windows:
        return _joined([block(lo, hi) for lo, hi in blocks])
    chosen = np.zeros(total, dtype=bool)
    chosen[np.random.default_rng(seed).choice(total, max_windows, replace=False)] = True
    parts, offset = [], 0
    for (lo, hi), n in zip(blocks, counts, strict=True):
        if chosen[offset:offset + n].any():
            cells = block(lo, hi)
            parts.append(cells.select(chosen[offset:offset + n][cells.key]))
        offset += n
    out = _joined(parts)
    _, out.key = np.unique(out.key, return_inverse=True)
    return out


def _n_windows(cells: GridCells) -> int:
    return int(cells.key.max()) + 1 if cells.key.size else 0


def _joined(parts: list[GridCells]) -> GridCells:
    """Blocks of cells as one, each block's dense keys after the previous blocks' (series order is kept)."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return GridCells(empty, empty, empty, np.empty(0), empty, empty)
    out = GridCells(*(np.concatenate(column) for column in zip(*(p.arrays() for p in parts), strict=True)))
    offsets = np.cumsum([0] + [_n_windows(p) for p in parts[:-1]])
    out.key += np.repeat(offsets, [p.key.size for p in parts])
    return out


def _block_cells(grid: SeriesGrid, block: tuple[int, int], cpw: int, min_count: int, *,
                 exclude: npt.NDArray[np.bool_] | None, seasonal: SeasonalModel) -> GridCells:
    """:func:`grid_cells` of the grid's series ``block`` (first, stop; keys dense within the block)."""
    lo, hi = block
    step_ns = grid.step_s * NS_PER_S
    keep = counted_cells(grid.values[lo:hi])
    first_cell = grid.start_ns // step_ns
    cell = first_cell + np.arange(grid.n_steps, dtype=np.int64)
    rows, cols = np.nonzero(keep)  # row-major: per series in time order
    del keep
    if exclude is not None:
        ok = ~exclude[rows, cols]
        rows, cols = rows[ok], cols[ok]
    c = cell[cols]
    window = c // cpw
    series_key = rows.astype(np.int64) * (int(window.max() - window.min()) + 1 if window.size else 1)
    _, key, counts = np.unique(series_key + (window - (window.min() if window.size else 0)),
                               return_inverse=True, return_counts=True)
    del series_key
    full = counts[key] >= min_count
    rows += lo
    ind = grid.indicator.astype(np.int64)[rows]
    values = grid.values[rows, cols].astype(np.float64)
    residual = cell_residuals(seasonal, ind, (c + 1) * step_ns, values)
    out = GridCells(ind, key, c - window * cpw, residual, window * cpw * step_ns, grid.series[rows])
    out = out.select(full)
    _, out.key = np.unique(out.key, return_inverse=True)
    return out
