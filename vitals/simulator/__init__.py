"""The city simulator: seasonal, correlated, incident-laden, faulty readings with ground truth.

Quick use::

    from vitals.catalog import load_catalog
    from vitals.simulator import CitySimulator, SimulatorConfig

    sim = CitySimulator(load_catalog(streets_total=76), SimulatorConfig(seed=7))
    for batch in sim.batches(partition=0, n_partitions=2):
        ...
    sim.labels()      # NAB combined_windows format
    sim.incidents()   # kinds, places, windows, first orange crossings
"""

from vitals.simulator.city import CitySimulator
from vitals.simulator.config import DEFAULT_START, FaultRates, IncidentSpec, SimulatorConfig
from vitals.simulator.faults import FAULT_NAMES
from vitals.simulator.incidents import INCIDENT_KINDS
from vitals.simulator.truth import IncidentRecord, SeriesTruth

__all__ = [
    "DEFAULT_START", "FAULT_NAMES", "INCIDENT_KINDS", "CitySimulator", "FaultRates", "IncidentRecord",
    "IncidentSpec", "SeriesTruth", "SimulatorConfig",
]
