"""Leave-one-category-out cross-validation of NAB scores: how a detector does on data it was not tuned on.

NAB's published figures let each detector pick its one threshold on the very files it is scored on (the
*fit*). Here each category is scored with the threshold (and, given several candidate configurations, the
configuration) chosen on the other categories only:

* ``per_category[c]``: the held-out category's normalized score (``None`` for a category without windows,
  where NAB's normalization is undefined; its false positives still count in the pooled figure);
* ``pooled``: one normalized score over all files, each file scored with its fold's choice (the figure to
  compare with the fit, since it weighs every window once, as NAB does);
* ``mean``: the mean of the defined per-category scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vitals.backtest.nab import PROFILES, FloatArray, ProfileResult, score_corpus
from vitals.errors import ConfigError

Windows = Sequence[tuple[int, int]]


def category_of(name: str) -> str:
    """``"<category>/<file>.csv"`` -> ``"<category>"``."""
    return name.split("/", 1)[0]


@dataclass(frozen=True)
class Fold:
    category: str
    config: str            # the candidate chosen on the other categories
    threshold: float       # its threshold, chosen on the other categories
    train_score: float     # normalized score on the other categories
    score: float | None    # normalized score of the held-out category (None: it has no windows)
    raw: float             # raw NAB score of the held-out category at that threshold


@dataclass(frozen=True)
class CrossValidation:
    profile: str
    folds: tuple[Fold, ...]
    pooled: float
    fit: ProfileResult     # the best candidate scored on all files with its own best threshold
    fit_config: str

    @property
    def mean(self) -> float:
        defined = [f.score for f in self.folds if f.score is not None]
        return float(np.mean(defined)) if defined else float("nan")

    def as_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile, "cv_pooled": round(self.pooled, 3), "cv_mean": round(self.mean, 3),
            "fit": round(self.fit.normalized, 3), "fit_threshold": round(self.fit.threshold, 6),
            "fit_config": self.fit_config,
            "folds": {f.category: {"score": None if f.score is None else round(f.score, 3), "config": f.config,
                                   "threshold": round(f.threshold, 6), "train": round(f.train_score, 3)}
                      for f in self.folds},
        }


def loco_cv(candidates: Mapping[str, Mapping[str, FloatArray]], windows: Mapping[str, Windows],
            profile: str = "standard") -> CrossValidation:
    """Cross-validate: ``candidates`` maps a configuration name to per-file scores (file name -> scores).

    Every candidate must score every file in ``windows``. Per fold, the candidate and threshold with the best
    normalized score on the other categories are applied to the held-out one.
    """
    if profile not in PROFILES:
        msg = f"unknown NAB profile {profile!r}; choose one of {', '.join(PROFILES)}"
        raise ConfigError(msg)
    if not candidates:
        msg = "no candidate configuration to cross-validate"
        raise ConfigError(msg)
    names = list(windows)
    categories = sorted({category_of(n) for n in names})
    if len(categories) < 2:
        msg = f"cross-validation needs files of two or more categories, got {categories}"
        raise ConfigError(msg)
    folds = []
    pooled_raw = 0.0
    for held in categories:
        train = [n for n in names if category_of(n) != held]
        test = [n for n in names if category_of(n) == held]
        best = max(((_corpus(scores, windows, train, profile, None), config)
                    for config, scores in candidates.items()), key=lambda pair: pair[0].normalized)
        trained, config = best
        result = _corpus(candidates[config], windows, test, profile, trained.threshold)
        has_windows = any(len(windows[n]) for n in test)
        folds.append(Fold(held, config, trained.threshold, trained.normalized,
                          result.normalized if has_windows else None, result.raw))
        pooled_raw += result.raw
    total_windows = sum(len(windows[n]) for n in names)
    cost = PROFILES[profile]
    null, perfect = -cost.fn * total_windows, cost.tp * total_windows
    pooled = 100.0 * (pooled_raw - null) / (perfect - null) if perfect != null else 0.0
    fits = [(_corpus(scores, windows, names, profile, None), config) for config, scores in candidates.items()]
    fit, fit_config = max(fits, key=lambda pair: pair[0].normalized)
    return CrossValidation(profile, tuple(folds), pooled, fit, fit_config)


def _corpus(scores: Mapping[str, FloatArray], windows: Mapping[str, Windows], names: Sequence[str],
            profile: str, threshold: float | None) -> ProfileResult:
    return score_corpus({n: (scores[n], windows[n]) for n in names}, profile, threshold)
