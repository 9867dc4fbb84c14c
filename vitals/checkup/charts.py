"""The check-up's charts (PNG data URIs). Labels are in English and pinyin ids: a wall PC's matplotlib may have no
CJK font; the page around them is bilingual."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitals.backtest.city_plots import LEVEL_COLOURS
from vitals.catalog import Catalog
from vitals.catalog.clock import local_ns
from vitals.catalog.model import LEVELS
from vitals.checkup.run import Checkup, PeriodResult
from vitals.checkup.score import WEIGHTS
from vitals.report_html import png_uri, pyplot
from vitals.units import DAY_S, NS_PER_S


def _order(c: Checkup, top: int) -> list[int]:
    return [int(i) for i in c.current.districts.sort_values("score", ascending=False).index[:top]]


def score_chart(c: Checkup, top: int = 15) -> str:
    """Top districts by vulnerability score, the score split into its weighted components; previous period dots."""
    plt = pyplot()
    idx = _order(c, top)[::-1]
    d, names = c.current.districts, [c.catalog.districts[i].name_en for i in idx]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(idx) + 1.2))
    left = np.zeros(len(idx))
    for name, colour in zip(WEIGHTS, ("#5c6bc0", "#26a69a", "#ef6c00", "#8d6e63"), strict=True):
        part = 100 * WEIGHTS[name] * d.loc[idx, f"component_{name}"].to_numpy()
        ax.barh(names, part, left=left, color=colour, label=name)
        left += part
    ax.scatter(c.previous.districts.loc[idx, "score"], names, color="black", marker="|", s=120, label="previous period")
    ax.set(xlim=(0, 100), xlabel="vulnerability score (0-100)", title="Most vulnerable districts")
    ax.legend(fontsize=7, loc="lower right")
    return png_uri(fig)


def levels_chart(c: Checkup, top: int = 20) -> str:
    """Share of series-time at each warning level in the most vulnerable districts."""
    plt = pyplot()
    idx = _order(c, top)[::-1]
    d = c.current.districts
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(idx) + 1.2))
    left = np.zeros(len(idx))
    names = [c.catalog.districts[i].name_en for i in idx]
    for k, name in enumerate(LEVELS, 1):
        part = 100 * d.loc[idx, f"share_{name}"].to_numpy()
        ax.barh(names, part, left=left, color=LEVEL_COLOURS[k], label=name)
        left += part
    ax.set(xlabel="% of series-time at the level", title="Time at warning levels")
    ax.legend(fontsize=7, loc="lower right")
    return png_uri(fig)


def domain_heatmap(c: Checkup, top: int = 20) -> str:
    """% of series-time at blue or worse, district x domain."""
    plt = pyplot()
    idx = _order(c, top)
    dd = c.current.district_domain
    grid = np.full((len(idx), len(c.catalog.domain_names)), np.nan)
    pos = {d: k for k, d in enumerate(idx)}
    for _, r in dd.iterrows():
        if int(r["district"]) in pos:
            grid[pos[int(r["district"])], int(r["domain"])] = 100 * r["share_warning"]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(idx) + 1.8))
    im = ax.imshow(grid, aspect="auto", cmap="YlOrRd", vmin=0)
    ax.set_xticks(range(len(c.catalog.domain_names)), c.catalog.domain_names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(idx)), [c.catalog.districts[i].name_en for i in idx], fontsize=7)
    fig.colorbar(im, ax=ax, label="% of time at a warning level")
    ax.set_title("Where: districts x domains")
    return png_uri(fig)


def daily_chart(c: Checkup) -> str:
    """Incidents per day, this period against the previous one (day 1, 2, ...)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 2.8))
    for p, label, shift, colour in ((c.previous, "previous period", -0.2, "#9e9e9e"),
                                    (c.current, "this period", 0.2, "#d84315")):
        counts = _per_day(p, c.catalog)
        ax.bar(np.arange(1, counts.size + 1) + shift, counts, width=0.4, label=label, color=colour)
    ax.set(xlabel="day of the period", ylabel="incidents", title="Incidents per day")
    ax.legend(fontsize=7)
    return png_uri(fig)


def _per_day(p: PeriodResult, catalog: Catalog) -> np.ndarray:
    days = (p.end - p.start).days + 1
    start = pd.Timestamp(p.start).value  # the period's first local day, as a naive (wall clock) time
    local = local_ns(catalog, [i.start_ns for i in p.incidents])
    k = [int((ns - start) // (DAY_S * NS_PER_S)) for ns in local.tolist()]
    return np.bincount(np.clip(np.asarray(k, dtype=np.int64), 0, days - 1), minlength=days)
