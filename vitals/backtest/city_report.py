"""A self-contained HTML report of a city backtest (one offline file, see :mod:`vitals.report_html`).

Sections: the figures with readable labels (durations in minutes or hours); the missed events and the false
alarms of the ``warning`` alarm, each listed with a plot; every orange event, collapsed (``<details>``), with
its plot. A plot shows the value, the detector's expected band and the warning thresholds in the indicator's
unit (values need ``run_city(..., detail=True)``), and under it the warning level, the early warning and the
alarm, against the city's local time. Definitions: :mod:`vitals.backtest.city_measures`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vitals.backtest.city_measures import (
    AFTER_S,
    DEFAULT_HOLDS,
    WARMUP_S,
    Episode,
    Timeline,
    alarms,
    false_alarm_episodes,
    lead_times,
    observed_orange,
)
from vitals.backtest.city_plots import Span, series_plot
from vitals.catalog import Catalog
from vitals.catalog.clock import local_text
from vitals.forecasting.cadence import catalog_cadence
from vitals.labels import LabelledWindow
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.report_html import duration, esc, img, number, page, percent, table
from vitals.units import NS_PER_S, duration_words

KINDS = ("warning", "level", "early", "anomaly")
FACTS: dict[str, tuple[str, str]] = {  # figure key -> (label, format: int, float, duration, share)
    "streets": ("streets", "int"), "districts": ("districts", "int"), "series": ("series (indicator x street)", "int"),
    "days": ("days scored (after the warm-up)", "float"),
    "events_orange": ("orange events (labelled windows whose series reaches orange)", "int"),
    "slow_onset_events": ("slow-onset events (orange at least 20 min after the window start)", "int"),
    "lead_time_median_s": ("median lead time per slow-onset event", "duration"),
    "lead_time_p25_s": ("lead time per slow-onset event, 25th percentile", "duration"),
    "warned_15m_before_share": ("slow-onset events warned 15 min or more ahead", "share"),
    "incidents": ("incidents with a slow onset", "int"),
    "incident_lead_time_median_s": ("median lead time per incident", "duration"),
    "seconds": ("run time", "duration"),
}


def _hold(kind: str) -> str:
    h = DEFAULT_HOLDS[kind]
    return f"for {duration(h.for_s)}, kept {duration(h.keep_s)}"


def kind_text(kind: str, catalog: Catalog) -> str:
    """What an alarm kind is, with its timing (the early warning's horizon follows the catalog's cadence)."""
    within = duration_words(catalog_cadence(catalog).early_warning_horizon_s)
    return {
        "warning": "warning: level or early warning (what on-call staff hear)",
        "level": f"level: warning level orange or red ({_hold('level')})",
        "early": f"early warning: orange forecast within {within} ({_hold('early')})",
        "anomaly": f"anomaly: score >= {ANOMALY_THRESHOLD:g} ({_hold('anomaly')})",
    }[kind]


class _Names:
    """Bilingual names of series and local times for the page."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def indicator(self, series: int) -> str:
        ind = self.catalog.indicators[series // self.catalog.n_streets]
        return f"{ind.name_zh} {ind.name_en} ({ind.unit})"

    def place(self, series: int) -> str:
        street = self.catalog.streets[series % self.catalog.n_streets]
        district = self.catalog.districts[self.catalog.district_index[street.district_id]]
        return f"{district.name_zh} {street.name_zh} / {street.name_en}, {district.name_en}"

    def time(self, ns: int) -> str:
        return "-" if ns < 0 else local_text(self.catalog, ns)


def _facts(figures: dict[str, Any]) -> str:
    rows = []
    for key, value in figures.items():
        if key.startswith(("recall_", "false_alarms_")):
            continue
        label, fmt = FACTS.get(key, (key.replace("_", " "), "float"))
        rows.append((label, duration(value) if fmt == "duration" else percent(value) if fmt == "share"
                     else number(value)))
    return table(("figure", "value"), rows, table_id="figures", numeric=(1,))


def _alarm_table(figures: dict[str, Any], catalog: Catalog) -> str:
    rows = []
    for kind in KINDS:
        if f"recall_{kind}" not in figures:
            continue
        g = figures.get
        rows.append((kind_text(kind, catalog), percent(g(f"recall_{kind}")), number(g(f"false_alarms_{kind}")),
                     number(g(f"false_alarms_{kind}_per_indicator_district_day")),
                     number(g(f"false_alarms_{kind}_per_series_day")),
                     number(g(f"false_alarms_{kind}_full_scale_per_indicator_district_day"))))
    headers = ("alarm", "recall (orange events)", "false alarms", "per indicator per district per day",
               "per series per day", "full-scale equivalent per indicator per district per day")
    return table(headers, rows, table_id="alarms", numeric=(1, 2, 3, 4, 5))


def write_city_report(path: Path, tl: Timeline, events: list[LabelledWindow], figures: dict[str, Any], catalog: Catalog,
                      *, max_false_alarm_plots: int = 300, warmup_s: float = WARMUP_S, after_s: float = AFTER_S,
                      progress: bool = False) -> None:
    """Write the report to ``path``: every orange event and miss with its plot; every false alarm of the
    ``warning`` alarm listed, the first ``max_false_alarm_plots`` (by onset) with plots (the page says so)."""
    fire = alarms(tl)
    names = _Names(catalog)
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    orange = [ev for ev in observed_orange(tl, events) if ev.orange_ns >= 0 and ev.series in row_of]
    warmup_ns = int(tl.ticks_ns[0]) + int(warmup_s * NS_PER_S)
    false = sorted(false_alarm_episodes(tl, fire["warning"], observed_orange(tl, events), after_s=after_s,
                                        warmup_ns=warmup_ns), key=lambda e: (e.start, e.row))
    bar = tqdm(total=len(orange) + min(len(false), max_false_alarm_plots), desc="report", unit="plot",
               disable=not progress, leave=False)

    def plot(row: int, span: Span, *, before_s: float = 3600.0) -> str:
        bar.update(1)
        return series_plot(tl, fire, catalog, row, span, before_s=before_s)

    event_rows = [_event_facts(tl, fire, ev, row_of[ev.series], k) for k, ev in enumerate(orange, 1)]
    plots = {k: plot(row_of[ev.series], Span(ev.start_ns, ev.end_ns, ev.orange_ns)) for k, ev in enumerate(orange, 1)}
    misses = [r for r in event_rows if not r["warning"]]
    counts = {"events": len(orange), "misses": len(misses), "false": len(false)}
    body = [_header(tl, figures, names, counts),
            "<h2 id='summary'>Summary</h2>", _facts(figures), "<h3>Alarms</h3>", _alarm_table(figures, catalog),
            f"<h2 id='misses'>Missed orange events ({len(misses)})</h2>",
            "<p class='note'>Events the warning alarm never fired for inside the labelled window.</p>"
            if misses else "<p>None: the warning alarm fired for every orange event.</p>"]
    body += [_event_block(r, names, plots[r["n"]], cls="miss") for r in misses]
    body.append(f"<h2 id='false-alarms'>False alarms of the warning ({len(false)})</h2>")
    body.append(_false_alarm_section(_FalseAlarms(tl, fire, names, plot), false, max_false_alarm_plots, after_s))
    body.append(f"<h2 id='events'>All orange events ({len(orange)})</h2><p class='note'>Every event, in the order "
                "of the labels; open one for its plot.</p>")
    body += [_event_block(r, names, plots[r["n"]], cls="event") for r in event_rows]
    bar.close()
    path.parent.mkdir(parents=True, exist_ok=True)  # --report in a new directory (checked before the run)
    path.write_text(page("city-vitals city backtest", "\n".join(body)), encoding="utf-8")


def _event_facts(tl: Timeline, fire: dict[str, Any], ev: LabelledWindow, row: int, n: int) -> dict[str, Any]:
    lo = int(np.searchsorted(tl.ticks_ns, ev.start_ns, side="left"))
    hi = int(np.searchsorted(tl.ticks_ns, ev.end_ns, side="right"))
    out: dict[str, Any] = {"n": n, "event": ev, "row": row}
    for kind in KINDS:
        out[kind] = bool(fire[kind][row, lo:hi].any())
    lead = lead_times(tl, fire["early"], [ev], 0.0)
    out["lead_s"] = float(lead[0]) if lead.size else None
    return out


def _header(tl: Timeline, figures: dict[str, Any], names: _Names, counts: dict[str, int]) -> str:
    events, misses, false = counts["events"], counts["misses"], counts["false"]
    period = f"{names.time(int(tl.ticks_ns[0]))} to {names.time(int(tl.ticks_ns[-1]))}"
    return (f"<h1>City backtest 城市回测</h1><p>{esc(period)} (local time), {number(figures.get('streets'))} "
            f"streets, {number(int(tl.series.size))} series. <a href='#misses'>{misses} missed</a> of "
            f"<a href='#events'>{events} orange events</a>; <a href='#false-alarms'>{false} false alarms</a> of "
            "the warning.</p><p class='note'>Definitions (events, alarms, false alarms, lead time): docs/models.md, "
            "\"City backtest\". Plots: value, expected band and warning thresholds in the indicator's unit; "
            "below, the warning level, the early warning and the alarm that fired.</p>")


def _event_block(r: dict[str, Any], names: _Names, uri: str, *, cls: str) -> str:
    """A collapsed event (``cls="event"``) or an open one (``cls="miss"``) with its facts and plot."""
    ev: LabelledWindow = r["event"]
    caught = ", ".join(k for k in KINDS if r[k]) or "none"
    summary = (f"#{r['n']} {names.indicator(ev.series)} · {names.place(ev.series)} · orange at "
               f"{names.time(ev.orange_ns)} · {'warned' if r['warning'] else 'MISSED'} · lead {duration(r['lead_s'])}")
    facts = table(("labelled window", "orange crossing", "incident", "alarms that fired", "early-warning lead"),
                  [(f"{names.time(ev.start_ns)} to {names.time(ev.end_ns)}", names.time(ev.orange_ns),
                    ev.incident if ev.incident >= 0 else "-", caught, duration(r["lead_s"]))])
    return (f"<details class='{cls}'{' open' if cls == 'miss' else ''}><summary>{esc(summary)}</summary>{facts}"
            f"{img(uri, summary)}</details>")


@dataclass(frozen=True)
class _FalseAlarms:
    tl: Timeline
    fire: dict[str, Any]
    names: _Names
    plot: Callable[..., str]


def _false_alarm_section(ctx: _FalseAlarms, false: list[Episode], max_plots: int, after_s: float) -> str:
    tl, fire, names, plot = ctx.tl, ctx.fire, ctx.names, ctx.plot
    if not false:
        return "<p>None after the warm-up.</p>"
    tick_ns = int(tl.tick_s * NS_PER_S)
    rows, blocks = [], []
    for k, ep in enumerate(false, 1):
        series = int(tl.series[ep.row])
        start, end = int(tl.ticks_ns[ep.start]), int(tl.ticks_ns[ep.end]) + tick_ns
        early = bool(fire["early"][ep.row, ep.start:ep.end + 1].any())
        level = bool(fire["level"][ep.row, ep.start:ep.end + 1].any())
        kind = " and ".join(n for n, on in (("level", level), ("early warning", early)) if on)
        peak = int(tl.level[ep.row, ep.start:ep.end + 1].max())
        rows.append((k, names.time(start), duration((end - start) / NS_PER_S), kind, peak,
                     names.indicator(series), names.place(series)))
        if k <= max_plots:
            uri = plot(ep.row, Span(start, end, label="false alarm"), before_s=2 * 3600.0)
            text = f"false alarm #{k}: {names.indicator(series)} · {names.place(series)} · {names.time(start)}"
            blocks.append(f"<details class='false-alarm'><summary>{esc(text)}</summary>{img(uri, text)}</details>")
    note = ("" if len(false) <= max_plots else
            f"<p class='note'><b>Plots for the first {max_plots} of {len(false)} false alarms</b> (by onset; "
            "all are in the table; <code>max_false_alarm_plots</code> sets the limit).</p>")
    listing = table(("#", "onset", "duration", "alarm", "peak level (0-4)", "indicator", "place"), rows,
                    table_id="false-alarm-list", numeric=(0, 4))
    return (f"<p class='note'>Warning episodes whose onset lies outside every labelled window of their series "
            f"(widened by {duration(after_s)} after its end), after the warm-up.</p>{listing}{note}{''.join(blocks)}")
