"""IsolationForest on window features, one model per indicator family, scored at window close; and the one
window accumulator behind every window feature in city-vitals.

**Window statistics** (:data:`STATS`: count, sum, sum of squares, min, max, first, last) are combined by one
core, :func:`combine_runs`: consecutive elements of a run are folded in order (sums added one element after the
other, the same arithmetic as adding one value at a time), so the result does not depend on how a stream was
cut into batches. Offline, :func:`window_features` folds a whole history (stably sorted by window);
in a stream, :func:`fold_windows` folds a batch into per-row open windows (the open window's statistics go
first, as one element), and the callers close windows: :class:`WindowFeatureModel` when a later window starts,
:class:`vitals.scoring.window_state.WindowAccumulator` (residual cells of the city) when a reading lies in a later
window. :func:`raw_features` turns statistics into the features (:data:`FEATURES`).

**The model**: readings are folded into per-series tumbling event-time windows (``window_s``; window id =
``ts // window``). When a series' window closes, its features are standardized by the series' own training
centre and scale and every closed window of the batch is scored at once by the model of its family
(``IsolationForest.score_samples`` is *lower* = more abnormal, so it is negated), then calibrated to [0, 1]
against the training windows of that family (:class:`~vitals.detectors.calibration.QuantileCalibrator`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vitals.detectors.base import FloatArray, IntArray, _as_arrays
from vitals.detectors.calibration import QuantileCalibrator
from vitals.detectors.forest_arrays import ForestArrays, WalkForm, path_scores, walk
from vitals.errors import ModelError, NotFittedError
from vitals.params import Parameters
from vitals.units import NS_PER_S

if TYPE_CHECKING:  # scikit-learn is imported where a forest is fitted or given: the flow scores array forms
    from sklearn.ensemble import IsolationForest

FEATURES: tuple[str, ...] = ("mean", "std", "min", "max", "range", "change")


@dataclass(frozen=True)
class WindowScores:
    series: IntArray
    window_start_ns: IntArray
    features: FloatArray   # standardized features, one row per closed window
    scores: FloatArray     # calibrated, in [0, 1]


STATS: tuple[str, ...] = ("count", "sum", "sumsq", "min", "max", "first", "last")


def point_stats(values: npt.ArrayLike) -> FloatArray:
    """(len(STATS), n) statistics of single values (count 1)."""
    v = np.asarray(values, dtype=np.float64)
    return np.vstack([np.ones_like(v), v, v * v, v, v, v, v])


def combine_runs(start: npt.NDArray[np.bool_], stats: FloatArray) -> FloatArray:
    """Statistics of the runs of consecutive elements (``start`` marks each run's first element), folded in order:
    counts and sums added element after element (``np.bincount`` adds in input order), min, max, the first
    element's first and the last element's last."""
    starts = np.flatnonzero(start)
    k = starts.size
    out = np.empty((len(STATS), k))
    if not k:
        return out
    run = np.cumsum(start) - 1
    for i in range(3):
        out[i] = np.bincount(run, stats[i], k)
    out[3] = np.minimum.reduceat(stats[3], starts)
    out[4] = np.maximum.reduceat(stats[4], starts)
    out[5] = stats[5, starts]
    out[6] = stats[6, np.r_[starts[1:], start.size] - 1]
    return out


def raw_features(stats: FloatArray) -> FloatArray:
    """(k, len(FEATURES)) features of windows from their statistics (len(STATS), k)."""
    count, total, sumsq, lo, hi, first, last = stats
    mean = total / count
    std = np.sqrt(np.maximum(sumsq / count - mean * mean, 0.0))
    return np.column_stack([mean, std, lo, hi, hi - lo, last - first])


def window_features(series: IntArray, window: IntArray, values: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Raw features of every (series, window) group of a history, ordered by (series, window) (any order within
    groups is fine for all features but ``change``, which needs time order)."""
    series, window = np.asarray(series), np.asarray(window)
    key = series * (int(window.max()) + 1 if window.size else 1) + (window - (int(window.min()) if window.size else 0))
    order = np.argsort(key, kind="stable")  # groups together, time order kept within each
    key = key[order]
    start = np.ones(key.size, dtype=bool)
    start[1:] = key[1:] != key[:-1]
    first = order[start]
    return series[first], window[first], raw_features(combine_runs(start, point_stats(np.asarray(values)[order])))


@dataclass(frozen=True)
class Runs:
    """Runs of a batch folded into open windows, per row in order: row, window, statistics (len(STATS), k) and
    whether the run is the row's last (its window is the row's open window now)."""

    rows: IntArray
    windows: IntArray
    stats: FloatArray
    last: npt.NDArray[np.bool_]

    def next_window(self) -> IntArray:
        """The window of the run after each run of the same row (-1 for a row's last run)."""
        out = np.full(self.rows.size, -1, dtype=np.int64)
        out[:-1] = np.where(self.last[:-1], -1, self.windows[1:])
        return out


def fold_windows(open_window: IntArray, open_stats: FloatArray, rows: IntArray, windows: IntArray,
                 stats: FloatArray) -> Runs:
    """Fold a batch (elements in batch order per row: row, window, statistics) into the open windows
    (``open_window`` per row, -1 none; ``open_stats`` (len(STATS), n_rows)), updated in place.

    Per row, the open window's statistics come first (one element), then the row's elements in batch order;
    consecutive elements with the same window form a run (a change of window starts a new run, as a window
    change resets a streaming accumulator). Each row's last run becomes its open window. Returns every run;
    callers decide which ended runs count as closed windows."""
    rows = np.asarray(rows, dtype=np.int64)
    mark = np.zeros(open_window.shape[0], dtype=bool)
    mark[rows] = True
    touched = np.flatnonzero(mark)  # np.unique(rows), without sorting or hashing the batch
    carried = touched[open_window[touched] >= 0]
    r = np.concatenate([carried, rows])
    w = np.concatenate([open_window[carried], np.asarray(windows, dtype=np.int64)])
    st = np.concatenate([open_stats[:, carried], stats], axis=1)
    order = np.argsort(r, kind="stable")  # per row: the open window first, then the batch in order
    r, w, st = r[order], w[order], st[:, order]
    start = np.ones(r.size, dtype=bool)
    start[1:] = (r[1:] != r[:-1]) | (w[1:] != w[:-1])
    combined = combine_runs(start, st)
    run_rows, run_windows = r[start], w[start]
    last = np.ones(run_rows.size, dtype=bool)
    last[:-1] = run_rows[1:] != run_rows[:-1]
    open_window[run_rows[last]] = run_windows[last]
    open_stats[:, run_rows[last]] = combined[:, last]
    return Runs(run_rows, run_windows, combined, last)


_FOREST_PARTS: weakref.WeakKeyDictionary[IsolationForest, Any] = weakref.WeakKeyDictionary()


def _forest_parts(forest: IsolationForest) -> Any:
    """Per tree of a fitted forest: its tree structure, its feature subset (None: all) and, per node, the path
    length a sample ending there adds (``decision path length + average path length - 1``, as scikit-learn adds
    it); and the denominator of the score. None when the forest lacks the attributes this relies on."""
    parts = _FOREST_PARTS.get(forest)
    if parts is None or (parts and parts[3] is not getattr(forest, "estimators_", None)):  # new or refitted
        try:
            from sklearn.ensemble._iforest import _average_path_length

            trees = [(est.tree_, features, dpl + apl - 1.0) for est, features, dpl, apl in zip(
                forest.estimators_, forest.estimators_features_, forest._decision_path_lengths,
                forest._average_path_length_per_tree, strict=True)]
            denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
            parts = (trees, denominator, int(forest._max_features), forest.estimators_)
        except (AttributeError, ImportError, TypeError, ValueError):
            parts = False
        _FOREST_PARTS[forest] = parts
    return parts or None


def forest_scores(forest: IsolationForest | ForestArrays, x: FloatArray) -> FloatArray:
    """``-forest.score_samples(x)`` (higher = more abnormal) with scikit-learn's arithmetic (the same values) but
    without its per-call input validation and joblib dispatch per tree, which dominate at a few thousand windows
    per call; forests this does not know are scored by ``score_samples``. A forest's array form
    (:class:`~vitals.detectors.forest_arrays.ForestArrays`, no scikit-learn) gives the same values."""
    if isinstance(forest, ForestArrays):
        return forest.scores(x)
    parts = _forest_parts(forest)
    if parts is None or x.ndim != 2 or x.shape[0] == 0:
        return np.asarray(-forest.score_samples(x), dtype=np.float64)
    trees, denominator, max_features, _ = parts
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    subsample = max_features != x32.shape[1]
    depths = np.zeros(x32.shape[0])
    for tree, features, added in trees:
        leaves = tree.apply(np.ascontiguousarray(x32[:, features]) if subsample else x32)
        depths += added[leaves]
    scores = 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))
    return np.asarray(scores, dtype=np.float64)


