"""A dead feed looks dead: staleness follows the replay clock of a paced replay (and the wall clock of a live
source), not only event time, so `vitals_seconds_since_last_reading` grows through a gap in the data."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from vitals_testing import SECOND_CITY

from pipelines.run import run_pipeline
from vitals.catalog import load_catalog
from vitals.config import load_settings
from vitals.exporter.hub import ExportHub
from vitals.sources.base import EventTimePacer, ReplayClock, staleness_clock
from vitals.state.view import VitalsView, stale_as_of

GAP_S = 25 * 3600
# the 25-hour gap takes 9 s of wall time. At 30,000 (3 s) the test, scraping in the flow's own process, caught
# no sample or too short a rising run in 5 of 7 runs at load 7-12 on 2 cores (15,000: 1 of 1 failed)
SPEED = 10_000.0
SAMPLE = re.compile(r'^vitals_seconds_since_last_reading\{[^}]*street="RIB-01"[^}]*\} (\S+)$', re.MULTILINE)


def test_the_clock_staleness_is_measured_against() -> None:
    assert staleness_clock("mqtt", 0.0, None) is time.time and staleness_clock("kafka", 0.0, None) is time.time
    assert staleness_clock("file", 0.0, ReplayClock()) is None  # as fast as possible: event time only
    clock = ReplayClock()
    assert staleness_clock("file", 60.0, clock) == clock.now_s and clock.now_s() is None
    pacer = clock.add(EventTimePacer(3600.0))
    pacer.due_ns(1_000 * 10**9)  # the first batch anchors event time to now
    time.sleep(0.05)
    assert 1_000 + 0.05 * 3600 <= clock.now_s() < 1_000 + 1.0 * 3600  # type: ignore[operator]
    view = VitalsView(np.arange(2), np.zeros(2, np.int16), np.arange(2, dtype=np.int32),
                      {"last_ts_s": np.array([900.0, 990.0]), "seconds_since_last": np.array([100.0, 10.0])}, 1000.0)
    assert stale_as_of(view, None) is view and stale_as_of(view, 999.0) is view
    assert stale_as_of(view, 1500.0).columns["seconds_since_last"].tolist() == [600.0, 510.0]


def test_a_gap_in_a_paced_replay_makes_the_series_stale(tmp_path: Path) -> None:
    start = pd.Timestamp("2026-03-02", tz="UTC")
    times = [start + pd.Timedelta(minutes=10 * k) for k in range(7)]
    times += [times[-1] + pd.Timedelta(seconds=GAP_S + 600 * k) for k in range(1, 3)]
    frame = pd.DataFrame({"ts": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times], "indicator": "river_level",
                          "area": "RIB-01", "sensor": "", "value": 3.0})
    frame.to_csv(tmp_path / "river.csv", index=False)
    catalog = load_catalog(SECOND_CITY)
    settings = load_settings(None, {}, catalog=str(SECOND_CITY), source="file", path=str(tmp_path / "river.csv"),
                             speed=SPEED, metrics_port=0, partitions=1, shards=1, scoring=False,
                             dead_letter_path=str(tmp_path / "dead.jsonl"))
    hub = ExportHub(catalog, min_publish_interval_s=0.0)
    done: list[int] = []
    runner = threading.Thread(target=lambda: done.append(run_pipeline(settings, catalog=catalog, hub=hub).accepted))
    runner.start()
    samples: list[float] = []
    try:
        deadline = time.monotonic() + 30
        while not done and time.monotonic() < deadline:
            found = SAMPLE.search(hub.scrape().decode())
            if found:
                samples.append(float(found.group(1)))
            time.sleep(0.1)
    finally:
        runner.join(60)
    assert done == [len(frame)]
    # through the gap the series got staler with the replay clock (stale after 3 cadences of 10 minutes): a run
    # of rising samples up to the largest one (a reading the flow was late with can cut an earlier run short)
    top = int(np.argmax(samples))
    first = top
    while first > 0 and samples[first - 1] <= samples[first]:
        first -= 1
    assert samples[top] > 10 * 3600 and samples[top] - samples[first] > 5 * 3600 and top - first >= 5, \
        f"staleness per sample, hours: {' '.join(f'{v / 3600:.1f}' for v in samples)}"
