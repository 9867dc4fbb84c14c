"""A fitted IsolationForest as plain node arrays, scored by a compiled walk with scikit-learn's arithmetic (same
values).

:func:`vitals.detectors.window_forest.forest_scores` scores a forest tree by tree with ``Tree.apply`` and adds per
tree the path length of each sample's leaf. The same forest as arrays (every tree's nodes concatenated: children,
split feature, threshold, where a NaN goes, and the path length a sample ending at the node adds) is walked by
:func:`vitals.detectors.forest_kernel.forest_depths` (through :func:`walk`, on its :class:`WalkForm`), which adds
the trees' path lengths in tree order, so the scores are bit-identical to ``forest_scores`` of the scikit-learn
forest (``tests/registry/test_arrays.py``), and scoring needs no scikit-learn import. Built from a fitted forest by
:func:`vitals.detectors.window_forest.forest_arrays`; saved and loaded by :mod:`vitals.registry.arrays`, which
calls :meth:`ForestArrays.check` on what it reads (the file holds the node arrays only; the walk form is derived).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vitals.errors import ModelError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class ForestArrays:
    """Nodes of all trees (tree ``k`` starts at ``roots[k]``; a leaf has ``left == right == -1``)."""

    left: IntArray
    right: IntArray
    feature: IntArray          # column of x (a tree's feature subset already mapped to x's columns); 0 at leaves
    threshold: FloatArray      # go left when x <= threshold
    nan_left: npt.NDArray[np.bool_]  # where a NaN goes
    added: FloatArray          # path length a sample ending here adds (decision path + average path - 1)
    roots: IntArray
    denominator: FloatArray    # (1,): trees x the average path length of max_samples
    n_features: int

    def check(self) -> ForestArrays:
        """Raise :class:`ModelError` unless the arrays form trees a walk always leaves (children after their
        parent, inside the arrays; features inside x): what a load verifies before scoring anything."""
        n = self.left.shape[0]
        shapes = {a.shape for a in (self.left, self.right, self.feature, self.threshold, self.nan_left, self.added)}
        nodes = np.arange(n)
        inner = self.left >= 0
        ints = all(a.dtype == np.int64 for a in (self.left, self.right, self.feature, self.roots))
        floats = all(a.dtype == np.float64 for a in (self.threshold, self.added, self.denominator))
        ok = (ints and floats and self.nan_left.dtype == np.bool_ and shapes == {(n,)} and self.roots.ndim == 1
              and self.roots.size > 0 and self.denominator.shape == (1,)
              and bool(np.all((self.left == -1) == (self.right == -1)))
              and bool(np.all(self.left[inner] > nodes[inner])) and bool(np.all(self.right[inner] > nodes[inner]))
              and bool(np.all(self.left < n)) and bool(np.all(self.right < n))
              and bool(np.all((self.roots >= 0) & (self.roots < n)))
              and bool(np.all((self.feature >= 0) & (self.feature < self.n_features))))
        if not ok:
            msg = "malformed forest arrays (node links, features or shapes)"
            raise ModelError(msg)
        return self

    def scores(self, x: FloatArray) -> FloatArray:
        """``-score_samples(x)`` of the forest (higher = more abnormal)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            msg = f"the forest scores {self.n_features} features, got an array of shape {x.shape}"
            raise ModelError(msg)
        n = x.shape[0]
        blocks = np.array([[0, self.roots.size]], dtype=np.int64)
        depths = walk(self.walk_form(), x, np.arange(n, dtype=np.int64), np.array([0, n], dtype=np.int64), blocks)
        return path_scores(depths, self.denominator)

    def walk_form(self) -> WalkForm:
        """The arrays the compiled walk reads (:class:`WalkForm`)."""
        from vitals.detectors.forest_kernel import tree_levels

        n = self.left.shape[0]
        if n >= 2**31:
            msg = f"a forest of {n:,} nodes is too large to score"
            raise ModelError(msg)
        nodes = np.arange(n, dtype=np.int64)
        leaf = self.left < 0
        child = np.empty(2 * n, dtype=np.uint32)
        child[0::2] = np.where(leaf, nodes, self.left)
        child[1::2] = np.where(leaf, nodes, self.right)
        return WalkForm(roots=self.roots, levels=tree_levels(self.roots, self.left, self.right), child=child,
                        feature=self.feature.astype(np.uint32), threshold=self.threshold, nan_right=~self.nan_left,
                        added=self.added, n_features=self.n_features)


@dataclass(frozen=True)
class WalkForm:
    """A forest as the compiled walk reads it (:func:`vitals.detectors.forest_kernel.forest_depths`): per tree its
    root and depth; per node both children (``child[2 i]`` left, ``child[2 i + 1]`` right; a leaf links to
    itself), the split column, the threshold, whether a NaN goes right and the path length added at a leaf."""

    roots: IntArray
    levels: IntArray
    child: npt.NDArray[np.uint32]
    feature: npt.NDArray[np.uint32]
    threshold: FloatArray
    nan_right: npt.NDArray[np.bool_]
    added: FloatArray
    n_features: int


def walk(form: WalkForm, x: FloatArray, order: IntArray, block_start: IntArray, block_trees: IntArray) -> FloatArray:
    """Per sample (row of ``x``), the trees' path lengths added in tree order: block ``b`` is the samples
    ``order[block_start[b]:block_start[b + 1]]`` walking the trees ``block_trees[b, 0]:block_trees[b, 1]``
    (:func:`vitals.detectors.forest_kernel.forest_depths`); samples in no block get 0."""
    from vitals.detectors.forest_kernel import forest_depths

    x32 = np.ascontiguousarray(x, dtype=np.float32)  # scikit-learn's trees compare float32 inputs
    if order.size != x32.shape[0] or np.any(order != np.arange(order.size)):
        x32 = np.ascontiguousarray(x32[order])  # each block's samples next to each other
    depths = np.zeros(x.shape[0])
    forest_depths(x32, order, block_start, block_trees, form.roots, form.levels, form.child, form.feature,
                  form.threshold, form.nan_right, form.added, depths)
    return depths


def path_scores(depths: FloatArray, denominator: FloatArray) -> FloatArray:
    """IsolationForest's scores ``2 ** -(depths / denominator)`` (1 where the denominator is 0), as scikit-learn
    computes them; ``denominator`` of shape (1,) or one per sample."""
    d = denominator
    scores = 2 ** (-np.divide(depths, d, out=np.ones_like(depths), where=d != 0))
    return np.asarray(scores, dtype=np.float64)