def forest_arrays(forest: IsolationForest) -> ForestArrays | None:
    """The array form of a fitted forest (scored like it by :func:`forest_scores`, without scikit-learn); None when
    the forest lacks the attributes this relies on."""
    parts = _forest_parts(forest)
    if parts is None:
        return None
    trees, denominator, max_features, _ = parts
    n_features = int(forest.n_features_in_)
    offsets = np.cumsum([0] + [tree.node_count for tree, _, _ in trees])
    columns = [np.arange(n_features) if max_features == n_features else np.asarray(features, dtype=np.int64)
               for _, features, _ in trees]

    def joined(get: Any) -> Any:
        return np.concatenate([get(tree, k) for k, (tree, _, _) in enumerate(trees)])

    def child(side: str) -> Any:
        return joined(lambda tree, k: np.where(getattr(tree, side) < 0, -1, getattr(tree, side) + offsets[k]))

    return ForestArrays(
        left=child("children_left").astype(np.int64), right=child("children_right").astype(np.int64),
        feature=joined(lambda tree, k: columns[k][np.maximum(tree.feature, 0)]).astype(np.int64),
        threshold=joined(lambda tree, k: tree.threshold).astype(np.float64),
        nan_left=joined(lambda tree, k: np.asarray(getattr(tree, "missing_go_to_left", np.zeros(tree.node_count)),
                                                   dtype=bool)),
        added=np.concatenate([np.asarray(added, dtype=np.float64) for _, _, added in trees]),
        roots=np.asarray(offsets[:-1], dtype=np.int64),
        denominator=np.asarray(denominator, dtype=np.float64).reshape(1), n_features=n_features,
    ).check()


