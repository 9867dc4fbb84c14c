"""What the series state shows to the outside (exporter, history, detectors): plain arrays, no logic.

A :class:`VitalsView` is a read-only snapshot of one shard's vitals for the series that have had at
least one reading. Several shards' views are combined with :meth:`VitalsView.concat`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# Column names a VitalsView carries (float64 arrays, NaN where undefined, e.g. an empty window):
#   last, last_ts_s (event time of the last reading, Unix seconds), ewma,
#   mean_<w>, min_<w>, max_<w>, p95_<w>, rate_<w> (units per second), count_<w> for w in the window names,
#   level (0..4 after hysteresis), raw_level (0..4 of the last value, no hysteresis),
#   seconds_since_last (relative to the view's now), stuck (0/1), dropout_ratio (0..1)
BASE_COLUMNS: tuple[str, ...] = (
    "last", "last_ts_s", "ewma", "level", "raw_level", "seconds_since_last", "stuck", "dropout_ratio",
)
WINDOW_STATS: tuple[str, ...] = ("mean", "min", "max", "p95", "rate", "count")
# Added by the series state (vitals.state.ShardState.view): readings = accepted readings of the series so far.
EXTRA_COLUMNS: tuple[str, ...] = ("readings",)


@dataclass(frozen=True, eq=False)
class VitalsView:
    """Vitals of N series: global series ids plus named float64 columns of length N."""

    series: npt.NDArray[np.int64]
    indicator: npt.NDArray[np.int16]
    street: npt.NDArray[np.int32]
    columns: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    now_s: float = 0.0  # the time the view was taken at (event-time clock of the shard), Unix seconds

    def __len__(self) -> int:
        return int(self.series.shape[0])

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.columns[name]

    @classmethod
    def concat(cls, views: list[VitalsView]) -> VitalsView:
        views = [v for v in views if len(v)]
        if not views:
            return cls(np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0, np.int32), {}, 0.0)
        names = set(views[0].columns)
        for v in views[1:]:
            names &= set(v.columns)
        return cls(
            series=np.concatenate([v.series for v in views]),
            indicator=np.concatenate([v.indicator for v in views]),
            street=np.concatenate([v.street for v in views]),
            columns={n: np.concatenate([v.columns[n] for v in views]) for n in sorted(names)},
            now_s=max(v.now_s for v in views),
        )


def stale_as_of(view: VitalsView, now_s: float | None) -> VitalsView:
    """The view with ``seconds_since_last`` measured to ``now_s`` where that is later than the view's event time
    (a live source's wall clock, a paced replay's clock: a feed that went silent keeps getting staler although
    no reading moves the event-time clock). Unchanged when ``now_s`` is None or not later."""
    if now_s is None or not len(view) or "last_ts_s" not in view.columns or now_s <= view.now_s:
        return view
    since = np.maximum(view.columns["seconds_since_last"], now_s - view.columns["last_ts_s"])
    since.setflags(write=False)
    return VitalsView(view.series, view.indicator, view.street, {**view.columns, "seconds_since_last": since},
                      view.now_s)
