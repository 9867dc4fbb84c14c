"""Check-up measures on hand-made snapshots: how long a snapshot holds, episodes, alerts, incidents merged per
district, time to recover, data quality; the vulnerability score's half points, monotonicity and reasons."""

from __future__ import annotations

import numpy as np

from vitals.catalog import Catalog
from vitals.checkup.load import Snapshots, _hold
from vitals.checkup.measures import Groups, carried_level, episodes, group_table, incidents
from vitals.checkup.score import HALF, Raw, reasons, saturate, vulnerability

MIN = 60 * 10**9
T0 = 1_772_380_800 * 10**9  # 2026-03-01 16:00 UTC = 2026-03-02 00:00 in Chongqing


def _snap(catalog: Catalog, levels: list[list[int]], series: list[int],
          peaks: list[list[int]] | None = None) -> Snapshots:
    level = np.asarray(levels, dtype=np.int8)
    peak = level if peaks is None else np.asarray(peaks, dtype=np.int8)
    n, t = level.shape
    at = T0 + np.arange(t, dtype=np.int64) * 5 * MIN
    end = T0 + t * 5 * MIN
    zeros = np.zeros((n, t), dtype=bool)
    return Snapshots(T0, end, np.asarray(series, dtype=np.int64), at, level, peak,
                     _hold(level >= 0, at, end, 900.0), zeros, zeros.copy(), np.zeros((n, t), dtype=np.float32), None)


def test_hold_until_the_next_snapshot_capped() -> None:
    present = np.array([[1, 1, 0, 0, 0, 0, 1, 0]], dtype=bool)
    at = T0 + np.arange(8, dtype=np.int64) * 5 * MIN
    hold = _hold(present, at, T0 + 8 * 5 * MIN, 900.0)
    np.testing.assert_array_equal(hold[0], [300, 900, 0, 0, 0, 0, 600, 0])  # 25 min gap capped at 15
    # a cap per series (read_snapshots: 1.25 cadences when longer): an hourly series' snapshots hold to the next
    hold = _hold(np.vstack([present, present]), at, T0 + 8 * 5 * MIN, np.array([900.0, 4500.0]))
    np.testing.assert_array_equal(hold[1], [300, 1500, 0, 0, 0, 0, 600, 0])


def test_episodes_alerts_incidents_and_recovery(small_catalog: Catalog) -> None:
    n = small_catalog.n_streets
    yuzhong = [small_catalog.street_index[s.id] for s in small_catalog.streets_of("yuzhong")]
    jiangbei = small_catalog.street_index[small_catalog.streets_of("jiangbei")[0].id]
    a, b, c = 5 * n + yuzhong[0], 13 * n + yuzhong[0], 5 * n + jiangbei
    #      ticks: 0  1  2  3  4  5  6  7  8  9 10 11
    levels = [[0, 1, 2, 3, 3, 1, 0, 0, 0, 0, 0, 0],    # a: peaks orange at 3, normal at 6
              [0, 0, 0, 0, 0, 0, 0, 0, 2, -1, 2, 1],   # b: same district, 10 min after a ends: one incident
              [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4]]    # c: a blue blip, then red open at the end
    snap = _snap(small_catalog, levels, [a, b, c])
    np.testing.assert_array_equal(carried_level(snap)[1, 8:], [2, 2, 2, 1])
    eps = episodes(snap)
    assert [(e.series, e.peak, e.open_end) for e in eps] == [(a, 3, False), (b, 2, True), (c, 1, False),
                                                              (c, 4, True)]
    assert eps[0].end_ns - eps[0].start_ns == 25 * MIN and eps[0].peak_ns == T0 + 15 * MIN
    incs = incidents(eps, small_catalog)
    assert [(small_catalog.districts[i.district].id, i.peak, len(i.series)) for i in incs] == [
        ("yuzhong", 3, 2), ("jiangbei", 4, 1)]
    assert incs[0].open_end and incs[0].recovery_s is None  # b is still at a level at the end
    # each district its group
    code = small_catalog.street_district_array[snap.series % n].astype(np.int64)
    table = group_table(snap, Groups(code, len(small_catalog.districts)), eps, incs,
                        np.full(len(small_catalog.districts), 2))
    y = small_catalog.district_index["yuzhong"]
    row = table.loc[y]
    assert row["episodes"] == 2 and row["incidents"] == 1 and row["incidents_orange"] == 1
    assert (row["alerts_blue"], row["alerts_yellow"], row["alerts_orange"], row["alerts_red"]) == (2, 2, 1, 0)
    assert row["hours_orange"] == 10 / 60 and row["share_warning"] > 0
    # b has no snapshot at tick 9: its coverage is 11 of 12 snapshots' time (a 5-min gap holds the previous one)
    assert row["coverage"] == 1.0
    assert table.loc[small_catalog.district_index["jiangbei"], "alerts_red"] == 1


