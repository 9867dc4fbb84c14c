"""The two ways ``apply_updates`` applies a batch's level updates (per-rank array steps, or one loop when the
ranks hold few rows: a sparse feed replayed fast) give the same levels and quiet counts."""

from __future__ import annotations

import numpy as np
import pytest

from vitals.health import hysteresis
from vitals.health.hysteresis import apply_updates


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_loop_and_the_rank_steps_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    n_rows, n = 6, 3_000
    rows = rng.integers(0, n_rows, n).astype(np.int64)
    occurrence = np.zeros(n, dtype=np.int64)
    seen: dict[int, int] = {}
    for i, r in enumerate(rows.tolist()):  # each update's rank among its row's updates
        occurrence[i] = seen.get(r, 0)
        seen[r] = occurrence[i] + 1
    raw = rng.choice(np.arange(5, dtype=np.int8), n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    lowered = np.maximum(raw, rng.integers(0, 5, n).astype(np.int8) * (rng.random(n) < 0.3)).astype(np.int8)
    results = []
    for rows_per_rank in (0, 10**9):  # 0: always the rank steps; huge: always the loop
        monkeypatch.setattr(hysteresis, "SEQUENTIAL_ROWS_PER_RANK", rows_per_rank)
        level = np.zeros(n_rows, dtype=np.int8)
        quiet = np.zeros(n_rows, dtype=np.int16)
        apply_updates(level, quiet, rows, occurrence=occurrence, raw=raw, lowered=lowered, intervals=3)
        results.append((level.copy(), quiet.copy()))
    (level_steps, quiet_steps), (level_loop, quiet_loop) = results
    np.testing.assert_array_equal(level_loop, level_steps)
    np.testing.assert_array_equal(quiet_loop, quiet_steps)
    assert level_steps.any()  # the updates moved levels (the comparison is not between two no-ops)
