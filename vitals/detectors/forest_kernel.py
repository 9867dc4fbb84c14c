"""The walk of IsolationForest trees (:class:`~vitals.detectors.forest_arrays.ForestArrays`, in its walk form
:class:`~vitals.detectors.forest_arrays.WalkForm`) as one compiled loop (numba): per sample, the path length of every
tree it walks, added in tree order.

Samples come in blocks (e.g. the closed windows of one indicator family), each block scored by its own range of
trees (that family's forest), so the forests of all families are scored in one call. Within a block the loop is
tree-major and level-major: every sample of the block takes one step down the tree, then the next step, for as many
steps as the tree is deep (a leaf links to itself, so a sample that reached its leaf stays there). The steps of
different samples do not depend on each other and have no branch to mispredict, and a tree's nodes stay in cache.
Each sample's total is still ``((0.0 + tree 0) + tree 1) + ...`` in tree order: bit for bit the sum of
:func:`vitals.detectors.window_forest.forest_scores` (``depths += added[leaves]`` tree after tree) and of
scikit-learn's ``score_samples``. The comparison is scikit-learn's: the float32 input against the float64 threshold
(both as float64), ``<=`` goes left; a NaN goes where the node's ``missing_go_to_left`` says.

Indices are unsigned (no negative-index wrap-around in the compiled loop: ~3x faster than signed).

Imported by :func:`vitals.detectors.forest_arrays.walk` when a forest is first scored (numba is then loaded, and
the kernels read from numba's cache in ``__pycache__`` after their first compilation).
"""

# ruff: noqa: PLR0917  (numba kernels take positional arrays)
from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt


@nb.njit(cache=True, nogil=True)
def tree_levels(roots: npt.NDArray[np.int64], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.int64]:
    """The depth of each tree (edges from its root to its deepest leaf); children come after their parent (what
    :meth:`ForestArrays.check` verifies), so one pass in node order from the root reaches every node of a tree."""
    n = left.shape[0]
    depth = np.full(n, -1, dtype=np.int64)
    levels = np.zeros(roots.shape[0], dtype=np.int64)
    for k in range(roots.shape[0]):
        root = roots[k]
        depth[root] = 0
        reach = root  # the highest node index reached so far
        deepest = 0
        for i in range(root, n):
            if i > reach:
                break
            d = depth[i]
            if d < 0:
                continue
            depth[i] = -1  # reset for the next tree (nodes may be shared by malformed arrays: depth is a bound)
            deepest = max(deepest, d)
            if left[i] >= 0:
                for c in (left[i], right[i]):
                    depth[c] = max(depth[c], d + 1)
                    reach = max(reach, c)
        levels[k] = deepest
    return levels


@nb.njit(cache=True, nogil=True)
def forest_depths(
    x: npt.NDArray[np.float32], order: npt.NDArray[np.int64], block_start: npt.NDArray[np.int64],
    block_trees: npt.NDArray[np.int64], roots: npt.NDArray[np.int64], levels: npt.NDArray[np.int64],
    child: npt.NDArray[np.uint32], feature: npt.NDArray[np.uint32], threshold: npt.NDArray[np.float64],
    nan_right: npt.NDArray[np.bool_], added: npt.NDArray[np.float64], depths: npt.NDArray[np.float64],
) -> None:
    """Block ``b`` is the rows ``block_start[b] <= j < block_start[b + 1]`` of ``x`` (samples ``order[j]``),
    walking the trees ``block_trees[b, 0] <= k < block_trees[b, 1]`` (tree ``k`` starts at node ``roots[k]`` and
    is ``levels[k]`` deep; node ``i`` goes to ``child[2 i]`` when ``x[j, feature[i]] <= threshold[i]``, else (or on
    a NaN with ``nan_right[i]``) to ``child[2 i + 1]``; a leaf links to itself). ``depths[order[j]]`` gets the
    ``added`` of the leaves the sample ends in, added in tree order from 0.0."""
    n_features = np.uint64(x.shape[1])
    xf = x.ravel()
    node = np.empty(x.shape[0], dtype=np.uint32)
    two = np.uint64(2)
    for b in range(block_start.shape[0] - 1):
        lo, hi = np.uint64(block_start[b]), np.uint64(block_start[b + 1])
        for j in range(lo, hi):
            depths[order[j]] = 0.0
        for k in range(block_trees[b, 0], block_trees[b, 1]):
            root = np.uint32(roots[k])
            for j in range(lo, hi):
                node[j] = root
            for _ in range(levels[k]):
                for j in range(lo, hi):
                    i = np.uint64(node[j])
                    v = xf[j * n_features + np.uint64(feature[i])]
                    go_right = (v > threshold[i]) | (math.isnan(v) & nan_right[i])
                    node[j] = child[two * i + np.uint64(go_right)]
            for j in range(lo, hi):
                depths[order[j]] += added[node[j]]
