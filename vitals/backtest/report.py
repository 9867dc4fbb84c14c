"""A self-contained HTML backtest report: per file the series, expected band, scores, detections and label
windows against the rows' timestamps (matplotlib PNGs embedded as base64), plus the score table and event
metrics. Rows are plotted in input order (a file with backward timestamps shows them as they are)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vitals.backtest.nab import ProfileResult, probation_length
from vitals.backtest.nab_run import NabFile
from vitals.report_html import duration, esc, number, page, percent

_FIGURES = {"files": "files", "rows": "rows", "windows": "labelled windows", "event_precision": "event precision",
            "event_recall": "event recall (windows detected)",
            "median_lead_s": "median lead time (label - first detection)", "seconds": "run time"}


def _figure(key: str, value: object) -> str:
    if key in ("median_lead_s", "seconds") and isinstance(value, int | float):
        return duration(float(value))
    if key in ("event_precision", "event_recall") and isinstance(value, float):
        return percent(value)
    return number(value, 6)


def _figure_png(f: NabFile, threshold: float) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True, height_ratios=(2, 1))
    x = f.ts
    top.plot(x, f.values, lw=0.6, color="#1f4e79", label="value")
    if f.state:
        top.plot(x, f.state["expected"], lw=0.6, color="#2e8b57", label="expected")
        top.fill_between(x, f.state["lower"], f.state["upper"], color="#2e8b57", alpha=0.15, lw=0, label="band")
    for left, right in f.windows:
        for ax in (top, bottom):
            ax.axvspan(x[left], x[right], color="#ffb347", alpha=0.3, lw=0)
    probation = probation_length(len(f.values))
    for ax in (top, bottom):
        ax.axvspan(x[0], x[min(probation, len(x) - 1)], color="#999999", alpha=0.15, lw=0)
    detected = np.flatnonzero(f.scores >= threshold)
    detected = detected[detected >= probation]
    top.scatter(x[detected], f.values[detected], color="#c00000", s=18, zorder=3, label="detection")
    bottom.plot(x, f.scores, lw=0.6, color="#7030a0")
    bottom.axhline(threshold, color="#c00000", lw=0.6, ls="--")
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("score")
    bottom.set_xlabel("timestamp")
    fig.autofmt_xdate()
    top.legend(loc="upper left", fontsize=7, ncol=5)
    top.set_title(f.name, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_report(path: Path, files: list[NabFile], results: dict[str, ProfileResult], figures: dict[str, Any],
                 profile: str = "standard", *, progress: bool | None = False) -> None:
    """Write the report; the plots use the threshold of ``profile``. ``progress``: a tqdm bar on stderr while
    plotting (``None``: only on a terminal)."""
    threshold = results[profile].threshold
    rows = "".join(
        f"<tr><td>{html.escape(r.profile)}</td><td>{r.normalized:.2f}</td><td>{r.threshold:.4f}</td>"
        f"<td>{r.raw:.3f}</td></tr>" for r in results.values())
    per_file = results[profile].per_file
    sections = []
    for f in tqdm(files, desc="report", unit="file", disable=None if progress is None else not progress):
        png = _figure_png(f, threshold)
        sections.append(f"<h3>{html.escape(f.name)} (file score {per_file.get(f.name, 0.0):+.3f})</h3>"
                        f'<img alt="{html.escape(f.name)}" src="data:image/png;base64,{png}">')
    figure_items = "".join(f"<li>{esc(_FIGURES.get(k, k.replace('_', ' ')))}: {esc(_figure(k, v))}</li>"
                           for k, v in figures.items())
    body = f"""<h1>city-vitals backtest</h1>
<h2>NAB score (one threshold for all files)</h2>
<table id="scores"><tr><th>profile</th><th>score</th><th>threshold</th><th>raw</th></tr>{rows}</table>
<h2>Figures</h2><ul id="figures">{figure_items}</ul>
<p>Plotted against each row's timestamp (rows in input order). Orange: label windows. Grey: probation (not
scored). Red dots: detections at the {esc(profile)} threshold {threshold:.4f}. Green: expected value and band of
the seasonal baseline.</p>
{''.join(sections)}"""
    doc = page("city-vitals backtest", body)
    path.parent.mkdir(parents=True, exist_ok=True)  # --report in a new directory (checked before the run)
    path.write_text(doc, encoding="utf-8")
