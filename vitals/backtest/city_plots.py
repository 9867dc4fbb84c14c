"""Plots of one series of a city backtest around an event or a false alarm: the value with the detector's
expected band and the warning thresholds (in the indicator's unit), and below it the warning level, the early
warning and the alarm that fired, against the city's local time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vitals.backtest.city_measures import NS_PER_S, Timeline
from vitals.catalog import LEVEL_NAMES, Catalog
from vitals.catalog.clock import local_ns, zone_label
from vitals.catalog.seasonality import SeasonalModel
from vitals.health.levels import value_edges
from vitals.report_html import png_uri, pyplot

LEVEL_COLOURS = ("#2e7d32", "#1f5fbf", "#c9a400", "#f08000", "#d00000")


@dataclass(frozen=True)
class Span:
    """What a plot marks: the labelled window (or the false alarm episode) and the orange crossing (-1: none)."""

    start_ns: int
    end_ns: int
    orange_ns: int = -1
    label: str = "labelled window"


def threshold_lines(catalog: Catalog, indicator: int, ts_ns: npt.NDArray[np.int64]
                    ) -> list[tuple[int, npt.NDArray[np.float64]]]:
    """(level 1..4, value at each time) of every threshold line in the indicator's unit: the level edges of
    :func:`vitals.health.levels.value_edges` (both sides of the centre for ``bad=both``), constant for value
    thresholds, expected + z x noise for z-score thresholds."""
    ind = catalog.indicators[indicator]
    edges = value_edges(ind)
    if ind.basis == "zscore":
        model = SeasonalModel(catalog)
        codes = np.full(ts_ns.shape, indicator, dtype=np.int64)
        base, noise = model.expected(codes, ts_ns), float(model.noise[indicator])
        return [(k + 1, base + z * noise) for edge in edges for k, z in enumerate(edge.thresholds)]
    ones = np.ones(ts_ns.shape, dtype=np.float64)
    return [(k + 1, t * ones) for edge in edges for k, t in enumerate(edge.thresholds)]


def series_plot(tl: Timeline, fire: dict[str, npt.NDArray[np.bool_]], catalog: Catalog, row: int, span: Span,
                *, before_s: float = 3600.0, after_s: float = 3600.0) -> str:
    """A PNG data URI of timeline row ``row`` from ``before_s`` before the span to ``after_s`` after it."""
    plt = pyplot()
    cols = (tl.ticks_ns >= span.start_ns - int(before_s * NS_PER_S)) & (
        tl.ticks_ns <= span.end_ns + int(after_s * NS_PER_S))
    ticks = tl.ticks_ns[cols]
    x = local_ns(catalog, ticks).astype("datetime64[ns]")

    def local(ns: int) -> np.datetime64:
        return np.datetime64(int(local_ns(catalog, [ns])[0]), "ns")

    indicator = int(tl.series[row] // catalog.n_streets)
    ind = catalog.indicators[indicator]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.5, 4.4), sharex=True, height_ratios=(2.2, 1))
    for ax in (top, bottom):
        ax.axvspan(local(span.start_ns), local(span.end_ns), color="#ffb347", alpha=0.18, lw=0,
                   label=span.label if ax is top else None)
        if span.orange_ns >= 0:
            ax.axvline(local(span.orange_ns), color=LEVEL_COLOURS[3], ls="--", lw=1,
                       label="orange crossing (truth)" if ax is top else None)
    view = _View(tl, row, cols, x)
    _value_panel(top, view, catalog, ticks, indicator)
    top.set_ylabel(f"{ind.unit}")
    top.set_title(f"{ind.name_en} ({ind.id}), {_street_en(catalog, int(tl.series[row]))}", fontsize=9)
    top.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _alarm_panel(bottom, view, fire)
    span_ns = (int(ticks[0]), int(ticks[-1])) if len(ticks) else (span.start_ns, span.end_ns)
    bottom.set_xlabel(f"local time ({zone_label(catalog, *span_ns)})")
    fig.autofmt_xdate()
    return png_uri(fig)


@dataclass(frozen=True)
class _View:
    """One timeline row over the plotted ticks (``cols``) and their local times ``x``."""

    tl: Timeline
    row: int
    cols: npt.NDArray[np.bool_]
    x: npt.NDArray[np.datetime64]


def _value_panel(ax: Any, view: _View, catalog: Catalog, ticks: npt.NDArray[np.int64], indicator: int) -> None:
    tl, row, cols, x = view.tl, view.row, view.cols, view.x
    shown: list[npt.NDArray[np.float64]] = []
    if tl.value is not None and tl.expected is not None and tl.lower is not None and tl.upper is not None:
        value = tl.value[row, cols].astype(np.float64)
        ax.fill_between(x, tl.lower[row, cols], tl.upper[row, cols], color="#2e8b57", alpha=0.15, lw=0,
                        label="expected band")
        ax.plot(x, tl.expected[row, cols], color="#2e8b57", lw=0.8, ls=":", label="expected")
        ax.plot(x, value, color="#1f1f1f", lw=1.0, label="value")
        shown = [value, tl.lower[row, cols].astype(np.float64), tl.upper[row, cols].astype(np.float64)]
    else:
        ax.text(0.5, 0.5, "values not recorded (run_city(..., detail=True))", transform=ax.transAxes,
                ha="center", fontsize=8)
    data = np.concatenate(shown) if shown else np.empty(0)
    data = data[np.isfinite(data)]
    lo, hi = (float(data.min()), float(data.max())) if data.size else (np.nan, np.nan)
    reach = int(tl.level[row, cols].max()) if cols.any() else 0
    labelled: set[int] = set()
    for level, line in threshold_lines(catalog, indicator, ticks):
        if level == 4 and reach < 3:
            continue  # red only when the series got near it
        ax.plot(x, line, color=LEVEL_COLOURS[level], lw=0.9, alpha=0.8,
                label=None if level in labelled else f"{LEVEL_NAMES[level]} threshold")
        labelled.add(level)
        if np.isfinite(lo):
            lo, hi = min(lo, float(np.nanmin(line))), max(hi, float(np.nanmax(line)))
    if np.isfinite(lo) and hi > lo:
        pad = 0.05 * (hi - lo)
        ax.set_ylim(lo - pad, hi + pad)


def _alarm_panel(ax: Any, view: _View, fire: dict[str, npt.NDArray[np.bool_]]) -> None:
    tl, row, cols, x = view.tl, view.row, view.cols, view.x
    ax.step(x, tl.level[row, cols], where="post", color="#333333", lw=1.2, label="warning level")
    ax.fill_between(x, 0, 4.2, where=fire["early"][row, cols], step="post", color="#7b1fa2", alpha=0.25, lw=0,
                    label="early warning firing")
    ax.fill_between(x, 4.2, 4.6, where=fire["warning"][row, cols], step="post", color="#d00000", alpha=0.7, lw=0,
                    label="warning alarm firing")
    ax.plot(x, tl.anomaly[row, cols] * 4.0, color="#0277bd", lw=0.7, alpha=0.7, label="anomaly score x 4")
    ax.set_yticks(range(5), [n for n in LEVEL_NAMES], fontsize=7)
    ax.set_ylim(-0.2, 4.7)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _street_en(catalog: Catalog, series: int) -> str:
    street = catalog.streets[series % catalog.n_streets]
    district = catalog.districts[catalog.district_index[street.district_id]]
    return f"{street.name_en}, {district.name_en}"
