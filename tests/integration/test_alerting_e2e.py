"""End to end against the real services: the pipeline (simulated city, one slow-onset incident in a known
district) -> a real Prometheus (the generated rules) -> a real Alertmanager (the generated routes) -> a local
webhook receiver. Also runs every PromQL expression of every dashboard panel against that Prometheus.

Prints the seconds from the scraped orange threshold crossing to the webhook notification.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from vitals_testing import REPO, need_binary

from vitals.alerting import AlertingOptions, WebhookRecorder, build_alerting, render_config_dir
from vitals.alerting.options import Hold
from vitals.catalog import load_catalog
from vitals.grafana import all_panel_queries, build_dashboards, expand_variables
from vitals.services import free_port, prometheus_query, start_alertmanager, start_prometheus
from vitals.simulator import CitySimulator, FaultRates, IncidentSpec, SimulatorConfig
from vitals.simulator.config import DEFAULT_START

pytestmark = pytest.mark.integration

STREETS = 76
# event seconds per wall second. The forecasts see the orange crossing ~16 event minutes ahead: 8 wall seconds at
# this speed, 4 scrapes at 2 s. At 240 (4 s, 2 scrapes) one stall on a loaded CI host let the crossing overtake the
# early warning (stop 22). Scrapes stay at 2 s: the scrape timeout is at most the interval, and at load 10-12 a
# scrape of this city's /metrics took up to 4.75 s, so 1 s scrapes mostly failed and the series went stale.
SCRAPE = "2s"
SPEED = 120.0
INCIDENT_MIN = 130     # past the detectors' warm-up (120 readings of a 1-minute series)
PACE_FROM_MIN = INCIDENT_MIN - 10  # the warm-up before as fast as possible; the incident paced at SPEED
KIND, DISTRICT = "gas_leak", "yuzhong"
ONSET_MIN = 60
DEADLINE_S = 180


def _incident(catalog):
    """The same incident the pipeline process simulates (deterministic): streets and primary indicator."""
    spec = IncidentSpec(kind=KIND, district=DISTRICT, start=DEFAULT_START + timedelta(minutes=INCIDENT_MIN),
                        onset=timedelta(minutes=ONSET_MIN), plateau=timedelta(minutes=30),
                        recovery=timedelta(minutes=20), severity=3.5)
    sim = CitySimulator(catalog, SimulatorConfig(seed=3, duration=timedelta(hours=7), step_s=30,
                                                 incidents=(spec,), faults=FaultRates.none()))
    (record,) = sim.incidents()
    return record


def _alerts(notifications, *, status=None, **labels):
    out = []
    for n in notifications:
        for a in n.alerts:
            if status and a.get("status") != status:
                continue
            if all(a.get("labels", {}).get(k) == v for k, v in labels.items()):
                out.append((n, a))
    return out


def _timeline(prom_url: str, primary: str, since: float) -> str:
    """Per wall second of the run (from ``since``, Unix seconds): the event time reached, and for the incident's
    indicator in its district the worst scraped warning level, the least seconds to orange, the worst 30-minute
    forecast level and the early warning's state (1 firing, 0.5 pending). Only the seconds where one of the last
    four changes. Printed when an assertion on the ordering fails, so that a failure explains itself."""
    where = f'indicator="{primary}",district="{DISTRICT}"'
    span = max(1, int(time.time() - since) + 5)
    columns = {
        "event_min": "max(vitals_last_event_timestamp_seconds)",
        "level": f"max(vitals_warning_level{{{where}}})",
        "to_orange_s": f'min(vitals_seconds_to_threshold{{{where},level="orange"}})',
        "forecast": f'max(vitals_forecast_warning_level{{{where},horizon="30m"}})',
        "early": f'max(ALERTS{{alertname="VitalsEarlyWarning",{where},alertstate="firing"}}) '
                 f'or max(ALERTS{{alertname="VitalsEarlyWarning",{where}}}) * 0.5',
        "up": 'min(up{job="city-vitals"})',  # 0: a failed scrape (the timeout is the scrape interval): all stale
    }
    rows: dict[int, dict[str, float]] = {}
    for name, expr in columns.items():
        for series in prometheus_query(prom_url, f"({expr})[{span}s:1s]"):
            for t, v in series["values"]:
                rows.setdefault(round(float(t) - since), {})[name] = float(v)
    job = 'job="city-vitals"'
    scrapes = [prometheus_query(prom_url, f"{fn}({expr}[{span}s])") for fn, expr in
               (("count_over_time", f"up{{{job}}}"), ("sum_over_time", f"up{{{job}}}"),
                ("max_over_time", f"scrape_duration_seconds{{{job}}}"))]
    total, ok, slowest = (float(r[0]["value"][1]) if r else 0.0 for r in scrapes)
    lines = [f"scrapes of the pipeline: {total:.0f}, failed {total - ok:.0f}, slowest {slowest:.2f} s "
             f"(timeout {SCRAPE})"]
    lines, last = [*lines, "wall_s " + " ".join(columns)], None
    for second in sorted(rows):
        row = rows[second]
        key = tuple(row.get(name) for name in list(columns)[1:])
        if key == last:
            continue
        last = key
        event = row.get("event_min")
        cells = [f"{(event - DEFAULT_START.timestamp()) / 60:.0f}" if event is not None else "-"]
        cells += [f"{value:g}" if value is not None else "-" for value in key]
        lines.append(f"{second:>4} " + " ".join(cells))
    return "\n".join(lines)


def test_incident_to_notifications_and_every_dashboard_query(tmp_path: Path):
    need_binary("prometheus")
    need_binary("alertmanager")
    catalog = load_catalog(streets_total=STREETS)
    record = _incident(catalog)
    primary = record.primary
    street_ids = set(record.streets)
    models = Path(os.environ.get("VITALS_E2E_MODELS", REPO / "models"))
    port = free_port()
    dashboards = build_dashboards(catalog)
    street = sorted(street_ids)[0]
    values = {"indicator": primary, "district": DISTRICT, "area": street}
    templates = all_panel_queries(dashboards)
    queries = [(uid, title, expand_variables(expr, values)) for uid, title, expr in templates]
    answered: set[int] = set()

    def answer_queries(prom_url: str) -> None:
        """Run the unanswered panel queries with the incident's variables, and with those of the series the
        detector currently finds most anomalous (a user picks the variables; panels of anomalies need one)."""
        choices = [values]
        top = prometheus_query(prom_url, "topk(1, vitals_anomaly_explanation_info)")
        if top:
            labels = top[0]["metric"]
            choices.append({"indicator": labels["indicator"], "district": labels["district"],
                            "area": labels["street"]})
        for k, (_, _, template) in enumerate(templates):
            if k not in answered and any(prometheus_query(prom_url, expand_variables(template, v)) for v in choices):
                answered.add(k)

    with WebhookRecorder() as recorder:
        options = AlertingOptions.quick(recorder.url)
        # the same short hold for the early warning and the orange level: the early warning must win on time
        options = dataclasses.replace(options, holds={**options.holds, "orange": Hold("1s", "5s"),
                                                      "early_warning": Hold("1s", "5s")})
        rendered = render_config_dir(build_alerting(catalog, options), tmp_path / "alerting", environ={})
        with start_alertmanager(rendered.alertmanager_config.read_text(), tmp_path / "am") as am, \
                start_prometheus(rendered.prometheus_config([f"127.0.0.1:{port}"], f"127.0.0.1:{am.port}",
                                                          scrape_interval=SCRAPE), tmp_path / "prom") as prom:
            log = (tmp_path / "pipeline.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, str(REPO / "tests" / "integration" / "e2e_pipeline.py"), str(port), str(models),
                 str(SPEED), str(PACE_FROM_MIN), str(INCIDENT_MIN), str(ONSET_MIN), str(STREETS), KIND, DISTRICT],
                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                                     "PYTHONPATH": str(REPO)})  # this checkout's code
            crossing_scraped: float | None = None
            started = time.time()
            try:
                end = time.monotonic() + DEADLINE_S
                while time.monotonic() < end:
                    answer_queries(prom.url)
                    if crossing_scraped is None:
                        hits = prometheus_query(prom.url, f'timestamp(vitals_warning_level{{indicator="{primary}",'
                                                          f'district="{DISTRICT}"}} >= 3)')
                        if hits:  # the time of the first scraped sample at orange
                            crossing_scraped = min(float(h["value"][1]) for h in hits)
                    resolved = _alerts(recorder.notifications, status="resolved", alertname="VitalsWarningLevel",
                                       severity="orange", indicator=primary)
                    if resolved and len(answered) == len(queries):
                        break
                    if proc.poll() is not None:
                        break
                    time.sleep(0.5)
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=30)
                log.close()
            notes = recorder.notifications
            timeline = _timeline(prom.url, primary, started)

    pipeline_log = (tmp_path / "pipeline.log").read_text(errors="replace")[-3000:]
    firing_orange = _alerts(notes, status="firing", alertname="VitalsWarningLevel", severity="orange",
                            indicator=primary)
    assert firing_orange, f"no orange notification; got {[n.group_labels for n in notes]}\n{pipeline_log}\n{timeline}"
    first_orange, alert = min(firing_orange, key=lambda na: na[0].received_monotonic)
    labels = alert["labels"]
    assert labels["district"] == DISTRICT and labels["street"] in street_ids and labels["severity"] == "orange"
    # early warning before the orange level alert, for the same indicator in the same district
    early = _alerts(notes, status="firing", alertname="VitalsEarlyWarning", indicator=primary, district=DISTRICT)
    assert early, f"no early warning; notifications: {[(n.receiver, n.group_labels) for n in notes]}\n{timeline}"
    first_early = min(n.received_monotonic for n, _ in early)
    assert first_early < first_orange.received_monotonic, timeline
    # escalation: the district center hears of the orange alert; a resolved notification follows
    assert any(n.receiver == "district-centers" for n, _ in firing_orange)
    resolved = _alerts(notes, status="resolved", alertname="VitalsWarningLevel", severity="orange",
                       indicator=primary)
    assert resolved and min(n.received_monotonic for n, _ in resolved) > first_orange.received_monotonic
    # no duplicates inside the repeat interval (1 h): a group (receiver + Alertmanager group key) is notified again
    # only when its content changed, never with the same alerts (labels, start, status) as its previous notification
    previous: dict[tuple[str, str], tuple] = {}
    for n in notes:
        group = (n.receiver, str(n.payload.get("groupKey")))
        content = (n.status, tuple(sorted((json.dumps(a["labels"], sort_keys=True), a["startsAt"], a["status"])
                                          for a in n.alerts)))
        assert previous.get(group) != content, f"duplicate notification to {group}: {content}"
        previous[group] = content
    assert all(n.payload.get("groupKey") for n in notes)
    # every dashboard query returned data at some point of the incident
    missing = [(uid, title, expr) for k, (uid, title, expr) in enumerate(queries) if k not in answered]
    assert not missing, missing
    assert crossing_scraped is not None
    latency = first_orange.received_at.timestamp() - crossing_scraped
    lead = first_orange.received_monotonic - first_early
    sys.stdout.write(f"\nE2E: {len(queries)} dashboard queries answered; orange crossing (first scraped sample) "
                     f"-> district-center webhook: {latency:.1f} s; early warning {lead:.1f} s before the orange "
                     "notification\n")
    if os.environ.get("VITALS_E2E_TIMELINE"):
        sys.stdout.write(timeline + "\n")
    assert latency < 30
