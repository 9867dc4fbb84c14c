"""`vitals simulate`: write a simulated city's readings (JSON lines or Parquet) and its ground truth."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from vitals.errors import ConfigError
from vitals.units import DAY_S

if TYPE_CHECKING:
    from vitals.catalog import Catalog
    from vitals.simulator import FaultRates, IncidentSpec, SimulatorConfig

EPILOG = """\
examples:
  vitals simulate --hours 6 --out city.jsonl                    # full city, 6 h, as fast as possible
  vitals simulate --days 14 --streets 76 --seed 7 --out city.parquet \\
      --labels labels.json --incidents truth.json               # a backtest set with its ground truth
  vitals simulate --hours 2 --incident rainstorm@yuzhong@+30m --no-auto-incidents --out storm.jsonl
  vitals simulate --hours 1 --faults none --garbage 0.001 --out dirty.jsonl   # garbage lines, no sensor faults
  vitals simulate --hours 1 --faults stuck=0.5,spike=0.001 --out faulty.parquet
  vitals simulate --hours 1 --speed 60 --out - | mosquitto_pub -l -t city/readings   # 1 simulated min per s

The same options and --start give the same bytes. Without --start the run starts at the current hour (UTC).
Incident kinds: rainstorm, water_main_burst, substation_overload, gas_leak, metro_disruption, crowd_surge.
"""

FAULT_FIELDS = ("stuck", "silent", "spike", "impossible", "duplicate", "late", "late_max_s")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="simulate the city: readings, incidents, sensor faults and ground-truth labels",
        description="Simulate the model city's indicator streams (seasonal, correlated, with incidents and "
                    "sensor faults) and write them with their ground truth. Deterministic from --seed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    span = p.add_mutually_exclusive_group()
    span.add_argument("--days", type=float, help="simulated days (default 1)")
    span.add_argument("--hours", type=float, help="simulated hours")
    p.add_argument("--start", help="ISO start time with a timezone, e.g. 2025-06-02T00:00:00Z (default: this hour)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="readings file: .jsonl (JSON lines), .parquet, or - for JSON lines on stdout")
    p.add_argument("--labels", metavar="FILE.json", help="write incident windows in NAB combined_windows format")
    p.add_argument("--incidents", metavar="FILE.json",
                   help="write incidents (with first orange crossings), fault episodes and fault counts")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--streets", type=int, metavar="N", help="generate N streets in all (default: 1,031)")
    p.add_argument("--catalog", metavar="FILE", help="catalog file (default: the shipped model city)")
    p.add_argument("--indicators", metavar="IDS", help="comma-separated indicator ids (default: all)")
    p.add_argument("--step", type=int, default=10, metavar="SECONDS", help="event time per batch (default 10)")
    p.add_argument("--incident", action="append", default=[], metavar="KIND@DISTRICT[@START[@SEVERITY]]",
                   help="inject an incident; START is ISO or +30m/+2h from the run start (default: a quarter into "
                        "the run; repeatable)")
    p.add_argument("--incidents-per-day", type=float, default=4.0, metavar="R",
                   help="automatic incidents per day across the city (default 4)")
    p.add_argument("--no-auto-incidents", action="store_true", help="only the --incident ones")
    p.add_argument("--faults", default="default", metavar="SPEC",
                   help="'none', 'default', or rates like stuck=0.02,silent=0.02,spike=2e-4,impossible=1e-4,"
                        "duplicate=5e-4,late=5e-4 (episodes per series-day / per reading)")
    p.add_argument("--garbage", type=float, default=0.0, metavar="RATE",
                   help="garbage lines per reading in the file (malformed JSON, unknown ids ...; default 0)")
    p.add_argument("--speed", type=float, default=0.0, metavar="X",
                   help="pace output at X simulated seconds per second (default 0: as fast as possible)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from vitals.catalog import load_catalog
    from vitals.preflight import check_distinct_files, check_output_file
    from vitals.simulator import CitySimulator, SimulatorConfig
    from vitals.simulator.output import truth_document, write_json, write_readings

    for option, path, what in (("--out", args.out, "the readings file"), ("--labels", args.labels, "the labels file"),
                               ("--incidents", args.incidents, "the incidents file")):
        if path and path != "-":  # before the simulation, not after it (a traceback, the work lost)
            check_output_file(path, what, option)
    check_distinct_files([("--out", args.out), ("--labels", args.labels), ("--incidents", args.incidents)])
    catalog = load_catalog(args.catalog, streets_total=args.streets)
    start = parse_start(args.start) if args.start else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    days = 1.0 if args.days is None else args.days  # --days 0 is refused (it simulated a day)
    for option, value in (("--days", days), ("--hours", args.hours), ("--speed", args.speed)):
        if value is not None and (not math.isfinite(value) or value < 0):  # a traceback (nan, inf), or unpaced (-1)
            msg = f"{option} must be a finite number >= 0, got {value}"
            raise ConfigError(msg)
    duration = timedelta(hours=args.hours) if args.hours is not None else timedelta(days=days)
    explicit = tuple(parse_incident(text, start, duration) for text in args.incident)
    config = SimulatorConfig(
        seed=args.seed, start=start, duration=duration, step_s=args.step,
        incidents=explicit if (explicit or args.no_auto_incidents) else "auto",
        incidents_per_day=args.incidents_per_day, faults=parse_faults(args.faults),
        indicators=tuple(i.strip() for i in args.indicators.split(",")) if args.indicators else None,
    )
    check_simulation_size(catalog, config, args.out)
    sim = CitySimulator(catalog, config)
    progress = not args.no_progress and sys.stderr.isatty() and sim.n_steps >= 100
    summary = write_readings(args.out, sim, garbage_rate=args.garbage, progress=progress, speed=args.speed)
    if args.labels:
        write_json(args.labels, sim.labels())
    if args.incidents:
        write_json(args.incidents, truth_document(sim, summary))
    report = summary.as_dict() | {"series": sim.n_series, "incidents": len(sim.incidents()),
                                  "readings_per_s": round(summary.readings / max(summary.seconds, 1e-9))}
    sys.stderr.write(
        f"wrote {summary.readings:,} readings of {sim.n_series:,} series ({summary.garbage:,} garbage lines) "
        f"to {args.out} in {summary.seconds:.1f} s; {len(sim.incidents())} incidents\n"
    )
    sys.stderr.write(json.dumps(report) + "\n")
    return 0


# bytes a reading takes in the output, measured on the full city (0.2 h and 4 h): JSON lines ~136, Parquet ~6-7
BYTES_PER_READING = {"jsonl": 136, "parquet": 7}
LAST_NS_TIME = datetime(2262, 4, 11, tzinfo=UTC)  # readings carry int64 nanoseconds since 1970


def check_simulation_size(catalog: Catalog, config: SimulatorConfig, out: str) -> None:
    """Refuse, in one line and before anything is built, a simulation that cannot end or cannot fit: one past
    2262 (nanosecond timestamps), or one whose output would not fit in the free space where it goes (a typo such
    as ``--hours 1e9`` set up for days without a word: the simulator's set-up grows with the duration, ~5 s per
    10,000 h of the full city, and its output would then fill the disk). The size is estimated from one hour."""
    import shutil
    from pathlib import Path

    from vitals.simulator.output import output_format

    hours = config.duration.total_seconds() / 3600
    if ends_too_late(config.start, hours):
        msg = (f"the simulation would end after {LAST_NS_TIME:%Y-%m-%d} ({config.start:%Y-%m-%d} + {hours:,.0f} h): "
               "readings carry nanosecond times; simulate less")
        raise ConfigError(msg)
    readings = readings_per_hour(catalog, config) * hours
    if out == "-":
        return
    fmt = output_format(out)
    size = readings * BYTES_PER_READING[fmt]
    place = Path(out).absolute().parent
    while not place.exists():
        place = place.parent
    free = shutil.disk_usage(place).free
    if size > free:
        msg = (f"--out {out}: {hours:,.0f} simulated hours are ~{readings:,.0f} readings, ~{size / 1e9:,.1f} GB as "
               f"{fmt}, more than the {free / 1e9:,.1f} GB free under {place}; simulate fewer hours (or in parts "
               "with --start)")
        raise ConfigError(msg)


def ends_too_late(start: datetime, hours: float) -> bool:
    """A simulation from ``start`` for ``hours`` would end after :data:`LAST_NS_TIME` (or past year 9999)."""
    try:
        return start + timedelta(hours=hours) >= LAST_NS_TIME
    except OverflowError:
        return True


def readings_per_hour(catalog: Catalog, config: SimulatorConfig) -> int:
    """The readings one hour of ``config``'s simulation of ``catalog`` takes (an hour's set-up, nothing run)."""
    import dataclasses

    from vitals.simulator import CitySimulator

    probe = CitySimulator(catalog, dataclasses.replace(config, duration=timedelta(hours=1), incidents=()))
    return probe.expected_readings()


def parse_start(text: str) -> datetime:
    """An ISO time with a timezone ('Z' allowed), as aware UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        msg = f"--start {text!r} is not an ISO time (e.g. 2025-06-02T00:00:00Z)"
        raise ConfigError(msg) from None
    if moment.tzinfo is None:
        msg = f"--start {text!r} has no timezone: add Z or an offset like +08:00"
        raise ConfigError(msg)
    if not 1970 < moment.year < 9999:
        msg = f"--start {text!r} is out of range: use a time between 1971 and 9998"
        raise ConfigError(msg)
    return moment.astimezone(UTC)


