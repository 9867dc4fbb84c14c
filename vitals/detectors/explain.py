"""Explanations of detections: which detector and feature drove a score, the value, expected and band."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Explanation:
    series: int
    detector: str     # e.g. "seasonal_baseline", "data_quality", "window_model"
    feature: str      # e.g. "residual_z:daily_profile", "stuck", "window_std"
    value: float
    expected: float
    lower: float
    upper: float
    score: float
    z: float

    def text(self) -> str:
        return (f"series {self.series}: {self.detector} ({self.feature}) value {self.value:.4g}, expected "
                f"{self.expected:.4g} in [{self.lower:.4g}, {self.upper:.4g}], z {self.z:+.1f}, score {self.score:.3f}")


def explanations(*, series: npt.NDArray[np.int64], detectors: npt.NDArray[np.str_], features: npt.NDArray[np.str_],
                 values: npt.NDArray[np.float64], expected: npt.NDArray[np.float64],
                 lower: npt.NDArray[np.float64], upper: npt.NDArray[np.float64],
                 scores: npt.NDArray[np.float64], z: npt.NDArray[np.float64]) -> list[Explanation]:
    """Explanation records from parallel arrays (one per detection; detections are few, so a list is fine)."""
    return [Explanation(int(a), str(b), str(c), float(d), float(e), float(f), float(g), float(h), float(i))
            for a, b, c, d, e, f, g, h, i in zip(series, detectors, features, values, expected, lower, upper,
                                                 scores, z, strict=True)]
