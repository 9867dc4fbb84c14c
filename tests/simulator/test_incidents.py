"""Incidents: every kind reaches orange with a slow onset, effects cross indicators, labels cover them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.health.levels import warning_levels
from vitals.simulator import DEFAULT_START, INCIDENT_KINDS, CitySimulator, FaultRates, IncidentSpec, SimulatorConfig

NAB_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _parse(text: str) -> datetime:
    return datetime.strptime(text, NAB_FORMAT).replace(tzinfo=UTC)


def test_every_kind_is_injected_where_asked(every_kind_sim: CitySimulator) -> None:
    records = every_kind_sim.incidents()
    assert [r.kind for r in records] == list(INCIDENT_KINDS)
    for spec, record in zip(every_kind_sim.config.incidents, records, strict=True):
        assert isinstance(spec, IncidentSpec)
        assert record.district == spec.district and record.start == spec.start
        assert record.onset_end - record.start == spec.onset
        assert all(s.startswith(spec.district + "_") for s in record.streets)
        assert record.indicators[0] == INCIDENT_KINDS[spec.kind].primary
        assert len(record.indicators) >= 3  # effects cross indicators


def test_primary_reaches_orange_after_a_slow_onset(every_kind_sim: CitySimulator) -> None:
    for record in every_kind_sim.incidents():
        primary = [s for s in record.series if s.indicator == record.primary]
        assert len(primary) == len(record.streets)
        for truth in primary:
            assert truth.peak_level >= 3, (record.kind, truth)
            assert truth.orange_at is not None
            # early warning has something to predict: orange comes well after the onset begins
            assert truth.orange_at - record.start >= timedelta(minutes=20), (record.kind, truth)
            assert truth.orange_at <= record.onset_end + timedelta(seconds=every_kind_sim.catalog.indicator(
                truth.indicator).cadence_s)


def test_noisy_readings_on_the_plateau_are_at_orange(every_kind_sim: CitySimulator) -> None:
    """The readings themselves (noise, shared factors and all) sit at orange or worse on the plateau."""
    cat = every_kind_sim.catalog
    batch = every_kind_sim.read_all()
    levels = warning_levels(cat, batch.indicator, batch.value, batch.ts_ns)
    for record in every_kind_sim.incidents():
        lo, hi = (pd.Timestamp(t).value for t in (record.onset_end, record.plateau_end))
        code = cat.indicator_index[record.primary]
        streets = [cat.street_index[s] for s in record.streets]
        on_plateau = (batch.indicator == code) & np.isin(batch.street, streets) & (batch.ts_ns >= lo) & (
            batch.ts_ns < hi)
        assert on_plateau.sum() >= 2, record.kind
        assert np.mean(levels[on_plateau] >= 3) >= 0.9, record.kind


def test_noise_free_truth_matches_an_independent_recomputation(every_kind_sim: CitySimulator) -> None:
    """Oracle: recompute orange crossings from the reading times with the seasonal model and the envelope."""
    sim = every_kind_sim
    cat = sim.catalog
    for record in sim.incidents()[:3]:
        for truth in record.series:
            code = cat.indicator_index[truth.indicator]
            times = pd.date_range(truth.window_start, truth.window_end, freq="1s", inclusive="left").as_unit("ns")
            sel = (sim.selection.indicator == code) & (sim.selection.street == cat.street_index[truth.street])
            local = int(np.flatnonzero(sel)[0])
            phase, cadence = int(sim.selection.phase_ns[local]), int(sim.selection.cadence_ns[local])
            ts = times.asi8[(times.asi8 - sim.config.start_ns - phase) % cadence == 0]
            value = sim.signal.expected(np.full(ts.size, local), ts) + sim.effects.delta_at(np.full(ts.size, local), ts)
            value = np.clip(value, cat.valid_min_array[code], cat.valid_max_array[code])
            levels = warning_levels(cat, np.full(ts.size, code), value, ts)
            assert truth.peak_level == int(levels.max(initial=0))
            first = ts[np.argmax(levels >= 3)] if (levels >= 3).any() else None
            assert (truth.orange_at is None) == (first is None)
            if first is not None:
                assert pd.Timestamp(truth.orange_at).value == first


def test_labels_cover_the_incidents_in_nab_format(every_kind_sim: CitySimulator) -> None:
    labels = every_kind_sim.labels()
    assert labels and all("/" in key for key in labels)
    for record in every_kind_sim.incidents():
        for truth in record.series:
            key = f"{truth.indicator}/{truth.street}"
            if truth.peak_level < 1:
                continue
            windows = [(_parse(a), _parse(b)) for a, b in labels[key]]
            assert any(a <= truth.window_start and truth.window_end <= b for a, b in windows)
            if truth.orange_at is not None:
                assert any(a <= truth.orange_at <= b for a, b in windows)
    keys = {f"{t.indicator}/{t.street}" for r in every_kind_sim.incidents() for t in r.series if t.peak_level >= 1}
    assert set(labels) == keys


def test_auto_incidents_follow_the_rate(small_catalog: Catalog) -> None:
    cfg = SimulatorConfig(seed=4, duration=timedelta(days=3), incidents_per_day=6, faults=FaultRates.none(),
                          step_s=300)
    records = CitySimulator(small_catalog, cfg).incidents()
    assert 8 <= len(records) <= 30
    assert len({r.kind for r in records}) >= 4
    end = cfg.start + cfg.duration
    for r in records:
        assert cfg.start + timedelta(hours=6) <= r.start < end
        assert 3.3 <= r.severity <= 4.2
        assert any(s.orange_at is not None for s in r.series if s.indicator == r.primary)


def test_auto_incidents_only_use_simulated_indicators(small_catalog: Catalog) -> None:
    cfg = SimulatorConfig(seed=4, duration=timedelta(days=2), incidents_per_day=10, step_s=300,
                          indicators=("gas_concentration", "gas_pressure_deviation", "traffic_index"))
    records = CitySimulator(small_catalog, cfg).incidents()
    assert records and {r.kind for r in records} == {"gas_leak"}


@pytest.mark.parametrize(("spec", "message"), [
    (IncidentSpec("tornado", "yuzhong", DEFAULT_START), "unknown incident kind"),
    (IncidentSpec("gas_leak", "atlantis", DEFAULT_START), "unknown district"),
    (IncidentSpec("gas_leak", "yuzhong", DEFAULT_START, streets=("jiangbei_s001",)), "not simulated streets"),
    (IncidentSpec("gas_leak", "yuzhong", DEFAULT_START, severity=2.0), "severity"),
])
def test_bad_incident_specs_are_explained(small_catalog: Catalog, spec: IncidentSpec, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CitySimulator(small_catalog, SimulatorConfig(incidents=(spec,), duration=timedelta(hours=1)))


def test_overlapping_incidents_add_up(small_catalog: Catalog) -> None:
    start = DEFAULT_START + timedelta(hours=2)
    one = IncidentSpec("crowd_surge", "yuzhong", start, streets=("yuzhong_s001",), severity=3.2)
    cfg = SimulatorConfig(incidents=(one, one), duration=timedelta(hours=6), faults=FaultRates.none())
    records = CitySimulator(small_catalog, cfg).incidents()
    single = CitySimulator(small_catalog, SimulatorConfig(incidents=(one,), duration=timedelta(hours=6))).incidents()
    crowd = next(s for s in records[0].series if s.indicator == "crowd_occupancy")
    alone = next(s for s in single[0].series if s.indicator == "crowd_occupancy")
    assert crowd.peak_level >= alone.peak_level
    assert crowd.orange_at is not None and alone.orange_at is not None and crowd.orange_at <= alone.orange_at
