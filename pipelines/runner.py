"""The Bytewax runner the ``vitals`` commands receive (:class:`vitals.runner.FlowRunner`), registered as the entry
point ``city_vitals.runners: bytewax``. Bytewax and the flow's modules load when a method is first called."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.preflight import Checked
    from vitals.config import Settings
    from vitals.runner import FlowRunner, RunSummary


class BytewaxRunner:
    """:func:`pipelines.run.run_pipeline`, :func:`pipelines.preflight.preflight` and
    :func:`pipelines.run.write_scrape_config` behind the runner protocol."""

    def run_pipeline(self, settings: Settings, **options: Any) -> RunSummary:
        from pipelines.run import run_pipeline

        return run_pipeline(settings, **options)

    def preflight(self, settings: Settings, *, final_vitals: str | Path | None = None,
                  scrape_config: str | Path | None = None) -> Checked:
        from pipelines.preflight import preflight

        return preflight(settings, final_vitals=final_vitals, scrape_config=scrape_config)

    def write_scrape_config(self, settings: Settings, path: str | Path) -> Path:
        from pipelines.run import write_scrape_config

        return write_scrape_config(settings, path)


RUNNER: FlowRunner = BytewaxRunner()