@dataclass(frozen=True)
class _Joined:
    """The forests of a model's families as one node array (:func:`family_scores`)."""

    form: WalkForm            # every family's trees, one after the other
    trees: IntArray           # (families, 2): the tree range of each family code ([0, 0]: none)
    denominator: FloatArray   # (families,) each forest's denominator (1.0: none)
    has: npt.NDArray[np.bool_]  # (families,) the family has a forest


# owner -> ((family, forest) pairs as joined, their joined form or None): a refitted or replaced forest rebuilds
_JOINED: weakref.WeakKeyDictionary[Any, tuple[tuple[tuple[int, Any], ...], _Joined | None]] = (
    weakref.WeakKeyDictionary())


def _joined(owner: Any, models: dict[int, Any]) -> _Joined | None:
    """The joined array form of ``models`` (family code -> forest), cached per owner; None when a forest has no
    array form."""
    items = tuple(sorted(models.items(), key=lambda item: item[0]))
    cached = _JOINED.get(owner)
    if cached is not None and len(cached[0]) == len(items) and all(
            f == g and a is b for (f, a), (g, b) in zip(cached[0], items, strict=True)):
        return cached[1]
    parts = [forest if isinstance(forest, ForestArrays) else forest_arrays(forest) for _, forest in items]
    joined = None
    if items and all(p is not None for p in parts) and len({p.n_features for p in parts if p is not None}) == 1:
        joined = _join([(f, p) for (f, _), p in zip(items, parts, strict=True) if p is not None])
    _JOINED[owner] = (items, joined)
    return joined


