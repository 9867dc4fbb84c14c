"""The check-up as one offline HTML page: a one-page summary for leaders in Chinese and in English, charts, the
vulnerability ranking of districts and streets with reasons, districts x domains, incidents, recurring anomalies,
data quality, and the score's definition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vitals.catalog import LEVEL_NAMES_ZH, Catalog
from vitals.catalog.clock import local_text
from vitals.catalog.model import LEVEL_NAMES, LEVELS
from vitals.checkup import charts
from vitals.checkup.run import Checkup, totals
from vitals.checkup.score import HALF, WEIGHTS
from vitals.report_html import duration, esc, fnum, img, inum, number, page, percent, table
from vitals.units import NS_PER_S


def _trend(now: float | None, before: float | None, *, worse_up: bool = True, fmt: Any = number) -> str:
    """``value (↑ from previous)`` with the arrow coloured by whether the change is worse."""
    if now is None:
        return "-"
    if before is None or now == before:
        return f"{fmt(now)} (=)" if before is not None else fmt(now)
    up = now > before
    cls = "up" if up == worse_up else "down"
    return f"{fmt(now)} <span class='{cls}'>{'↑' if up else '↓'} {fmt(before)}</span>"


def _headline(c: Checkup, lang: str) -> str:
    cur, prev = totals(c.current), totals(c.previous)
    zh = lang == "zh"
    rows = [
        ("预警时长占比" if zh else "share of series-time at a warning level", "share_warning", True, percent),
        ("事件（黄色及以上）" if zh else "incidents (yellow or worse)", "incidents", True, number),
        ("橙色及以上事件" if zh else "incidents reaching orange or red", "incidents_orange", True, number),
        ("恢复时间中位数" if zh else "median time to recover", "recovery_median_s", True, duration),
        ("数据覆盖率" if zh else "data coverage", "coverage", False, percent),
        ("重复出现的异常（序列）" if zh else "recurring anomalies (series)", "recurring_series", True, number),
    ]
    cells = "".join(f"<tr><th>{esc(label)}</th><td class='num'>"
                    f"{_trend(cur[key], prev[key], worse_up=w, fmt=f)}</td></tr>" for label, key, w, f in rows)
    alerts = cur["alerts"]
    alert_row = ("告警（蓝/黄/橙/红）" if zh else "level alerts (blue / yellow / orange / red)",
                 " / ".join(str(alerts[k]) for k in LEVELS))
    cells += f"<tr><th>{esc(alert_row[0])}</th><td class='num'>{esc(alert_row[1])}</td></tr>"
    interval = cur["snapshot_interval_s"]
    if interval is not None:  # the detail in time the figures above rest on (docs/history.md, "Snapshot cadence")
        label = "快照间隔" if zh else "vitals snapshots every"
        between = cur["episodes_between_snapshots"]
        seen = "" if not between else \
            f"（{between} 次预警只在两次快照之间出现）" if zh else f" ({between} warnings only between snapshots)"
        cells += f"<tr><th>{esc(label)}</th><td class='num'>{esc(duration(interval) + seen)}</td></tr>"
    head = "指标" if zh else "figure"
    vs = "本期（↑↓ 上期）" if zh else "this period (↑↓ previous)"
    return f"<table class='headline'><thead><tr><th>{head}</th><th class='num'>{vs}</th></tr></thead>{cells}</table>"


def _ranking_list(c: Checkup, lang: str, top: int) -> str:
    d = c.current.districts.sort_values("score", ascending=False).head(top)
    items = []
    for i, r in d.iterrows():
        dist = c.catalog.districts[inum(i)]
        name = dist.name_zh if lang == "zh" else dist.name_en
        why = str(r[f"reasons_{lang}"] or ("无明显问题" if lang == "zh" else "nothing stands out"))
        before = fnum(c.previous.districts.at[i, "score"])
        items.append(f"<li><b>{esc(name)}</b> {r['score']:.0f} "
                     f"({'上期' if lang == 'zh' else 'previous'} {before:.0f}): {esc(why)}</li>")
    return f"<ol>{''.join(items)}</ol>"


def _street_list(c: Checkup, lang: str, top: int) -> str:
    s = c.current.streets.sort_values("score", ascending=False).head(top)
    items = []
    for i, r in s.iterrows():
        st = c.catalog.streets[inum(i)]
        dist = c.catalog.districts[c.catalog.district_index[st.district_id]]
        name = f"{dist.name_zh} {st.name_zh}" if lang == "zh" else f"{st.name_en}, {dist.name_en}"
        items.append(f"<li><b>{esc(name)}</b> {r['score']:.0f}: {esc(r[f'reasons_{lang}'] or '-')}</li>")
    return f"<ol>{''.join(items)}</ol>"


def _summary(c: Checkup, lang: str) -> str:
    zh = lang == "zh"
    cur, prev = c.current, c.previous
    period = (f"{cur.start} 至 {cur.end}（上期 {prev.start} 至 {prev.end}）" if zh
              else f"{cur.start} to {cur.end} (previous period {prev.start} to {prev.end})")
    title = f"{c.catalog.city.name_zh}城市体检" if zh else f"{c.catalog.city.name_en} city check-up"
    return (f"<section class='page' lang='{lang}' id='summary-{lang}'><h1>{esc(title)}</h1><p>{esc(period)}</p>"
            f"{_headline(c, lang)}<h3>{'最脆弱的区县' if zh else 'Most vulnerable districts'}</h3>"
            f"{_ranking_list(c, lang, 5)}<h3>{'最脆弱的街道' if zh else 'Most vulnerable streets'}</h3>"
            f"{_street_list(c, lang, 5)}<p class='note'>"
            + ("脆弱性评分 0-100：暴露（预警时长）、频次、严重程度、恢复时间四项等权；定义见文末。" if zh else
               "Vulnerability score 0-100: exposure (time at warning levels), frequency, severity and recovery time, "
               "equal weights; definition at the end.")
            + "</p></section>")


def _district_table(c: Checkup) -> str:
    d = c.current.districts.sort_values("score", ascending=False)
    rows = []
    for i, r in d.iterrows():
        dist = c.catalog.districts[inum(i)]
        before = fnum(c.previous.districts.at[i, "score"])
        rows.append((f"{dist.name_zh} {dist.name_en}", f"{r['score']:.1f}", f"{r['score'] - before:+.1f}",
                     percent(r["exposure"]), f"{r['incidents_per_week']:.1f}", f"{r['severity']:.2f}",
                     duration(r["recovery_median_s"]), int(r["incidents"]), int(r["alerts_orange"]),
                     int(r["alerts_red"]), percent(r["coverage"]), r["reasons_en"] or "-"))
    return table(("district 区县", "score", "vs previous", "exposure", "incidents / week", "severity",
                  "time to recover", "incidents", "orange alerts", "red alerts", "data coverage", "reasons"),
                 rows, table_id="districts", numeric=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))


def _district_domains(c: Checkup) -> str:
    dd = c.current.district_domain
    blocks = []
    for code in c.current.districts.sort_values("score", ascending=False).index:
        part = dd[dd["district"] == code]
        if part.empty:
            continue
        dist = c.catalog.districts[int(code)]
        rows = [(c.catalog.domain_names[int(r["domain"])], int(r["series"]),
                 *(f"{r[f'hours_{k}']:.1f} h" for k in LEVELS),
                 percent(r["share_warning"]), int(r["episodes"]), int(r["incidents"]), duration(r["recovery_median_s"]),
                 percent(r["coverage"]), percent(r["stale_share"]), percent(r["stuck_share"]))
                for _, r in part.iterrows()]
        t = table(("domain", "series", *(f"{z} {k}" for z, k in zip(LEVEL_NAMES_ZH[1:], LEVELS, strict=True)),
                   "time at warning", "episodes", "incidents", "time to recover", "coverage", "stale", "stuck"),
                  rows, numeric=tuple(range(1, 13)))
        blocks.append(f"<details class='district'><summary>{esc(dist.name_zh)} {esc(dist.name_en)}</summary>"
                      f"{t}</details>")
    return "".join(blocks)


def _incident_table(c: Checkup, catalog: Catalog) -> str:
    def t(ns: int) -> str:
        return local_text(catalog, ns)

    rows = []
    for k, i in enumerate(c.current.incidents, 1):
        d = catalog.districts[i.district]
        inds = sorted({catalog.indicators[s // catalog.n_streets].name_zh for s in i.series})
        rows.append((k, f"{d.name_zh} {d.name_en}", t(i.start_ns), duration((i.end_ns - i.start_ns) / NS_PER_S),
                     f"{LEVEL_NAMES_ZH[i.peak]} {LEVEL_NAMES[i.peak]}",
                     len(i.series), "、".join(inds), "open" if i.open_end else duration(i.recovery_s)))
    return table(("#", "district", "start (local)", "duration", "peak", "series", "indicators", "time to recover"),
                 rows, table_id="incidents", numeric=(0, 3, 5, 7))


def _recurring_table(c: Checkup, catalog: Catalog) -> str:
    rec = c.current.recurring
    if rec.empty:
        return "<p>None: no series had anomalies on 3 or more days.</p>"
    rows = []
    for _, r in rec.iterrows():
        sid = int(r["series"])
        ind, st = catalog.indicators[sid // catalog.n_streets], catalog.streets[sid % catalog.n_streets]
        usual = "-" if r["usual_hour"] is None or np.isnan(r["usual_hour"]) else f"around {int(r['usual_hour']):02d}:00"
        rows.append((f"{ind.name_zh} {ind.name_en}", f"{st.name_zh} {st.name_en}", int(r["onsets"]), int(r["days"]),
                     usual, r["source"]))
    return table(("indicator", "street", "onsets", "days", "time of day", "from"), rows, table_id="recurring",
                 numeric=(2, 3))


def _definition() -> str:
    w = ", ".join(f"{k} {v:g}" for k, v in WEIGHTS.items())
    return (f"<h2 id='definition'>The vulnerability score 脆弱性评分</h2><p>score = 100 x (weights: {esc(w)}) "
            "x components; each component is a figure of the period mapped by x / (x + half point), 0 when nothing "
            f"happened and 0.5 at the half point: exposure (weighted share of series-time at blue or worse, half "
            f"{percent(HALF['exposure'])}), frequency (incidents per week, half {HALF['frequency_district']:g} for a "
            f"district, {HALF['frequency_street']:g} for a street), severity (mean incident peak: yellow 1/3, orange "
            f"2/3, red 1), recovery (median time to recover, half {duration(HALF['recovery'])}). Details and the "
            "other definitions: docs/checkup.md.</p>")


def write_checkup_report(path: Path, c: Checkup, *, top_streets: int = 20) -> None:
    cat = c.catalog
    body = [_summary(c, "zh"), _summary(c, "en"),
            "<h2 id='charts'>Charts 图表</h2>",
            img(charts.score_chart(c), "vulnerability score by district"),
            img(charts.levels_chart(c), "time at warning levels by district"),
            img(charts.domain_heatmap(c), "districts x domains"),
            img(charts.daily_chart(c), "incidents per day"),
            "<h2 id='districts'>Districts 区县</h2>", _district_table(c),
            "<h2 id='domains'>Districts x domains 区县 x 领域</h2>", _district_domains(c),
            f"<h2 id='streets'>Most vulnerable streets 街道 (top {top_streets})</h2>", _streets_table(c, top_streets),
            f"<h2 id='incidents'>Incidents 事件 ({len(c.current.incidents)})</h2>", _incident_table(c, cat),
            f"<h2 id='recurring'>Recurring anomalies 重复异常 ({len(c.current.recurring)})</h2>",
            _recurring_table(c, cat), _definition()]
    path.parent.mkdir(parents=True, exist_ok=True)  # --out in a new directory (checked before the run)
    path.write_text(page(f"{cat.city.name_zh}城市体检 {cat.city.name_en} city check-up {c.current.start} - "
                         f"{c.current.end}", "\n".join(body), lang="zh"), encoding="utf-8")


def _streets_table(c: Checkup, top: int) -> str:
    s = c.current.streets.sort_values("score", ascending=False).head(top)
    rows = []
    for i, r in s.iterrows():
        st = c.catalog.streets[inum(i)]
        dist = c.catalog.districts[c.catalog.district_index[st.district_id]]
        rows.append((f"{dist.name_zh} {st.name_zh} / {st.name_en}", f"{r['score']:.1f}",
                     f"{r['score'] - fnum(c.previous.streets.at[i, 'score']):+.1f}", percent(r["exposure"]),
                     int(r["incidents"]), duration(r["recovery_median_s"]), r["reasons_en"] or "-"))
    return table(("street", "score", "vs previous", "exposure", "incidents", "time to recover", "reasons"), rows,
                 table_id="streets", numeric=(1, 2, 3, 4, 5))
