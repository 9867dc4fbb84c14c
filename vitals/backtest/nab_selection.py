"""How the default detector's settings were chosen, reproducibly: a small grid, scored by cross-validation.

Each candidate of :data:`SELECTION_GRID` (mechanism settings with a reason, see ``docs/detectors.md``) runs
over the NAB development files; :func:`select` then reports

* ``nested``: the honest figure of the *procedure* "pick the candidate and threshold that score best on four
  categories, apply them to the fifth" (:func:`vitals.backtest.nab_cv.loco_cv` over all candidates);
* ``ranking``: each candidate's own leave-one-category-out figures. The shipped default is the candidate with
  the best pooled CV score; its own CV figure is optimistic by the selection, which the nested figure is not.

``DefaultDetector``'s ``decision_point`` maps the chosen candidate's NAB threshold to the decision threshold
(0.40), so it is not part of the grid (the map is monotone: it changes no NAB score, only where the threshold
sits). Every candidate runs with the shipped ``decision_point``, because the rest after a detection starts at
the decision threshold: so it starts at the same raw score (0.2663) in every candidate.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from vitals.backtest.nab_cv import CrossValidation, loco_cv
from vitals.backtest.nab_run import NabFile, run_detector
from vitals.detectors.combined import DefaultDetector

SELECTION_GRID: dict[str, tuple[Any, ...]] = {
    "refractory": (1000, 1500),          # readings a seasonal detection suppresses repeats for
    "run_length": (10, 20),              # readings in the run (drift / new level) statistic
    "half": (10.0, 20.0),                # tail statistic at which the calibrated score is 0.5
    "seasonal_weight": (0.7, 1.0),       # seasonal score relative to the new-extreme score
    "record_half": (0.01, 0.05),         # excess beyond the past range (share of it) scoring 0.5
    "onset_margin": (0.0, 0.02, 0.05),   # how much a score must beat the recent peak to count again
}


def candidates() -> Iterator[dict[str, Any]]:
    for values in itertools.product(*SELECTION_GRID.values()):
        yield dict(zip(SELECTION_GRID, values, strict=True))


@dataclass(frozen=True)
class Selection:
    nested: dict[str, CrossValidation]               # profile -> CV over all candidates
    ranking: dict[str, list[tuple[str, CrossValidation]]]  # profile -> (candidate, its own CV), best first


def select(files: list[NabFile], profiles: tuple[str, ...] = ("standard", "reward_low_FP_rate"),
           progress: Callable[[int, int], None] | None = None) -> Selection:
    """Score every candidate on ``files`` and cross-validate the choice (see the module doc)."""
    windows = {f.name: f.windows for f in files}
    scores: dict[str, dict[str, Any]] = {}
    grid = list(candidates())
    for k, params in enumerate(grid):
        run_detector(files, DefaultDetector(**params))
        scores[json.dumps(params)] = {f.name: f.scores for f in files}
        if progress:
            progress(k + 1, len(grid))
    nested = {p: loco_cv(scores, windows, p) for p in profiles}
    ranking = {p: sorted(((name, loco_cv({name: s}, windows, p)) for name, s in scores.items()),
                         key=lambda pair: -pair[1].pooled) for p in profiles}
    return Selection(nested, ranking)
