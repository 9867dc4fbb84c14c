"""A self-contained HTML report of a city backtest: the figures and, per orange event (up to a few), the
warning level, the early warning, the anomaly score and the labelled window over time."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from vitals.backtest.city_measures import Event, Timeline, alarms, observed_orange
from vitals.catalog import Catalog
from vitals.units import NS_PER_S


def _event_plot(tl: Timeline, fire: dict[str, Any], ev: Event, title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    row = int(np.flatnonzero(tl.series == ev.series)[0])
    pad = 3600 * NS_PER_S
    cols = (tl.ticks_ns >= ev.start_ns - pad) & (tl.ticks_ns <= ev.end_ns + pad)
    minutes = (tl.ticks_ns[cols] - ev.start_ns) / NS_PER_S / 60.0
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.step(minutes, tl.level[row, cols], where="post", label="warning level")
    ax.step(minutes, fire["early"][row, cols] * 3.5, where="post", label="early warning firing (3.5)")
    ax.plot(minutes, tl.anomaly[row, cols] * 4, label="anomaly score x4", alpha=0.6)
    ax.axvspan(0, (ev.end_ns - ev.start_ns) / NS_PER_S / 60.0, color="orange", alpha=0.12, label="labelled window")
    if ev.orange_ns >= 0:
        ax.axvline((ev.orange_ns - ev.start_ns) / NS_PER_S / 60.0, color="red", ls="--", label="orange crossing")
    ax.set(title=title, xlabel="minutes from the window start", ylim=(-0.2, 4.3))
    ax.legend(fontsize=6, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_city_report(path: Path, tl: Timeline, events: list[Event], figures: dict[str, Any], catalog: Catalog,
                      *, max_events: int = 8) -> None:
    """Write the report (figures table and event plots) to ``path``."""
    fire = alarms(tl)
    known = set(tl.series.tolist())
    orange = [ev for ev in observed_orange(tl, events) if ev.orange_ns >= 0 and ev.series in known][:max_events]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(str(v))}</td></tr>"
                   for k, v in figures.items())
    plots = []
    for ev in orange:
        ind, street = catalog.split_series_id(np.asarray([ev.series]))
        title = f"{catalog.indicators[int(ind[0])].id} / {catalog.streets[int(street[0])].id}"
        plots.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' "
                     f"src='data:image/png;base64,{_event_plot(tl, fire, ev, title)}'>")
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>city-vitals city backtest</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 8px}.num{text-align:right}</style></head>"
        f"<body><h1>City backtest</h1><table id='figures'>{rows}</table><h2>Orange events</h2>{''.join(plots)}"
        "</body></html>", encoding="utf-8")
