"""The pipeline of the end-to-end alerting test, as a separate process: the simulated small city with one
slow-onset incident in a known district and no faults, paced in event time from PACE_FROM_MINUTES after the start
(the warm-up before it as fast as possible: the ``pace_from`` setting), metrics on a given port; a planned works
in the district, due after the simulated day (so it changes nothing and the district dashboard lists it as to
come).

    python tests/integration/e2e_pipeline.py PORT MODELS_DIR SPEED PACE_FROM_MINUTES INCIDENT_MINUTES ONSET_MINUTES \
        STREETS KIND DISTRICT
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from pipelines.run import run_pipeline
from vitals.catalog import load_catalog
from vitals.config import load_settings
from vitals.simulator import CitySimulator, FaultRates, IncidentSpec, SimulatorConfig
from vitals.simulator.config import DEFAULT_START


def main(argv: list[str]) -> int:
    port, models, speed, pace_from, minutes, onset, streets, kind, district = argv
    paced_from = DEFAULT_START + timedelta(minutes=int(pace_from))
    works = Path("planned-works.yaml")
    later, ends = DEFAULT_START + timedelta(days=2), DEFAULT_START + timedelta(days=2, hours=4)
    works.write_text(f"- {{id: e2e-works, from: '{later.isoformat()}', to: '{ends.isoformat()}', "
                     f"district: {district}, domain: water}}\n", encoding="utf-8")
    settings = load_settings(None, {}, streets_total=int(streets), metrics_port=int(port), models_dir=models,
                             speed=float(speed), pace_from=paced_from.isoformat(), dead_letter_path="dead.jsonl",
                             partitions=2, shards=2, planned_works=str(works))
    catalog = load_catalog(streets_total=int(streets))
    incident = IncidentSpec(kind=kind, district=district, start=DEFAULT_START + timedelta(minutes=int(minutes)),
                            onset=timedelta(minutes=int(onset)), plateau=timedelta(minutes=30),
                            recovery=timedelta(minutes=20), severity=3.5)
    config = SimulatorConfig(seed=3, duration=timedelta(hours=7), step_s=30, incidents=(incident,),
                             faults=FaultRates.none())
    sim = CitySimulator(catalog, config)
    summary = run_pipeline(settings, catalog=catalog, simulator=sim)
    sys.stdout.write(summary.describe() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
