"""Training data for the analysts' loop: from the Parquet history, a pandas DataFrame, or a simulated city.

Whatever the source, the result is a :class:`TrainingSet`: the readings on a regular grid, a fingerprint of the
readings used, their time range, and (for a simulated city) the labelled incident windows with their orange
crossings, so the same code trains and backtests on both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
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
from vitals.forecasting.grid import GridExtent, SeriesGrid, check_step
from vitals.labels import LabelledWindow
from vitals.planned_works import PlannedWorks
from vitals.readings.timestamps import history_ts_ns
from vitals.training.fingerprint import ReadingsFingerprint
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
    fingerprint = ReadingsFingerprint()
    fingerprint.add(indicator, street, ts_ns, value)
    grid = SeriesGrid.from_readings(catalog, indicator, street, ts_ns, value, step_s=step_s)
    return TrainingSet(grid=grid, rows=len(value), start_ns=int(ts_ns.min()), end_ns=int(ts_ns.max()),
                       sha256=fingerprint.hexdigest(), source=source, windows=windows)


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


HISTORY_BATCH_ROWS = 1 << 20  # readings decoded at a time by from_history (~40 MB of columns and temporaries)

GridCheck = Callable[[int, int], None]


def from_history(catalog: Catalog, path: str | Path, *, step_s: int | None = None, progress: bool = False,
                 check_grid: GridCheck | None = None, planned: PlannedWorks | None = None,
                 planned_source: str = "") -> TrainingSet:
    """A training set from a Parquet history directory (``<root>/readings/...`` or any Parquet dataset with
    the columns ts, indicator, area, value).

    Read in two passes of ``HISTORY_BATCH_ROWS`` readings at a time, never all at once: the first finds the time
    range, the series and the fingerprint, the second fills the grid (:class:`GridExtent`, :class:`GridBuilder`:
    the same grid as the readings in memory would give). Memory is the grid's (~12 bytes a series and step while
    it is filled), so a month of the full city trains where its 360 M readings (~8 GB as columns) would not fit.
    ``check_grid(series, steps)`` runs between the passes, before the grid is allocated (the CLI's memory check).
    Readings in a ``planned`` works (:mod:`vitals.planned_works`, from ``planned_source``) are left out, as the
    flow leaves them out of the detector: the models do not learn the works; the source says how many.
    """
    from tqdm import tqdm

    base = _history_base(path)
    source = f"Parquet history {base}"
    step_s = int(step_s) if step_s is not None else catalog_step_s(catalog)
    check_step(step_s)  # before the reading, which can take minutes
    from vitals.history_files import history_rows, some_history_files

    files = some_history_files(base)  # listed once (a stray file is named once, not once a pass)
    total = history_rows(base, files)
    extent = GridExtent(catalog)
    fingerprint = ReadingsFingerprint()
    rows = known_rows = left_out = 0
    first, last = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    with tqdm(total=total, desc="read history (1/2)", unit="reading", unit_scale=True, disable=not progress,
              leave=False) as bar:
        for ind, street, ts_ns, value, read, works in _history_chunks(catalog, base, files, source, planned):
            rows += read
            left_out += works
            known_rows += len(value)
            if len(value):
                first, last = min(first, int(ts_ns.min())), max(last, int(ts_ns.max()))
            extent.add(ind, street, ts_ns, value)
            fingerprint.add(ind, street, ts_ns, value)
            bar.update(read)
    if known_rows + left_out < rows:
        log.warning("dropped %d of %d rows with an indicator or area not in the catalog", rows - known_rows - left_out,
                    rows)
    if planned is not None:
        source = f"{source} (planned works {planned_source or 'given'}: {left_out:,} readings left out)"
    if not known_rows:
        msg = "no training rows with an indicator and an area of the catalog"
        raise HistoryError(msg)
    _, n_steps = extent.layout(step_s)
    if check_grid is not None:
        check_grid(extent.n_series, n_steps)
    builder = extent.builder(step_s)
    with tqdm(total=total, desc="read history (2/2)", unit="reading", unit_scale=True, disable=not progress,
              leave=False) as bar:
        for ind, street, ts_ns, value, read, _ in _history_chunks(catalog, base, files, source, planned):
            builder.add(ind, street, ts_ns, value)
            bar.update(read)
    return TrainingSet(grid=builder.finish(), rows=known_rows, start_ns=first, end_ns=last,
                       sha256=fingerprint.hexdigest(), source=source)


Chunk = tuple[npt.NDArray[np.int16], npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.float64], int,
              int]


def _history_chunks(catalog: Catalog, base: Path, files: list[Path], source: str,
                    planned: PlannedWorks | None = None) -> Iterator[Chunk]:
    """The history's readings with a catalog indicator and area and outside every ``planned`` works,
    ``HISTORY_BATCH_ROWS`` at a time, file by file in name order (the ids as codes through each batch's
    dictionary), with how many rows each batch read and how many of them a works left out."""
    import pyarrow.parquet as pq

    from vitals.history_files import catalog_readings, reading

    indicators = [i.id for i in catalog.indicators]
    streets = [s.id for s in catalog.streets]
    for path in files:
        first_row = 0
        with reading(base, [path]):
            schema = pq.read_schema(path)
            missing = [c for c in FRAME_COLUMNS if schema.get_field_index(c) < 0]
            if missing:
                msg = (f"history file {path} has no column {', '.join(missing)}; training reads the columns "
                       f"{', '.join(FRAME_COLUMNS)}")
                raise HistoryError(msg)
            parquet = pq.ParquetFile(path, read_dictionary=["indicator", "area"])
            for batch in parquet.iter_batches(batch_size=HISTORY_BATCH_ROWS, columns=list(FRAME_COLUMNS)):
                ts_ns, ind, street, value, _ = catalog_readings(batch, indicators, streets,
                                                                f"{source}, file {path.name}", first_row=first_row)
                inside = None if planned is None else planned.inside(ind, street, ts_ns)
                if inside is None:
                    yield ind, street, ts_ns, value, batch.num_rows, 0
                else:
                    keep = ~inside
                    yield ind[keep], street[keep], ts_ns[keep], value[keep], batch.num_rows, int(inside.sum())
                first_row += batch.num_rows


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