_OFFSET = re.compile(r"^\+(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY_S}


def parse_incident(text: str, run_start: datetime, duration: timedelta | None = None) -> IncidentSpec:
    """KIND@DISTRICT[@START[@SEVERITY]]; START is ISO or an offset from the run start like +90m (default: a
    quarter into the run's ``duration``; +1 h without one). The default was +1 h whatever the duration: with
    ``--hours 1`` the incident started as the run ended and never happened."""
    from vitals.simulator import IncidentSpec

    parts = text.split("@")
    if len(parts) < 2 or len(parts) > 4 or not all(parts[:2]):
        msg = f"--incident {text!r}: expected KIND@DISTRICT[@START[@SEVERITY]], e.g. rainstorm@yuzhong@+2h"
        raise ConfigError(msg)
    start = run_start + (timedelta(seconds=round(duration.total_seconds() / 4)) if duration else timedelta(hours=1))
    if len(parts) >= 3 and parts[2]:
        offset = _OFFSET.match(parts[2])
        if offset:
            start = run_start + timedelta(seconds=round(float(offset.group(1)) * _UNITS[offset.group(2)]))
        else:
            start = parse_start(parts[2])
    severity = 3.5
    if len(parts) == 4:
        try:
            severity = float(parts[3])
        except ValueError:
            msg = f"--incident {text!r}: severity {parts[3]!r} is not a number (3 = orange, 4 = red)"
            raise ConfigError(msg) from None
    return IncidentSpec(kind=parts[0], district=parts[1], start=start, severity=severity)


def parse_faults(text: str) -> FaultRates:
    """'none', 'default', or name=value pairs overriding the default rates."""
    from vitals.simulator import FaultRates

    if text == "none":
        return FaultRates.none()
    if text in ("", "default"):
        return FaultRates()
    values: dict[str, float] = {}
    for item in text.split(","):
        name, _, raw = item.partition("=")
        name = name.strip()
        if name not in FAULT_FIELDS:
            msg = f"--faults: unknown fault {name!r}; use {', '.join(FAULT_FIELDS)} (or 'none')"
            raise ConfigError(msg)
        try:
            values[name] = float(raw)
        except ValueError:
            msg = f"--faults: {name}={raw!r} is not a number"
            raise ConfigError(msg) from None
    return FaultRates(**values)  # type: ignore[arg-type]