def _join(parts: list[tuple[int, ForestArrays]]) -> _Joined:
    n_codes = max(f for f, _ in parts) + 1
    node_offset = np.cumsum([0] + [p.left.size for _, p in parts])
    tree_offset = np.cumsum([0] + [p.roots.size for _, p in parts])
    trees = np.zeros((n_codes, 2), dtype=np.int64)
    denominator = np.ones(n_codes)
    has = np.zeros(n_codes, dtype=bool)
    for k, (f, p) in enumerate(parts):
        trees[f] = tree_offset[k], tree_offset[k + 1]
        denominator[f] = p.denominator[0]
        has[f] = True

    def joined(get: Any) -> Any:
        return np.concatenate([get(k, p) for k, (_, p) in enumerate(parts)])

    def link(side: str) -> IntArray:
        return joined(lambda k, p: np.where(getattr(p, side) < 0, -1, getattr(p, side) + node_offset[k])).astype(
            np.int64)

    nodes = ForestArrays(
        left=link("left"), right=link("right"), feature=joined(lambda k, p: p.feature),
        threshold=joined(lambda k, p: p.threshold), nan_left=joined(lambda k, p: p.nan_left),
        added=joined(lambda k, p: p.added), roots=joined(lambda k, p: p.roots + node_offset[k]).astype(np.int64),
        denominator=np.ones(1), n_features=parts[0][1].n_features)
    return _Joined(nodes.walk_form(), trees, denominator, has)


def family_scores(owner: Any, models: dict[int, Any], family: IntArray, x: FloatArray) -> FloatArray:
    """:func:`forest_scores` of each row of ``x`` by the forest of its family (``models``: family code -> forest;
    0 where the family has none), all families in one compiled walk (:func:`vitals.detectors.forest_arrays.walk`
    over the joined forests, cached per ``owner``): the same values as one :func:`forest_scores` call per
    family."""
    scores = np.zeros(family.shape[0])
    joined = _joined(owner, models) if family.size and x.ndim == 2 else None
    if joined is None or x.shape[1] != joined.form.n_features:
        for f in np.unique(family):
            forest = models.get(int(f))
            if forest is not None:
                scores[family == f] = forest_scores(forest, x[family == f])
        return scores
    n_codes = joined.trees.shape[0]
    code = np.where((family >= 0) & (family < n_codes), family, n_codes).astype(np.int64)  # n_codes: none
    order = np.argsort(code, kind="stable")
    block_start = np.zeros(n_codes + 2, dtype=np.int64)
    np.cumsum(np.bincount(code, minlength=n_codes + 1), out=block_start[1:])
    block_trees = np.concatenate([joined.trees, np.zeros((1, 2), dtype=np.int64)])
    depths = walk(joined.form, x, order, block_start, block_trees)
    has = np.append(joined.has, False)[code]
    scores[has] = path_scores(depths[has], np.append(joined.denominator, 1.0)[code][has])
    return scores


