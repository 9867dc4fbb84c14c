"""Write simulated readings to JSON lines or Parquet (by extension), and the ground truth to JSON.

A reading on file: ``{"ts": "2025-06-02T08:00:00Z", "indicator": "traffic_index", "area": "yuzhong_s001",
"sensor": "traffic_index@yuzhong_s001", "value": 3.2}`` (Parquet: the same columns, ``ts`` a UTC timestamp,
ids dictionary-encoded). Lines are built column-wise with Arrow compute, never one Python object per reading.
Optional garbage lines (malformed JSON, unknown ids, wrong types, naive timestamps) exercise the validation
path; they are extra lines, so every simulated reading is still in the file.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.errors import ConfigError
from vitals.simulator.city import CitySimulator
from vitals.simulator.faults import FAULT_NAMES
from vitals.simulator.garbage import garbage_for_batch, garbage_lines
from vitals.simulator.pacing import Pacer
from vitals.units import DAY_S, NS_PER_S

log = logging.getLogger(__name__)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
CHUNK_ROWS = 250_000


@dataclass
class WriteSummary:
    path: str
    format: str
    readings: int = 0
    garbage: int = 0
    batches: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "readings": self.readings, "garbage": self.garbage,
                "batches": self.batches, "faults": self.faults, "seconds": round(self.seconds, 3)}


def output_format(path: str | Path) -> str:
    """'jsonl' or 'parquet' from a file name ('-' is JSON lines on stdout)."""
    name = str(path).lower()
    if name == "-" or name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    msg = f"cannot tell the format of {path}: use a .jsonl or .parquet file name (or - for stdout)"
    raise ConfigError(msg)


class JsonlFormatter:
    """Columnar JSON-lines rendering of readings (ids escaped once, in small dictionaries)."""

    def __init__(self, catalog: Catalog) -> None:
        self.indicator = pa.array([_inner_json(i.id) for i in catalog.indicators])
        self.street = pa.array([_inner_json(s.id) for s in catalog.streets])
        self.clock = _clock_strings()

    def lines(self, batch: ReadingBatch) -> pa.StringArray:
        secs = batch.ts_ns // NS_PER_S
        days = secs // DAY_S
        uniq, inverse = np.unique(days, return_inverse=True)
        dates = pa.array(np.datetime_as_string(uniq.astype("datetime64[D]"), unit="D").astype(object))
        ind = self.indicator.take(pa.array(batch.indicator.astype(np.int32)))
        area = self.street.take(pa.array(batch.street))
        value = pc.cast(pa.array(batch.value), pa.string())
        parts = ['{"ts":"', dates.take(pa.array(inverse.astype(np.int64))), "T",
                 self.clock.take(pa.array(secs - days * DAY_S)), 'Z","indicator":"', ind, '","area":"', area,
                 '","sensor":"', ind, "@", area, '","value":', value, "}\n"]
        return pc.binary_join_element_wise(*parts, "")


@cache
def _clock_strings() -> pa.StringArray:
    """'HH:MM:SS' for every second of a day."""
    seconds = pa.array(np.arange(DAY_S, dtype=np.int64), pa.int64()).cast(pa.timestamp("s"))
    return pc.strftime(seconds, format="%H:%M:%S")


def _inner_json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _bytes_of(lines: pa.StringArray) -> bytes:
    """The concatenated text of a string array (its data buffer between the first and last offsets)."""
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    data = lines.buffers()[2]
    return data.to_pybytes()[offsets[0]:offsets[-1]]


class ParquetFormatter:
    """Arrow tables of readings: ts UTC timestamp, dictionary-encoded ids, float64 value."""

    def __init__(self, catalog: Catalog, extra_indicators: tuple[str, ...] = (), extra_areas: tuple[str, ...] = ()):
        self.indicator = pa.array([i.id for i in catalog.indicators] + list(extra_indicators))
        self.street = pa.array([s.id for s in catalog.streets] + list(extra_areas))
        self.n_streets = catalog.n_streets
        self.schema = pa.schema([
            ("ts", pa.timestamp("ns", tz="UTC")), ("indicator", pa.dictionary(pa.int16(), pa.string())),
            ("area", pa.dictionary(pa.int32(), pa.string())), ("sensor", pa.string()), ("value", pa.float64()),
        ])

    def table(self, ts_ns: npt.NDArray[np.int64], ind: npt.NDArray[np.int16], street: npt.NDArray[np.int32],
              value: npt.NDArray[np.float64]) -> pa.Table:
        ind_arr = pa.DictionaryArray.from_arrays(pa.array(ind, pa.int16()), self.indicator)
        area_arr = pa.DictionaryArray.from_arrays(pa.array(street, pa.int32()), self.street)
        sensor = pc.binary_join_element_wise(ind_arr.cast(pa.string()), "@", area_arr.cast(pa.string()), "")
        ts = pa.array(ts_ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
        return pa.Table.from_arrays([ts, ind_arr, area_arr, sensor, pa.array(value, pa.float64())],
                                    schema=self.schema)


def write_readings(
    path: str | Path, sim: CitySimulator, *, garbage_rate: float = 0.0, progress: bool = False,
    speed: float = 0.0,
) -> WriteSummary:
    """Write every reading of a one-partition run; same simulator config, same bytes."""
    fmt = output_format(path)
    if not 0 <= garbage_rate < 1:
        msg = f"garbage rate must be in [0, 1), not {garbage_rate}"
        raise ConfigError(msg)
    summary = WriteSummary(path=str(path), format=fmt, faults=dict.fromkeys(FAULT_NAMES, 0))
    started = time.perf_counter()
    batches = _tracked(sim, summary, progress, speed)
    if fmt == "jsonl":
        _write_jsonl(path, sim, batches, garbage_rate, summary, flush_each=speed > 0)
    else:
        _write_parquet(Path(path), sim, batches, garbage_rate, summary)
    summary.seconds = time.perf_counter() - started
    summary.faults = {k: v for k, v in summary.faults.items() if k != "none"}
    return summary


def _tracked(sim: CitySimulator, summary: WriteSummary, progress: bool, speed: float) -> Iterator[ReadingBatch]:
    from tqdm import tqdm

    pacer = Pacer(speed, sim.config.step_s)
    bar = tqdm(total=sim.n_steps, unit="step", disable=not progress, file=sys.stderr, leave=False,
               desc="simulating")
    try:
        for batch, fault in sim.batches_with_faults():
            counts = np.bincount(fault, minlength=len(FAULT_NAMES))
            for name, c in zip(FAULT_NAMES, counts.tolist(), strict=True):
                summary.faults[name] += c
            summary.readings += len(batch)
            summary.batches += 1
            pacer.wait(batch.seq + 1)
            bar.update(1)
            yield batch
    finally:
        bar.close()


def _chunks(batches: Iterator[ReadingBatch], flush_each: bool) -> Iterator[list[ReadingBatch]]:
    chunk: list[ReadingBatch] = []
    rows = 0
    for batch in batches:
        chunk.append(batch)
        rows += len(batch)
        if flush_each or rows >= CHUNK_ROWS:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


def _write_jsonl(path: str | Path, sim: CitySimulator, batches: Iterator[ReadingBatch], garbage_rate: float,
                 summary: WriteSummary, *, flush_each: bool) -> None:
    formatter = JsonlFormatter(sim.catalog)
    with _binary_target(path) as out:
        for chunk in _chunks(batches, flush_each):
            lines = formatter.lines(ReadingBatch.concat(chunk))
            positions, extra = _chunk_garbage(chunk, sim, garbage_rate)
            if extra:
                lines = _insert(lines, positions, extra)
                summary.garbage += len(extra)
            out.write(_bytes_of(lines))
            if flush_each:
                out.flush()


def _chunk_garbage(
    chunk: list[ReadingBatch], sim: CitySimulator, garbage_rate: float,
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Garbage lines of the batches of a chunk, with positions in the chunk."""
    positions: list[npt.NDArray[np.int64]] = []
    extra: list[str] = []
    offset = 0
    for batch in chunk:
        garbage = garbage_for_batch(sim.config.seed, batch.seq, len(batch), garbage_rate)
        if garbage is not None:
            positions.append(garbage.positions + offset)
            extra.extend(garbage_lines(garbage, batch, sim.catalog))
        offset += len(batch)
    return (np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)), extra


