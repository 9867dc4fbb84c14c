"""Event-level metrics of detections against labelled windows: precision, recall and lead time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class EventCounts:
    windows: int
    detected_windows: int
    detections: int            # detections after probation
    true_detections: int       # of which inside a window
    lead_times_s: tuple[float, ...]  # per detected window: label time minus first detection time

    @property
    def recall(self) -> float:
        return self.detected_windows / self.windows if self.windows else float("nan")

    @property
    def precision(self) -> float:
        return self.true_detections / self.detections if self.detections else float("nan")

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(self.windows + other.windows, self.detected_windows + other.detected_windows,
                           self.detections + other.detections, self.true_detections + other.true_detections,
                           self.lead_times_s + other.lead_times_s)


def event_counts(detected: npt.NDArray[np.bool_], windows: Sequence[tuple[int, int]], first_scored: int,
                 ts_s: npt.NDArray[np.float64] | None = None, label_s: Sequence[float] = ()) -> EventCounts:
    """Counts for one file; ``label_s`` are the labelled anomaly times (one per window) for lead times."""
    det = detected.copy()
    det[:first_scored] = False
    inside = np.zeros(det.shape[0], dtype=bool)
    found = 0
    leads: list[float] = []
    for k, (left, right) in enumerate(windows):
        inside[left:right + 1] = True
        hits = np.flatnonzero(det[left:right + 1])
        if hits.size:
            found += 1
            if ts_s is not None and k < len(label_s):
                leads.append(float(label_s[k] - ts_s[left + int(hits[0])]))
    return EventCounts(len(windows), found, int(det.sum()), int((det & inside).sum()), tuple(leads))


def median_lead_s(counts: EventCounts) -> float:
    return float(np.median(counts.lead_times_s)) if counts.lead_times_s else float("nan")
