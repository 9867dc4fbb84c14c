"""Command-line options shared by `vitals run`, `vitals replay` and `vitals demo`, mapped onto Settings."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from vitals.config import Settings, load_settings
from vitals.runner import FlowRunner

# option dest -> Settings field
_FIELD_OF = {
    "catalog": "catalog", "streets": "streets_total", "workers": "workers", "process_id": "process_id",
    "addresses": "addresses", "recovery_dir": "recovery_dir", "history_dir": "history_dir",
    "dead_letters": "dead_letter_path", "metrics_port": "metrics_port", "metrics_host": "metrics_host",
    "lateness": "allowed_lateness_s", "shards": "shards", "partitions": "partitions", "speed": "speed",
    "pace_from": "pace_from",
    "seed": "seed", "batch_size": "batch_size", "snapshot_interval": "snapshot_interval_s",
    "history_chunk_rows": "history_chunk_rows", "history_vitals_every": "history_vitals_every_s",
    "models_dir": "models_dir",
    "dead_letters_max": "dead_letter_max_entries", "dead_letters_max_mb": "dead_letter_max_mb",
    "web_config": "web_config", "plugins": "plugins", "planned_works": "planned_works",
}
CATALOG_HELP = "catalog file (default: the catalog setting, VITALS_CATALOG, else the shipped model city)"
MODELS_HELP = ("models directory (default: the models_dir setting or VITALS_MODELS_DIR, else models/ next to the "
               "catalog; the shipped models for the shipped catalog); see docs/catalog.md")


def add_catalog_options(p: argparse.ArgumentParser, *, config: bool = True, streets: bool = True,
                        models: bool = False) -> None:
    """``--config``, ``--catalog`` (and ``--streets``, ``--models-dir``) for commands outside the pipeline."""
    if config:
        p.add_argument("--config", metavar="FILE", help="YAML settings file (catalog, streets_total, models_dir ...)")
    p.add_argument("--catalog", metavar="FILE", help=CATALOG_HELP)
    if streets:
        p.add_argument("--streets", type=int, metavar="N",
                       help="generate N streets in all (catalogs with generated streets; default 1,031)")
    if models:
        p.add_argument("--models-dir", metavar="DIR", help=MODELS_HELP)


def catalog_settings(args: argparse.Namespace) -> Settings:
    """Settings from ``--config``, ``VITALS_*`` and the catalog options (only catalog, streets, models apply)."""
    return load_settings(getattr(args, "config", None), catalog=getattr(args, "catalog", None),
                         streets_total=getattr(args, "streets", None), models_dir=getattr(args, "models_dir", None))


def load_catalog_from(settings: Settings) -> Any:
    from vitals.catalog import load_catalog

    return load_catalog(settings.catalog, streets_total=settings.streets_total)


def add_pipeline_options(p: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        p.add_argument("--config", metavar="FILE", help="YAML settings file (keys as in vitals/config.py)")
    p.add_argument("--plugin", dest="plugins", action="append", metavar="MODULE",
                   help="import MODULE first: it registers sources, sinks or detectors (docs/extending.md); repeatable")
    g = p.add_argument_group("city")
    g.add_argument("--catalog", metavar="FILE", help=CATALOG_HELP)
    g.add_argument("--streets", type=int, metavar="N", help="generate N streets in all (default 1,031)")
    g.add_argument("--models-dir", metavar="DIR", help=MODELS_HELP)
    g.add_argument("--planned-works", metavar="FILE",
                   help="YAML list of planned works (period, places, indicators): their readings are kept and shown, "
                        "but the anomaly detector does not learn from them; re-read when it changes "
                        "(docs/alerting.md, \"Planned works\")")
    g = p.add_argument_group("stream")
    g.add_argument("--lateness", type=float, metavar="S", help="allowed lateness in seconds (default 300)")
    g.add_argument("--shards", type=int, metavar="N", help="series shards; fixed per recovery dir (default 4)")
    g.add_argument("--partitions", type=int, metavar="N", help="source partitions (default 4)")
    g.add_argument("--batch-size", type=int, metavar="N", help="readings per source batch (default 5000)")
    g = p.add_argument_group("outputs")
    g.add_argument("--metrics-host", metavar="HOST", help="/metrics address (default 127.0.0.1)")
    g.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="/metrics port (default 9108; process i serves PORT+i; 0 = off)")
    g.add_argument("--web-config", metavar="FILE",
                   help="TLS and basic auth for /metrics, in the Prometheus exporter-toolkit format (docs/security.md)")
    g.add_argument("--history-dir", metavar="DIR", help="write readings and vitals to Parquet under DIR")
    g.add_argument("--history-chunk-rows", type=int, metavar="N",
                   help="readings per history file per (shard, source partition), the last fewer (default 200,000)")
    g.add_argument("--history-vitals-every", type=float, metavar="SECONDS",
                   help="event seconds between the history's vitals snapshots, a divisor of a day (default 300; 900 "
                        "cuts their disk by ~2/3 and a city replay's CPU by ~30 %%, at 15-minute detail)")
    g.add_argument("--dead-letters", metavar="FILE",
                   help="dead-letter JSON lines (default var/dead_letters.jsonl; FILE-p<I> per cluster process)")
    g.add_argument("--dead-letters-max", type=int, metavar="N",
                   help="at most N dead-letter lines per run (default 100,000; 0 = no limit); counters stay exact")
    g.add_argument("--dead-letters-max-mb", type=float, metavar="MB",
                   help="at most MB megabytes of dead letters (default 50; 0 = no limit)")
    g.add_argument("--final-vitals", metavar="FILE.parquet",
                   help="at the end, write every series' vitals to this file: Parquet, or CSV when it ends in .csv "
                        "(FILE-p<I> per cluster process)")
    g = p.add_argument_group("recovery and scale-out")
    g.add_argument("--recovery-dir", metavar="DIR", help="Bytewax recovery snapshots (resume after a crash)")
    g.add_argument("--snapshot-interval", type=float, metavar="S", help="seconds between snapshots (default 1)")
    g.add_argument("-w", "--workers", type=int, metavar="N", help="worker threads in this process (default 1)")
    g.add_argument("-i", "--process-id", type=int, metavar="I", help="this process's index in a cluster")
    g.add_argument("-a", "--addresses", metavar="H:P;H:P", help="all cluster processes, ';'-separated")


def add_dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true",
                   help="check settings, paths, ports, certificates and the recovery dir, then stop")


def dry_run(runner: FlowRunner, settings: Settings, *, final_vitals: str | None = None,
            scrape_config: str | None = None) -> str:
    """Every check the run makes before its first reading (the runner's preflight); returns the OK line (raises on
    a problem)."""
    from vitals.catalog import load_catalog

    load_catalog(settings.catalog, streets_total=settings.streets_total)
    checked = runner.preflight(settings, final_vitals=final_vitals, scrape_config=scrape_config)
    recovery = ""
    if settings.recovery_dir:
        recovery = "; recovery dir: new" if checked.init_recovery else "; recovery dir: resumes this run"
    return f"settings OK{recovery}: {settings}"


def settings_from_args(args: argparse.Namespace, **fixed: Any) -> Settings:
    """The settings of a command line. A command's own defaults (``vitals replay``'s speed 0), set on its parser as
    ``setting_defaults``, sit below --config and the environment, so a setting given there is not overridden by a
    flag's default."""
    defaults: Mapping[str, Any] | None = getattr(args, "setting_defaults", None)
    values = {field: getattr(args, dest, None) for dest, field in _FIELD_OF.items()}
    values.update({k: v for k, v in fixed.items() if v is not None})
    return load_settings(getattr(args, "config", None), defaults=defaults, **values)