def _insert(lines: pa.StringArray, positions: npt.NDArray[np.int64], extra: list[str]) -> pa.StringArray:
    """Lines with ``extra[j]`` inserted before original line ``positions[j]`` (positions sorted)."""
    combined = pa.concat_arrays([lines, pa.array([e + "\n" for e in extra], pa.string())])
    n = len(lines)
    order = np.concatenate([np.arange(n, dtype=np.int64), positions.astype(np.int64)])
    tie = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(positions.size, dtype=np.int64)])
    index = np.lexsort((tie, order))
    return combined.take(pa.array(index))


@contextmanager
def _binary_target(path: str | Path) -> Iterator[IO[bytes]]:
    """The file to write (created with its directories), or stdout for '-'."""
    if str(path) == "-":
        yield sys.stdout.buffer
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        yield handle


def _write_parquet(path: Path, sim: CitySimulator, batches: Iterator[ReadingBatch], garbage_rate: float,
                   summary: WriteSummary) -> None:
    from vitals.simulator.garbage import UNKNOWN_AREA, UNKNOWN_INDICATOR

    extra = (garbage_rate > 0)
    fmt = ParquetFormatter(sim.catalog, (UNKNOWN_INDICATOR,) if extra else (), (UNKNOWN_AREA,) if extra else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, fmt.schema, compression="zstd") as writer:
        for chunk in _chunks(batches, flush_each=False):
            cols = _parquet_columns(chunk, sim, garbage_rate, summary)
            writer.write_table(fmt.table(*cols), row_group_size=CHUNK_ROWS * 2)


