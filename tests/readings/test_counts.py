"""RejectionCounts: counts by reason, merge, pickle."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vitals.batches import REJECT_REASONS, Rejection
from vitals.errors import ReadingError
from vitals.readings import RejectionCounts


@given(st.lists(st.sampled_from(REJECT_REASONS), max_size=50), st.integers(0, 50))
def test_counts_merge_and_pickle(reasons: list[str], cut: int) -> None:
    rejections = [Rejection(reason, "raw") for reason in reasons]
    whole = RejectionCounts().add(rejections)
    left, right = RejectionCounts().add(rejections[:cut]), RejectionCounts().add(rejections[cut:])
    assert left.merge(right) == whole
    assert pickle.loads(pickle.dumps(whole)) == whole
    assert whole.as_dict() == {reason: reasons.count(reason) for reason in REJECT_REASONS}
    assert whole.total == len(reasons)


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ReadingError, match="unknown rejection reason"):
        RejectionCounts().add([Rejection("cosmic_ray", "raw")])
