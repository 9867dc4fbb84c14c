"""The city backtest report on a hand-made timeline: every event with its plot, misses and false alarms listed
with theirs (the plot limit said on the page), readable labels and durations, threshold lines in the unit."""

from __future__ import annotations

import re

import numpy as np

from vitals.backtest.city_measures import Timeline, alarms, false_alarm_episodes, false_alarms
from vitals.backtest.city_plots import threshold_lines
from vitals.backtest.city_report import write_city_report
from vitals.catalog import Catalog
from vitals.catalog.seasonality import SeasonalModel
from vitals.labels import LabelledWindow

MIN = 60 * 10**9
T0 = 1_772_409_600 * 10**9


def _timeline(catalog: Catalog, ticks: int = 240) -> tuple[Timeline, list[LabelledWindow]]:
    street = catalog.street_index[catalog.streets_of("yuzhong")[0].id]
    rows = [catalog.indicator_index[i] * catalog.n_streets + street
            for i in ("water_pressure", "substation_load", "hotline_tickets")]
    series = np.asarray(rows, dtype=np.int64)
    level = np.zeros((3, ticks), dtype=np.int8)
    early = np.zeros((3, ticks), dtype=bool)
    level[0, 100:130] = 3            # event 1: warned by the level
    early[0, 90:100] = True
    early[2, 40:50] = True           # series 2: false alarms (no window), three of them
    early[2, 150:160] = True
    early[2, 200:210] = True
    value = np.full((3, ticks), 50.0, dtype=np.float32)
    tl = Timeline(T0 + np.arange(ticks, dtype=np.int64) * MIN, series, level, early,
                  np.zeros((3, ticks), dtype=np.float32), value, value, value - 5, value + 5)
    events = [LabelledWindow(rows[0], T0 + 80 * MIN, T0 + 140 * MIN, T0 + 100 * MIN, 1),
              LabelledWindow(rows[1], T0 + 80 * MIN, T0 + 140 * MIN, T0 + 110 * MIN, 1)]  # event 2: missed
    return tl, events


def test_false_alarm_episodes_are_the_counted_ones(small_catalog: Catalog) -> None:
    tl, events = _timeline(small_catalog)
    fire = alarms(tl)["warning"]
    for warmup in (0, int(T0 + 60 * MIN)):
        listed = false_alarm_episodes(tl, fire, events, after_s=3600.0, warmup_ns=warmup)
        counts = false_alarms(tl, fire, events, after_s=3600.0, warmup_ns=warmup)
        assert len(listed) == int(counts.sum())
        assert [(e.row, e.start) for e in listed][: 1] == [(2, 42 if warmup == 0 else 152)]  # the 2-minute hold


def test_report_lists_every_event_miss_and_false_alarm(small_catalog: Catalog, tmp_path) -> None:
    tl, events = _timeline(small_catalog)
    figures = {"streets": 76, "events_orange": 2, "recall_warning": 0.5, "false_alarms_warning": 3,
               "lead_time_median_s": 1044.0, "seconds": 5400.0, "new_figure_x": 1.5}
    path = tmp_path / "r.html"
    write_city_report(path, tl, events, figures, small_catalog, warmup_s=0.0)
    page = path.read_text()
    assert page.count("<details class='event'") == 2
    assert "Missed orange events (1)" in page and "MISSED" in page
    assert page.count("<details class='false-alarm'") == 3 and "False alarms of the warning (3)" in page
    assert page.count("data:image/png;base64,") == 2 + 1 + 3  # events, the miss again (open), false alarms
    assert "供水管网压力" in page and "Water network pressure" in page and "(MPa)" in page
    assert "17.4 min" in page and "1.5 h" in page and "50.0 %" in page  # lead, run time, recall
    assert "new figure x" in page and "recall_warning" not in page
    assert "http://" not in page and "https://" not in page and "Content-Security-Policy" in page
    # a plot limit below the count is said on the page; the table still lists all
    write_city_report(path, tl, events, figures, small_catalog, warmup_s=0.0, max_false_alarm_plots=1)
    page = path.read_text()
    assert page.count("<details class='false-alarm'") == 1 and "Plots for the first 1 of 3 false alarms" in page
    assert len(re.findall(r"<tr><td class='num'>\d+</td>", page)) == 3


def test_threshold_lines_in_the_indicator_unit(small_catalog: Catalog) -> None:
    ts = T0 + np.arange(3, dtype=np.int64) * MIN
    up = small_catalog.indicator_index["substation_load"]
    assert [(lv, line[0]) for lv, line in threshold_lines(small_catalog, up, ts)] == [
        (1, 80.0), (2, 90.0), (3, 100.0), (4, 110.0)]
    both = small_catalog.indicator_index["voltage_deviation"]
    ind = small_catalog.indicators[both]
    lines = threshold_lines(small_catalog, both, ts)
    assert len(lines) == 8 and {line[0] for _, line in lines} >= {ind.center + ind.thresholds.orange,
                                                                 ind.center - ind.thresholds.orange}
    z = small_catalog.indicator_index["hotline_tickets"]
    model = SeasonalModel(small_catalog)
    expected = model.expected(np.full(3, z), ts)
    orange = dict(threshold_lines(small_catalog, z, ts))[3]
    np.testing.assert_allclose(orange, expected + small_catalog.indicators[z].thresholds.orange * model.noise[z])