def _parquet_columns(
    chunk: list[ReadingBatch], sim: CitySimulator, garbage_rate: float, summary: WriteSummary,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int16], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Concatenated columns; garbage rows (unknown indicator or area codes) inserted like JSON garbage."""
    n_ind, n_st = sim.catalog.n_indicators, sim.catalog.n_streets
    cols: list[tuple[Any, ...]] = []
    for batch in chunk:
        ts, ind, st, val = batch.ts_ns, batch.indicator, batch.street, batch.value
        extra = garbage_for_batch(sim.config.seed, batch.seq, len(batch), garbage_rate)
        if extra is not None and len(batch):
            src = np.minimum(extra.positions, len(batch) - 1)
            unknown_ind = extra.kinds % 2 == 0
            g_ind = np.where(unknown_ind, n_ind, ind[src]).astype(np.int16)
            g_st = np.where(unknown_ind, st[src], n_st).astype(np.int32)
            order = np.lexsort((np.r_[np.ones(len(batch)), np.zeros(src.size)],
                               np.r_[np.arange(len(batch)), extra.positions]))
            ts, ind = np.r_[ts, ts[src]][order], np.r_[ind, g_ind][order]
            st, val = np.r_[st, g_st][order], np.r_[val, val[src]][order]
            summary.garbage += int(src.size)
        cols.append((ts, ind, st, val))
    ts_all, ind_all, st_all, val_all = (np.concatenate([c[i] for c in cols]) for i in range(4))
    return ts_all, ind_all.astype(np.int16), st_all.astype(np.int32), val_all


def write_json(path: str | Path, document: Any) -> None:
    """Pretty JSON, keys in a stable order, UTF-8 (Chinese names stay readable)."""
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def truth_document(sim: CitySimulator, summary: WriteSummary | None = None) -> dict[str, Any]:
    """Incidents, fault episodes and (when a run was written) fault counts, as one JSON document."""
    cfg = sim.config
    doc: dict[str, Any] = {
        "seed": cfg.seed, "start": cfg.start.isoformat(), "duration_s": cfg.duration.total_seconds(),
        "step_s": cfg.step_s, "series": sim.n_series,
        "incidents": [r.as_dict() for r in sim.incidents()],
        "fault_rates": {k: getattr(cfg.faults, k) for k in ("stuck", "silent", "spike", "impossible",
                                                              "duplicate", "late")},
        "fault_episodes": sim.fault_episodes(),
    }
    if summary is not None:
        doc["fault_counts"] = summary.faults
        doc["readings"] = summary.readings
        doc["garbage_lines"] = summary.garbage
    return doc
