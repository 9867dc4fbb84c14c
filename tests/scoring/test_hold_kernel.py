"""The held peak scores (``ShardScorer._hold_into``) pick per row its batch's highest score with a compiled pass
(:func:`vitals.scoring.hold_kernel.peak_picks`): the same positions as the former two-key sort (``np.lexsort``, the
oracle here), ties, NaN and signed zeros included."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.scoring.hold_kernel import peak_picks
from vitals.scoring.shard_scorer import ShardScorer


def lexsort_picks(rows: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """The former pick of ``_hold_into``: per row, the last position after sorting by row, then score."""
    order = np.lexsort((scores, rows))  # per row, the highest score last
    last = np.ones(len(order), dtype=bool)
    last[:-1] = rows[order][1:] != rows[order][:-1]
    return order[last]


SCORES = st.sampled_from([0.0, -0.0, 0.25, 0.25, 0.5, 0.9, 1.0, np.nan]) | st.floats(0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.data())
def test_picks_as_the_sort_did(n_rows: int, data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 60))
    rows = np.array(data.draw(st.lists(st.integers(0, n_rows - 1), min_size=n, max_size=n)), dtype=np.int64)
    scores = np.array(data.draw(st.lists(SCORES, min_size=n, max_size=n)), dtype=np.float64)
    assert peak_picks(rows, scores, n_rows).tolist() == lexsort_picks(rows, scores).tolist()


def test_held_peaks_rise_and_decay() -> None:
    scorer = ShardScorer.__new__(ShardScorer)  # _hold_into needs the half-life only
    scorer.hold_half_life_ns = 600 * 10**9
    peak, peak_ts = np.array([0.8, 0.0, 0.5]), np.zeros(3, dtype=np.int64)
    rows, scores = np.array([0, 1, 1, 2, 0]), np.array([0.5, 0.2, 0.3, 0.5, 0.3])
    ts = np.array([600, 600, 700, 600, 650]) * 10**9  # row 0: 0.8 decayed to 0.4 at 600 s, 0.5 beats it
    raised = scorer._hold_into(peak, peak_ts, rows, ts, scores)
    assert raised.tolist() == [0, 2, 3] and peak.tolist() == [0.5, 0.3, 0.5]
    assert peak_ts.tolist() == [600 * 10**9, 700 * 10**9, 600 * 10**9]
    with pytest.raises(IndexError):
        scorer._hold_into(peak, peak_ts, np.array([0, 3]), np.zeros(2, dtype=np.int64), np.ones(2))
