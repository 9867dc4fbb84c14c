"""A fitted IsolationForest as plain node arrays, scored by numpy with scikit-learn's arithmetic (same values).

:func:`vitals.detectors.window_forest.forest_scores` scores a forest tree by tree with ``Tree.apply`` and adds per
tree the path length of each sample's leaf. The same forest as arrays (every tree's nodes concatenated: children,
split feature, threshold, where a NaN goes, and the path length a sample ending at the node adds) walks all
(sample, tree) pairs a level at a time and adds the trees' path lengths in tree order, so the scores are
bit-identical to ``forest_scores`` of the scikit-learn forest (``tests/registry/test_arrays.py``), and scoring
needs no scikit-learn import. Built from a fitted forest by
:func:`vitals.detectors.window_forest.forest_arrays`; saved and loaded by :mod:`vitals.registry.arrays`, which
calls :meth:`ForestArrays.check` on what it reads.
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
        x32 = np.ascontiguousarray(x, dtype=np.float32)  # scikit-learn's trees compare float32 inputs
        node = np.broadcast_to(self.roots, (x32.shape[0], self.roots.size)).copy()
        row = np.arange(x32.shape[0])[:, None]
        inner = self.left[node] >= 0
        while inner.any():
            value = x32[row, self.feature[node]]
            go_left = np.where(np.isnan(value), self.nan_left[node], value <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
            inner = self.left[node] >= 0
        # the trees' path lengths added in tree order from 0, as forest_scores does (cumsum adds in order)
        depths = np.cumsum(self.added[node], axis=1)[:, -1] if node.shape[1] else np.zeros(x32.shape[0])
        d = self.denominator
        scores = 2 ** (-np.divide(depths, d, out=np.ones_like(depths), where=d != 0))
        return np.asarray(scores, dtype=np.float64)