def test_recovery_of_a_closed_incident(small_catalog: Catalog) -> None:
    street = small_catalog.street_index[small_catalog.streets_of("nanan")[0].id]
    snap = _snap(small_catalog, [[0, 2, 3, 3, 2, 1, 0, 0]], [street])
    (inc,) = incidents(episodes(snap), small_catalog)
    assert inc.recovery_s == 4 * 300.0  # orange first at tick 2, normal at tick 6


def test_vulnerability_score_half_points_and_reasons() -> None:
    raw = Raw(np.array([0.0, HALF["exposure"], 0.2]), np.array([0.0, HALF["frequency_district"], 20.0]),
              np.array([0.0, 1 / 3, 1.0]), np.array([np.nan, HALF["recovery"], 36000.0]))
    comp = vulnerability(raw)
    assert comp.loc[0, "score"] == 0.0
    np.testing.assert_allclose(comp.loc[1, ["exposure", "frequency", "recovery"]].to_numpy(float), 0.5)
    assert comp["score"].is_monotonic_increasing and comp.loc[2, "score"] > 80
    assert reasons(raw, comp, 0) == []
    words = reasons(raw, comp, 2)
    assert len(words) == 2 and all(any(k in w for k in ("exposure", "frequency", "severity", "recovery"))
                                   for w in words)
    assert "起" in "".join(reasons(raw, comp, 2, "zh")) or "%" in "".join(reasons(raw, comp, 2, "zh"))
    np.testing.assert_allclose(saturate(np.array([1.0, 3.0]), 1.0), [0.5, 0.75])


def test_a_warning_between_two_snapshots_is_an_episode(small_catalog: Catalog) -> None:
    """``peak_level``: a level that rose and fell between two snapshots at normal is an episode from the second
    snapshot to the next; within an episode the worst interval (the closing one included) sets its peak; the time
    at each level still comes from the snapshots' levels."""
    street = small_catalog.street_index[small_catalog.streets_of("yuzhong")[0].id]
    snap = _snap(small_catalog, [[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]], [street, street + 1],
                 peaks=[[0, 0, 3, 0, 1, 2, 3, 0], [0, 0, 0, 0, 0, 0, 0, 0]])
    eps = episodes(snap)
    assert [(e.series, (e.start_ns - T0) // MIN, (e.end_ns - T0) // MIN, e.peak) for e in eps] == [
        (street, 10, 15, 3),  # orange between the snapshots at 5 and 10 min: seen at 10, held to the next
        (street, 20, 30, 3),  # blue at 20 and 25, yellow within (20, 25], orange in the interval it ended in
    ]
    assert eps[1].peak_ns == T0 + 30 * MIN
    assert [e.between for e in eps] == [True, False]
    same = _snap(small_catalog, [[0, 0, 0, 0, 1, 1, 0, 0]], [street])  # without peaks: the levels alone
    assert [(e.start_ns, e.end_ns, e.peak) for e in episodes(same)] == [(T0 + 20 * MIN, T0 + 30 * MIN, 1)]
    table = group_table(snap, Groups(np.zeros(2, dtype=np.int64), 1), eps, incidents(eps, small_catalog),
                        np.array([2]))
    assert table.loc[0, "hours_blue"] == 2 * 300 / 3600 and table.loc[0, "hours_orange"] == 0.0
    assert table.loc[0, "alerts_orange"] == 2
