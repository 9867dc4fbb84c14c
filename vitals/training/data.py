"""Training data for the analysts' loop: from the Parquet history, a pandas DataFrame, or a simulated city.

Whatever the source, the result is a :class:`TrainingSet`: the readings on a regular grid, a fingerprint of the
readings used, their time range, and (for a simulated city) the labelled incident windows with their orange
crossings, so the same code trains and backtests on both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.catalog.model import Catalog
from vitals.errors import HistoryError
from vitals.forecasting.cadence import catalog_step_s
from vitals.forecasting.grid import SeriesGrid
from vitals.labels import LabelledWindow
from vitals.readings.timestamps import history_ts_ns
from vitals.registry.card import hash_arrays
from vitals.units import DAY_S, NS_PER_S

log = logging.getLogger(__name__)

FRAME_COLUMNS = ("ts", "indicator", "area", "value")


@dataclass(frozen=True, eq=False)
class TrainingSet:
    grid: SeriesGrid
    rows: int
    start_ns: int
    end_ns: int
    sha256: str
    source: str
    windows: tuple[LabelledWindow, ...] = ()

    @property
    def days(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S / DAY_S

    def iso_range(self) -> tuple[str, str]:
        def fmt(ns: int) -> str:
            return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC).isoformat(timespec="seconds")
        return fmt(self.start_ns), fmt(self.end_ns)


def from_arrays(
    catalog: Catalog, indicator: npt.NDArray[np.integer], street: npt.NDArray[np.integer],
    ts_ns: npt.NDArray[np.int64], value: npt.NDArray[np.float64], *, source: str, step_s: int | None = None,
    windows: tuple[LabelledWindow, ...] = (),
) -> TrainingSet:
    """A training set from columnar readings (catalog codes) on a grid of ``step_s`` (default: derived from the
    catalog's cadence, :func:`vitals.forecasting.cadence.catalog_step_s`)."""
    step_s = int(step_s) if step_s is not None else catalog_step_s(catalog)
    order = np.lexsort((ts_ns, street, indicator))
    digest = hash_arrays(np.asarray(indicator, np.int16)[order], np.asarray(street, np.int32)[order],
                         np.asarray(ts_ns, np.int64)[order], np.asarray(value, np.float64)[order])
    grid = SeriesGrid.from_readings(catalog, indicator, street, ts_ns, value, step_s=step_s)
    return TrainingSet(grid=grid, rows=len(value), start_ns=int(ts_ns.min()), end_ns=int(ts_ns.max()),
                       sha256=digest, source=source, windows=windows)


def from_frame(
    catalog: Catalog, frame: pd.DataFrame, *, source: str = "DataFrame", step_s: int | None = None
) -> TrainingSet:
    """A training set from a DataFrame with columns ts (UTC), indicator (id), area (street id), value.

    Rows with an unknown indicator or area are dropped (and counted in the log)."""
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        msg = f"training data needs columns {', '.join(FRAME_COLUMNS)}; missing {', '.join(missing)}"
        raise HistoryError(msg)
    ind = pd.Index([i.id for i in catalog.indicators]).get_indexer(pd.Index(frame["indicator"].astype(str)))
    street = pd.Index([s.id for s in catalog.streets]).get_indexer(pd.Index(frame["area"].astype(str)))
    ts_ns = history_ts_ns(frame["ts"], source)
    value = frame["value"].to_numpy(dtype=np.float64)
    return _known(catalog, ind, street, ts_ns, value, source=source, step_s=step_s)


def _known(
    catalog: Catalog, ind: npt.NDArray[np.int64], street: npt.NDArray[np.int64], ts_ns: npt.NDArray[np.int64],
    value: npt.NDArray[np.float64], *, source: str, step_s: int | None,
) -> TrainingSet:
    """:func:`from_arrays` of the rows whose indicator and area the catalog knows (code >= 0); the others dropped
    and counted in the log."""
    known = (ind >= 0) & (street >= 0)
    if not known.all():
        log.warning("dropped %d of %d rows with an indicator or area not in the catalog", (~known).sum(), len(known))
    if not known.any():
        msg = "no training rows with an indicator and an area of the catalog"
        raise HistoryError(msg)
    return from_arrays(catalog, ind[known].astype(np.int16), street[known].astype(np.int32), ts_ns[known],
                       value[known], source=source, step_s=step_s)


def _history_base(path: str | Path) -> Path:
    root = Path(path)
    base = root / "readings" if (root / "readings").is_dir() else root
    if not base.exists():
        msg = f"no Parquet history at {base}; write one with `vitals run --history-dir DIR` or `vitals simulate`"
        raise HistoryError(msg)
    return base


def history_readings(path: str | Path) -> int:
    """How many readings :func:`from_history` would read (from the Parquet footers: nothing is read but them)."""
    from vitals.history_files import history_rows

    return history_rows(_history_base(path))


def from_history(catalog: Catalog, path: str | Path, *, step_s: int | None = None) -> TrainingSet:
    """A training set from a Parquet history directory (``<root>/readings/...`` or any Parquet dataset with
    the columns ts, indicator, area, value)."""
    base = _history_base(path)
    from vitals.history_files import history_table, id_codes

    try:  # columns, never a DataFrame: the ids through their dictionaries (~22 bytes a reading, not ~250)
        table = history_table(base, columns=FRAME_COLUMNS, dictionary=("indicator", "area"))
    except HistoryError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        msg = f"cannot read the Parquet history at {base}: {exc}"
        raise HistoryError(msg) from exc
    source = f"Parquet history {base}"
    ind = id_codes(table.column("indicator"), [i.id for i in catalog.indicators])
    street = id_codes(table.column("area"), [s.id for s in catalog.streets])
    ts_ns = history_ts_ns(table.column("ts"), source)
    value = table.column("value").to_numpy().astype(np.float64, copy=False)
    del table
    return _known(catalog, ind, street, ts_ns, value, source=source, step_s=step_s)


def from_simulation(
    catalog: Catalog, *, days: float, seed: int, step_s: int | None = None, progress: bool = True
) -> TrainingSet:
    """Simulate the catalog's city for ``days`` (incidents and sensor faults on) and label its incidents."""
    from tqdm import tqdm

    from vitals.simulator.city import CitySimulator
    from vitals.simulator.config import SimulatorConfig

    step_s = int(step_s) if step_s is not None else catalog_step_s(catalog)
    sim = CitySimulator(catalog, SimulatorConfig(seed=seed, duration=timedelta(days=days), step_s=step_s))
    parts = []
    for batch in tqdm(sim.batches(), total=sim.n_steps, desc="simulate", unit="step", disable=not progress,
                      leave=False):
        parts.append((batch.indicator, batch.street, batch.ts_ns, batch.value))
    ind, street, ts, value = (np.concatenate([p[k] for p in parts]) for k in range(4))
    windows = simulated_windows(catalog, sim.incidents())
    n_inc = len(sim.incidents())
    source = f"simulated city (seed {seed}, {days:g} days, {catalog.n_streets} streets, {n_inc} incidents)"
    return from_arrays(catalog, ind, street, ts, value, source=source, step_s=step_s, windows=windows)


def simulated_windows(catalog: Catalog, incidents: list[Any]) -> tuple[LabelledWindow, ...]:
    """Labelled windows (with orange crossings) of a simulator's incident records."""
    out = []
    for record in incidents:
        for s in record.series:
            sid = catalog.indicator_index[s.indicator] * catalog.n_streets + catalog.street_index[s.street]
            orange = _ns(s.orange_at) if s.orange_at is not None else -1
            out.append(LabelledWindow(sid, _ns(s.window_start), _ns(s.window_end), orange, int(record.index)))
    return tuple(out)


def _ns(moment: datetime) -> int:
    return int(pd.Timestamp(moment).as_unit("ns").value)
