"""Small simulated cities shared by the simulator tests (76 streets, a few hours: each builds in < 1 s)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vitals.catalog import Catalog
from vitals.simulator import DEFAULT_START, CitySimulator, FaultRates, IncidentSpec, SimulatorConfig

HEAVY_FAULTS = FaultRates(stuck=1.0, silent=1.0, spike=2e-3, impossible=2e-3, duplicate=2e-3, late=4e-3)


@pytest.fixture(scope="session")
def faulty_sim(small_catalog: Catalog) -> CitySimulator:
    """12 hours with frequent faults and automatic incidents."""
    cfg = SimulatorConfig(seed=11, duration=timedelta(hours=8), faults=HEAVY_FAULTS, incidents_per_day=12)
    return CitySimulator(small_catalog, cfg)


@pytest.fixture(scope="session")
def every_kind_sim(small_catalog: Catalog) -> CitySimulator:
    """One incident of every kind, in different districts, no faults."""
    kinds = ("rainstorm", "water_main_burst", "substation_overload", "gas_leak", "metro_disruption", "crowd_surge")
    districts = ("yuzhong", "jiangbei", "shapingba", "nanan", "wanzhou", "fuling")
    specs = tuple(
        IncidentSpec(kind=k, district=d, start=DEFAULT_START + timedelta(hours=6 + i), severity=3.2 + 0.15 * i)
        for i, (k, d) in enumerate(zip(kinds, districts, strict=True))
    )
    cfg = SimulatorConfig(seed=5, duration=timedelta(hours=16), incidents=specs, faults=FaultRates.none(), step_s=30)
    return CitySimulator(small_catalog, cfg)
