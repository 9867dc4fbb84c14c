"""Planned works (``--planned-works``): the file is checked in one line per mistake; which readings fall in a works
against a per-reading oracle (Hypothesis); a scorer that meets a works learns exactly what one that never saw its
readings learns (the detector's state byte for byte), so a real collapse after a planned shutdown is still news;
a running flow follows the file; and ``vitals replay --planned-works`` runs and refuses a bad file in one line."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.cli import main
from vitals.errors import ConfigError
from vitals.planned_works import PlannedWorks, PlannedWorksFile, Works, load_planned_works
from vitals.scoring import ShardScorer

T0 = 1_780_000_000 * 10**9 // (86_400 * 10**9) * 86_400 * 10**9  # a UTC midnight
STEP = 300 * 10**9


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_of_works_reads_into_masks(small_catalog: Catalog, tmp_path: Path) -> None:
    works = load_planned_works(_write(tmp_path / "w.yaml", """
- id: main-repair
  from: 2026-06-02T08:00+08:00
  to: 2026-06-02T12:00+08:00
  district: yubei
  indicator: [water_pressure, water_night_flow]
  comment: ticket 2291
- id: grid-maintenance
  from: 2026-06-03
  to: 2026-06-03
  domain: power
"""), small_catalog)
    first, second = works.works
    assert first.end_ns - first.start_ns == 4 * 3600 * 10**9 and first.comment == "ticket 2291"
    assert first.indicators is not None and first.streets is not None and second.streets is None
    assert {small_catalog.indicators[k].id for k in np.flatnonzero(first.indicators)} == {"water_pressure",
                                                                                          "water_night_flow"}
    assert {small_catalog.streets[k].district_id for k in np.flatnonzero(first.streets)} == {"yubei"}
    assert second.end_ns - second.start_ns == 86_400 * 10**9  # a local day, included
    assert second.indicators is not None
    assert {small_catalog.indicators[k].domain for k in np.flatnonzero(second.indicators)} == {"power"}
    assert len(load_planned_works(_write(tmp_path / "empty.yaml", "# none yet\n"), small_catalog)) == 0


@pytest.mark.parametrize(("text", "message"), [
    ("- {id: a, from: 2026-06-02, to: 2026-06-02, distrct: yubei}", "entry 1: unknown key 'distrct'"),
    ("- {id: a, to: 2026-06-02, district: yubei}", "entry 1: needs 'from'"),
    ("- {id: a, from: 2026-06-03, to: 2026-06-02, district: yubei}", "'to' 2026-06-02 is not after 'from'"),
    ("- {id: a, from: 2026-06-02T08:00, to: 2026-06-02, district: yubei}", "'from' '2026-06-02T08:00': give a"),
    ("- {id: a, from: 2026-06-02, to: 2026-06-02}", "needs a district, street, indicator or domain"),
    ("- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubie}", "did you mean yubei?"),
    ("- {id: a, from: 2026-06-02, to: 2026-06-02, domain: watr}", "'domain' 'watr' is not one of"),
    ("- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubei}\n- {id: a, from: 2026-06-02, to: 2026-06-02,"
     " district: yubei}", "id 'a' is used twice"),
    ("id: a\nfrom: 2026-06-02", "a list of works is needed"),
    ("- [unclosed", "cannot read it"),
])
def test_a_bad_file_is_one_line_naming_the_entry(small_catalog: Catalog, tmp_path: Path, text: str,
                                                 message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")) as caught:
        load_planned_works(_write(tmp_path / "w.yaml", text), small_catalog)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read it"):
        load_planned_works(tmp_path / "missing.yaml", small_catalog)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 20), st.booleans(), st.booleans()), max_size=4),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 40)), min_size=1, max_size=60))
def test_inside_against_a_per_reading_oracle(works: list[tuple[int, int, bool, bool]],
                                             readings: list[tuple[int, int, int]]) -> None:
    rng = np.random.default_rng(len(works) * 100 + len(readings))
    built = []
    for k, (start, length, by_indicator, by_street) in enumerate(works):
        built.append(Works(f"w{k}", start, start + length, rng.random(4) < 0.5 if by_indicator else None,
                           rng.random(6) < 0.5 if by_street else None))
    indicator = np.array([r[0] for r in readings], np.int16)
    street = np.array([r[1] for r in readings], np.int32)
    ts = np.array([r[2] for r in readings], np.int64)
    got = PlannedWorks(built).inside(indicator, street, ts)
    want = np.array([any(w.start_ns <= t < w.end_ns and (w.indicators is None or w.indicators[i])
                         and (w.streets is None or w.streets[s]) for w in built)
                     for i, s, t in zip(indicator, street, ts, strict=True)])
    if want.any():
        assert got is not None and np.array_equal(got, want)
    else:
        assert got is None


def _series(catalog: Catalog) -> tuple[int, int, np.ndarray, np.ndarray]:
    """Water pressure on one street: four calm days with a daily swing, a planned shutdown (0 for 4 h) on day 2,
    and on day 5 a real collapse to 0.05 (below every value before, above the shutdown's 0)."""
    indicator = next(k for k, i in enumerate(catalog.indicators) if i.id == "water_pressure")
    n = 5 * 288
    ts = T0 + np.arange(n, dtype=np.int64) * STEP
    day = (np.arange(n) % 288) / 288
    rng = np.random.default_rng(7)
    values = 0.3 + 0.03 * np.sin(2 * np.pi * day) + rng.normal(0, 0.004, n)
    values[288 + 96:288 + 144] = 0.0        # day 2, 08:00-12:00 UTC: the works
    values[4 * 288 + 120:4 * 288 + 140] = 0.05  # day 5: the real collapse
    return indicator, 0, ts, values


def _run(scorer: ShardScorer, catalog: Catalog, series: tuple[int, int], ts: np.ndarray, values: np.ndarray, *,
         planned: PlannedWorks | None = None) -> float:
    """Feed the readings in batches of 37 (a works starts and ends inside a batch); the highest held score of the
    series on day 5 (the real collapse)."""
    indicator, street = series
    row = int(catalog.series_id(np.array([indicator]), np.array([street]))[0])
    best = 0.0
    for start in range(0, len(ts), 37):
        part = slice(start, start + 37)
        count = len(ts[part])
        batch = ReadingBatch(ts[part], np.full(count, indicator, np.int16), np.full(count, street, np.int32),
                             values[part])
        scorer.update(catalog, batch, None, planned=planned)
        if ts[part][-1] >= T0 + 4 * 86_400 * 10**9:
            best = max(best, float(scorer.peak[row]))
    return best


def test_a_scorer_learns_nothing_from_a_works(small_catalog: Catalog) -> None:
    indicator, street, ts, values = _series(small_catalog)
    works = PlannedWorks([Works("shutdown", int(ts[288 + 96]), int(ts[288 + 144]),
                                np.arange(small_catalog.n_indicators) == indicator, None)])
    with_works, never_saw, without = (ShardScorer(small_catalog, 0, 1) for _ in range(3))
    collapse = _run(with_works, small_catalog, (indicator, street), ts, values, planned=works)
    outside = np.ones(len(ts), bool)
    outside[288 + 96:288 + 144] = False
    _run(never_saw, small_catalog, (indicator, street), ts[outside], values[outside])
    collapse_unaware = _run(without, small_catalog, (indicator, street), ts, values)
    # the detector's state after the works is the state of one that never saw its readings, byte for byte
    assert pickle.dumps(with_works.detector) == pickle.dumps(never_saw.detector)
    # the real collapse: a new low with the works left out (0.997); once the shutdown's 0 set the series' low,
    # only the seasonal residual sees it (0.59)
    assert collapse > 0.9 and collapse - collapse_unaware > 0.3, (collapse, collapse_unaware)


def test_a_running_flow_follows_the_file(small_catalog: Catalog, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "w.yaml", "- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubei}\n")
    follower = PlannedWorksFile(path, small_catalog, reload_s=0.0)
    assert [w.id for w in follower.current().works] == ["a"]
    _write(path, "- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubei}\n"
                 "- {id: b, from: 2026-06-03, to: 2026-06-04, street: yubei_s001}\n")
    assert [w.id for w in follower.current().works] == ["a", "b"]
    _write(path, "- {id: c, from: 2026-06-03, to: 2026-06-02, district: yubei}\n")  # a bad edit
    assert [w.id for w in follower.current().works] == ["a", "b"]
    assert "is not after 'from'" in caplog.text and "the 2 works read before stay in force" in caplog.text


def test_replay_with_planned_works(small_catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hours", "2", "--streets", "76", "--seed", "2", "--start", "2026-06-02T00:00:00Z",
                 "--indicators", "water_pressure,substation_load", "--no-progress", "--out",
                 str(tmp_path / "r.parquet")]) == 0
    works = _write(tmp_path / "w.yaml", "- {id: a, from: 2026-06-02T08:00+08:00, to: 2026-06-02T09:00+08:00, "
                                         "domain: water}\n")
    common = [sys.executable, "-m", "vitals", "-v", "replay", str(tmp_path / "r.parquet"), "--streets", "76",
              "--metrics-port", "0", "--no-progress", "--dead-letters", str(tmp_path / "dead.jsonl")]
    done = subprocess.run([*common, "--planned-works", str(works), "--final-vitals", str(tmp_path / "f.parquet")],
                          check=False, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert f"planned works: 1 from {works}" in done.stderr and (tmp_path / "f.parquet").exists()
    bad = _write(tmp_path / "bad.yaml", "- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubie}\n")
    refused = subprocess.run([*common, "--planned-works", str(bad)], check=False, capture_output=True, text=True,
                             timeout=240)
    error = [line for line in refused.stderr.splitlines() if "error" in line]
    assert refused.returncode == 1 and len(error) == 1 and "did you mean yubei?" in error[0]
    assert main(["replay", str(tmp_path / "r.parquet"), "--streets", "76", "--planned-works", str(bad),
                 "--dry-run"]) == 1  # the dry run checks it too
    assert "did you mean yubei?" in capsys.readouterr().err


def test_the_documented_example_reads(catalog: Catalog, tmp_path: Path) -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerting.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# planned-works\.yaml.*?)```", doc, re.S)
    assert block is not None
    works = load_planned_works(_write(tmp_path / "planned-works.yaml", block.group(1)), catalog)
    assert [w.id for w in works.works] == ["main-repair-2291", "substation-maintenance"]


def test_train_takes_planned_works_with_a_history_only(small_catalog: Catalog, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    works = _write(tmp_path / "w.yaml", "- {id: a, from: 2026-06-02, to: 2026-06-02, district: yubei}\n")
    assert main(["train", "--simulate-days", "1", "--streets", "76", "--planned-works", str(works),
                 "--models-dir", str(tmp_path / "m"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--planned-works leaves readings of a stored history out; give --history DIR" in err
    assert err.count("\n") == 1


def test_the_flow_counts_the_readings_it_kept_from_the_detector(small_catalog: Catalog, tmp_path: Path) -> None:
    """Through the shard step (the flow's code) to the exporter: ``vitals_readings_planned_works_total`` is the
    number of accepted readings inside a works; they are accepted readings too."""
    from prometheus_client import CollectorRegistry

    from vitals import metric_names as mn
    from vitals.exporter import PipelineCollector, PipelineStats, ShardCounts
    from vitals.stream.shard_step import ShardProcessor

    indicator, street, ts, values = _series(small_catalog)
    start, end = np.datetime64(int(ts[288 + 96]), "ns"), np.datetime64(int(ts[288 + 144]), "ns")
    works = _write(tmp_path / "w.yaml", f"- {{id: shutdown, from: {start}Z, to: {end}Z, indicator: water_pressure, "
                                        f"street: {small_catalog.streets[street].id}}}\n")
    processor = ShardProcessor(small_catalog, 1, scoring=True, keep_history=False,
                               planned_works=PlannedWorksFile(works, small_catalog))
    mem = processor.initial_memory(0)
    for at in range(0, len(ts), 500):
        part = slice(at, at + 500)
        count = len(ts[part])
        processor.apply(mem, ReadingBatch(ts[part], np.full(count, indicator, np.int16),
                                          np.full(count, street, np.int32), values[part]))
    assert mem.planned == 48 and mem.accepted == len(ts)
    published = processor.publish(mem, [])
    stats = PipelineStats()
    stats.update_shard(0, ShardCounts(published.accepted, published.duplicates, published.state_series,
                                      published.state_bytes, planned=published.planned))
    registry = CollectorRegistry()
    registry.register(PipelineCollector(stats))
    assert registry.get_sample_value(mn.READINGS_PLANNED_WORKS) == 48


def test_works_in_progress_are_exported_by_event_time(small_catalog: Catalog, tmp_path: Path) -> None:
    """``vitals_planned_works_active{works, district}``: 1 in progress at the flow's event clock, 0 still to come
    (and every works 0 before the first reading), absent once over; a works without a place touches every
    district."""
    from prometheus_client import CollectorRegistry

    from vitals import metric_names as mn
    from vitals.exporter import PipelineCollector, PipelineStats, ShardCounts

    works = load_planned_works(_write(tmp_path / "w.yaml", """
- {id: now, from: 2026-06-02T00:00Z, to: 2026-06-02T06:00Z, district: [yubei, jiangbei], domain: water}
- {id: next, from: 2026-06-03T00:00Z, to: 2026-06-04T00:00Z, street: yuzhong_s001}
- {id: past, from: 2026-06-01T00:00Z, to: 2026-06-01T06:00Z, district: yubei}
- {id: citywide, from: 2026-06-02T00:00Z, to: 2026-06-02T06:00Z, indicator: rainfall_1h}
"""), small_catalog)
    stats = PipelineStats()
    stats.show_planned_works(lambda: works)
    registry = CollectorRegistry()
    registry.register(PipelineCollector(stats))

    def active() -> dict[tuple[str, str], float]:
        return {(s.labels["works"], s.labels["district"]): s.value for m in registry.collect()
                if m.name == mn.PLANNED_WORKS_ACTIVE for s in m.samples}

    assert all(v == 0.0 for v in active().values())  # no reading yet: nothing is in progress
    stats.update_shard(0, ShardCounts(last_event_s=1_780_372_800.0))  # 2026-06-02T04:00Z
    got = active()
    assert got[("now", "yubei")] == got[("now", "jiangbei")] == 1.0 and got[("next", "yuzhong")] == 0.0
    assert not any(works_id == "past" for works_id, _ in got)
    assert {d for w, d in got if w == "citywide"} == {d.id for d in small_catalog.districts}
    assert len(got) == 3 + len(small_catalog.districts)
