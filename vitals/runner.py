"""The flow runner the commands receive: what ``vitals run``, ``replay``, ``demo`` and ``--dry-run`` need from the
wiring in ``pipelines/``, as a Protocol, and how a command finds the installed one.

The library never imports ``pipelines/`` (tests/test_imports.py): the runner is registered by name under the entry
point group ``city_vitals.runners`` (``bytewax = "pipelines.runner:RUNNER"`` in pyproject.toml) and loaded when a
command first needs it, or passed in (``vitals.cli.main(argv, runner=...)``), e.g. by a test or an embedding
application.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vitals.errors import ConfigError

if TYPE_CHECKING:
    from vitals.catalog import Catalog
    from vitals.config import Settings
    from vitals.exporter import ExportHub

RUNNER_GROUP = "city_vitals.runners"
DEFAULT_RUNNER = "bytewax"


@dataclass
class RunSummary:
    """What one run did: the line ``vitals replay`` prints, and where its outputs went."""

    inputs: int
    accepted: int
    rejected: dict[str, int]
    seconds: float
    metrics_url: str | None
    final_vitals: Path | None = None

    def describe(self) -> str:
        rate = self.inputs / self.seconds if self.seconds > 0 else 0.0
        bad = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items()) if v) or "none"
        return (f"{self.inputs:,} readings in {self.seconds:.1f}s ({rate:,.0f}/s): {self.accepted:,} accepted; "
                f"rejected: {bad}")


class Preflight(Protocol):
    """What the runner's checks found that a dry run reports."""

    @property
    def init_recovery(self) -> bool: ...


class FlowRunner(Protocol):
    """Runs the flow built from the settings (the Bytewax wiring in ``pipelines/`` is the installed one)."""

    def run_pipeline(
        self, settings: Settings, *, catalog: Catalog | None = None, hub: ExportHub | None = None,
        simulator: Any = None, progress: bool = False,
        on_publisher: Callable[[Any], None] | None = None, final_vitals: str | Path | None = None,
    ) -> RunSummary: ...

    def preflight(self, settings: Settings, *, final_vitals: str | Path | None = None,
                  scrape_config: str | Path | None = None) -> Preflight: ...

    def write_scrape_config(self, settings: Settings, path: str | Path) -> Path: ...


def load_runner(name: str = DEFAULT_RUNNER) -> FlowRunner:
    """The runner registered as ``name`` in the ``city_vitals.runners`` entry point group."""
    from importlib.metadata import entry_points

    found = entry_points(group=RUNNER_GROUP, name=name)
    if not found:
        known = sorted(ep.name for ep in entry_points(group=RUNNER_GROUP))
        msg = (f"no flow runner {name!r} is installed (entry points {RUNNER_GROUP}: {', '.join(known) or 'none'}); "
               "install city-vitals with `pip install -e .` (or `make setup`)")
        raise ConfigError(msg)
    runner: FlowRunner = next(iter(found)).load()
    return runner


class RunnerRef:
    """The runner of one command line: the one passed in, or the installed one, loaded on first use (so
    ``vitals --help`` and the analysts' commands never load the flow's libraries)."""

    def __init__(self, runner: FlowRunner | None = None, name: str = DEFAULT_RUNNER) -> None:
        self._runner, self.name = runner, name

    def __call__(self) -> FlowRunner:
        if self._runner is None:
            self._runner = load_runner(self.name)
        return self._runner