class WindowFeatureModel(Parameters):
    """Per-family IsolationForest over standardized window features (see module doc)."""

    def __init__(self, *, window_s: int = 3600, n_estimators: int = 100, max_samples: int | str = 256,
                 random_state: int = 0, min_count: int = 3) -> None:
        self.window_s = window_s
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.min_count = min_count

    def fit(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike, *, n_series: int,
            families: npt.ArrayLike | None = None) -> WindowFeatureModel:
        s, t, v = _as_arrays(series, ts_ns, values)
        if s.size == 0:
            msg = "WindowFeatureModel.fit needs training history (series, ts_ns, values)"
            raise ModelError(msg)
        fam = np.zeros(n_series, np.int64) if families is None else np.asarray(families, dtype=np.int64)
        self.family_ = fam
        self.centre_ = np.zeros(n_series)
        self.scale_ = np.ones(n_series)
        order = np.lexsort((t, s))
        s, t, v = s[order], t[order], v[order]
        seen = np.unique(s)
        bounds = np.searchsorted(s, seen), np.searchsorted(s, seen, side="right")
        medians = np.array([np.median(v[a:b]) for a, b in zip(*bounds, strict=True)])  # one per series
        mads = np.array([np.median(np.abs(v[a:b] - m)) for a, b, m in zip(*bounds, medians, strict=True)])
        self.centre_[seen], self.scale_[seen] = medians, np.maximum(mads * 1.4826, 1e-9 + 1e-3 * np.abs(medians))
        ws, _, raw = window_features(s, t // (self.window_s * NS_PER_S), v)
        x = self._standardize(ws, raw)
        from sklearn.ensemble import IsolationForest

        self.models_: dict[int, IsolationForest | ForestArrays] = {}
        raw_scores = np.zeros(x.shape[0])
        for f in np.unique(fam[ws]):
            rows = fam[ws] == f
            model = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                    random_state=self.random_state).fit(x[rows])
            self.models_[int(f)] = model
            raw_scores[rows] = forest_scores(model, x[rows])
        self.calibrator_ = QuantileCalibrator().fit(raw_scores, fam[ws])
        self._allocate(n_series)
        return self

    def _allocate(self, n: int) -> None:
        self.window_ = np.full(n, -1, dtype=np.int64)
        self.acc_ = np.zeros((len(STATS), n))

    def _standardize(self, series: IntArray, raw: FloatArray) -> FloatArray:
        c, sc = self.centre_[series][:, None], self.scale_[series][:, None]
        x = raw.copy()
        x[:, [0, 2, 3]] = (raw[:, [0, 2, 3]] - c) / sc
        x[:, [1, 4, 5]] = raw[:, [1, 4, 5]] / sc
        return x

    def score_windows(self, series: IntArray, raw: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(standardized features, calibrated scores) of closed windows, all series at once per family."""
        if not hasattr(self, "models_"):
            msg = "WindowFeatureModel is not fitted: call fit(series, ts_ns, values, n_series=N) first"
            raise NotFittedError(msg)
        x = self._standardize(series, raw)
        fam = self.family_[series]
        return x, self.calibrator_.transform(family_scores(self, self.models_, fam, x), fam)

    def update(self, series: npt.ArrayLike, ts_ns: npt.ArrayLike, values: npt.ArrayLike) -> WindowScores:
        """Fold a batch into the open windows; score the windows it closes (a window closes when a reading of a
        later window arrives; one with fewer than ``min_count`` readings is dropped), ordered by (series, window)."""
        if not hasattr(self, "window_"):
            msg = "WindowFeatureModel is not fitted: call fit(...) first"
            raise NotFittedError(msg)
        s, t, v = _as_arrays(series, ts_ns, values)
        runs = fold_windows(self.window_, self.acc_, s, t // (self.window_s * NS_PER_S), point_stats(v))
        closed = (runs.next_window() > runs.windows) & (runs.stats[0] >= self.min_count)
        if not closed.any():
            empty = np.empty(0, np.int64)
            return WindowScores(empty, empty, np.empty((0, len(FEATURES))), np.empty(0))
        cs = runs.rows[closed]
        x, scores = self.score_windows(cs, raw_features(runs.stats[:, closed]))
        return WindowScores(cs, runs.windows[closed] * self.window_s * NS_PER_S, x, scores)
