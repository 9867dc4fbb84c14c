"""Compacting a history's closed days (``vitals history compact``): each partition's files of one run merged into one.

The flow writes many small files, so that a crash loses nothing and a resumed run rewrites its own files exactly
(docs/history.md): the model city writes ~1,000 readings files (a chunk per shard and source partition, split by
domain) and ~1,150 vitals files (a snapshot window per shard) a day, ~800,000 a year. Every reader opens every
file, and a filesystem or an object store pays per file. Compaction merges, per partition (``readings/date=D/
domain=X``, ``vitals/date=D``) and per run, the run's files into one ``<run id>-compacted-NNN.parquet``:

- the same rows (every column, every value; columns some files lack are nulls in the others' rows, as a reader
  reads them), checked by count before anything is deleted;
- in time order (``ts``, ``at``) by row groups of 128 Ki rows, each row group of readings sorted by (indicator,
  area, ts) inside as the flow writes them: a reader that streams by time (``vitals backtest --history``) holds one
  row group, and the readings compress as well as before. Rows of one time keep their order by file name, then by
  place in the file (a series' order is what it was);
- one file per run: runs stay apart (``vitals checkup`` lets the later run win where two runs wrote one series at
  one time; ``vitals history info`` counts runs by the names).

Memory: the files are read a row group at a time in the order of their first time; a row is held until no unread
row group can hold an earlier time (late readings hold back as much as their lateness).

Crash safety, in this order: the merged file is written under a hidden name and synced; a journal
``_compact-<file>.json`` beside it names it and its sources (synced); the merged file takes its name; the sources
are deleted; the journal is deleted. While the journal exists every reader (:func:`vitals.history_files.history_files`)
reads the merged file without the sources once the merged file has its name, and the sources alone before: never
both, never neither. The next compaction finishes a journal it finds (deletes the sources left, or the hidden file).

Only days no run is still writing: a run writing a file while the compaction merges it could replace it just
before the compaction deletes it. By default every day but the newest two of the history is compacted
(``--keep-days 2``). A run resumed from its recovery directory *later* writes its last files again by name: the
run's record ``_compacted-<run id>.json`` (every name merged into its file in the partition) makes the writer drop
the rows the merged file holds (:func:`vitals.history._not_compacted`), so nothing is counted twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.errors import HistoryError
from vitals.history import READINGS_ENCODINGS, ROW_GROUP_ROWS, series_time_order, union_schema, vitals_encodings
from vitals.history_admin import COMPACT_KEEP_DAYS as DEFAULT_KEEP_DAYS
from vitals.history_admin import KINDS, check_root, day_dirs
from vitals.history_files import (
    JOURNAL_PREFIX,
    READ_ERRORS,
    history_files,
    manifest_path,
    merged_files,
    merged_name,
    not_parquet,
    read_record,
)
from vitals.run_id import run_of

log = logging.getLogger(__name__)

TIME_COLUMN = {"readings": "ts", "vitals": "at"}

# rows read (or bytes: a vitals row is ~400) before those no unread row group can precede are sorted out
HOLD_ROWS = 4 * ROW_GROUP_ROWS
HOLD_BYTES = 64 << 20


@dataclass(frozen=True)
class Merge:
    """One partition's files of one run, and the file they become."""

    folder: Path
    kind: str
    run: str  # "" for names without a run id
    sources: tuple[Path, ...]  # in name order
    target: Path

    @property
    def journal(self) -> Path:
        return self.folder / f"{JOURNAL_PREFIX}{self.target.stem}.json"

    @property
    def hidden(self) -> Path:
        return self.folder / f".{self.target.name}.tmp"


@dataclass
class CompactResult:
    """What a compaction did (or, dry, would do)."""

    days: list[str] = field(default_factory=list)
    merges: int = 0
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows: int = 0
    finished_journals: int = 0  # interrupted compactions finished first
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def compact_days(root: Path, *, before: date | None, keep_days: int | None) -> list[str]:
    """The days to compact: those before ``before``, or all but the newest ``keep_days`` of the history (default
    :data:`DEFAULT_KEEP_DAYS`; a run may still be writing those)."""
    if before is not None and keep_days is not None:
        msg = "give one of --before YYYY-MM-DD or --keep-days N"
        raise HistoryError(msg)
    days = sorted({d for kind in KINDS for d in day_dirs(root, kind)})
    if before is not None:
        return [d for d in days if date.fromisoformat(d) < before]
    keep = DEFAULT_KEEP_DAYS if keep_days is None else keep_days
    if keep < 0:
        msg = f"--keep-days must be >= 0, got {keep}"
        raise HistoryError(msg)
    if not days or keep == 0:
        return days
    first_kept = date.fromisoformat(days[-1]) - timedelta(days=keep - 1)
    return [d for d in days if date.fromisoformat(d) < first_kept]


def compact(root: str | Path, *, before: date | None = None, keep_days: int | None = None, dry_run: bool = False,
            progress: bool = False) -> CompactResult:
    """Merge each partition's files of one run in the chosen days (:func:`compact_days`) into one file per run."""
    root = Path(root)
    check_root(root)
    result = CompactResult(dry_run=dry_run)
    result.days = compact_days(root, before=before, keep_days=keep_days)
    folders = [(kind, folder) for kind in KINDS for day, base in day_dirs(root, kind).items() if day in result.days
               for folder in _partitions(base)]
    if not dry_run:
        for _, folder in folders:
            result.finished_journals += finish_journals(folder)
    merges = [m for kind, folder in folders for m in plan(folder, kind)]
    result.merges = len(merges)
    result.files_before = sum(len(m.sources) for m in merges)
    result.bytes_before = sum(p.stat().st_size for m in merges for p in m.sources)
    result.files_after = len(merges)
    if dry_run:
        result.rows = sum(_rows(p) for m in merges for p in m.sources)
        result.bytes_after = result.bytes_before
        return result
    from tqdm import tqdm

    with tqdm(total=result.files_before, desc="compact", unit="file", disable=not progress, leave=False) as bar:
        for m in merges:
            result.rows += merge(m)
            result.bytes_after += m.target.stat().st_size
            bar.update(len(m.sources))
    log.info("compacted %d files into %d under %s", result.files_before, result.files_after, root)
    return result


def _partitions(base: Path) -> list[Path]:
    """The directories under a day that hold files (the day itself for vitals, its ``domain=`` folders for
    readings), hidden and ``_`` ones left out as the readers leave them out."""
    out = [base] if any(p.is_file() for p in base.iterdir()) else []
    out += sorted(p for p in base.rglob("*") if p.is_dir() and not any(
        part.startswith((".", "_")) for part in p.relative_to(base).parts) and any(q.is_file() for q in p.iterdir()))
    return out


def plan(folder: Path, kind: str) -> list[Merge]:
    """The merges of one partition: per run with more than one file, its files (name order) into the next
    ``compacted-NNN`` name of that run."""
    files = [p for p in history_files(folder) if p.parent == folder]
    by_run: dict[str, list[Path]] = {}
    for p in files:
        by_run.setdefault(run_of(p.name), []).append(p)
    merges = []
    for run, sources in by_run.items():
        if len(sources) < 2:
            continue
        number = max(merged_files(folder, run), default=0) + 1
        merges.append(Merge(folder, kind, run, tuple(sources), folder / merged_name(run, number)))
    return merges


def finish_journals(folder: Path) -> int:
    """Finish the compactions a crash interrupted in ``folder``: a merged file in place -> its sources left are
    deleted; not in place -> its hidden file is. Returns how many journals it finished."""
    done = 0
    for journal in sorted(folder.glob(f"{JOURNAL_PREFIX}*.json")):
        target, sources = read_record(journal)
        if (folder / target).is_file():
            for s in sources:
                (folder / s).unlink(missing_ok=True)
        else:
            (folder / f".{target}.tmp").unlink(missing_ok=True)
        _sync_dir(folder)
        journal.unlink()
        done += 1
        log.info("finished an interrupted compaction in %s (%s)", folder, target)
    return done


def merge(m: Merge) -> int:
    """Write ``m``'s sources as its one file, then replace them (the journal protocol above); returns its rows."""
    metas = [_metadata(p) for p in m.sources]
    expected = sum(meta.num_rows for meta in metas)
    schemas = [meta.schema.to_arrow_schema() for meta in metas]
    everywhere = set.intersection(*(set(s.names) for s in schemas))
    schema = union_schema(schemas)
    schema = pa.schema([f if f.name in everywhere else f.with_nullable(True) for f in schema], metadata=schema.metadata)
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        for table in _row_groups(m, metas, schema):
            if writer is None:
                options = READINGS_ENCODINGS if m.kind == "readings" else vitals_encodings(table)
                writer = pq.ParquetWriter(m.hidden, schema, **options)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            written += table.num_rows
        if writer is not None:
            writer.close()
            writer = None
    except READ_ERRORS as exc:
        if writer is not None:
            writer.close()
        m.hidden.unlink(missing_ok=True)
        msg = f"cannot compact {m.folder}: {exc}"
        raise HistoryError(msg) from exc
    if written != expected:
        m.hidden.unlink(missing_ok=True)
        msg = f"compacting {m.folder} wrote {written:,} rows of {expected:,}: nothing was replaced"
        raise HistoryError(msg)
    _sync(m.hidden)
    tmp_journal = m.folder / f".{m.journal.name}.tmp"
    tmp_journal.write_text(json.dumps({"target": m.target.name, "sources": [p.name for p in m.sources]}),
                           encoding="utf-8")
    _sync(tmp_journal)
    os.replace(tmp_journal, m.journal)
    _record(m)
    _sync_dir(m.folder)
    os.replace(m.hidden, m.target)
    _sync_dir(m.folder)
    for p in m.sources:
        p.unlink(missing_ok=True)
    _sync_dir(m.folder)
    m.journal.unlink()
    return written


def _record(m: Merge) -> None:
    """Add ``m``'s sources to the run's compaction record in the partition (written before the merged file takes
    its name: a name in it only makes a writer compare that file's rows with the run's merged files, so a name
    whose merge did not happen costs a comparison, never a row)."""
    path = manifest_path(m.folder, m.run)
    names = read_record(path)[1] if path.is_file() else []
    names += [p.name for p in m.sources if p.name not in names]
    tmp = m.folder / f".{path.name}.tmp"
    tmp.write_text(json.dumps({"target": m.target.name, "sources": names}), encoding="utf-8")
    _sync(tmp)
    os.replace(tmp, path)


def _rows(path: Path) -> int:
    return _metadata(path).num_rows


def _metadata(path: Path) -> pq.FileMetaData:
    try:
        return pq.read_metadata(path)
    except READ_ERRORS as exc:
        raise not_parquet(path, exc) from exc


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # a filesystem that cannot sync a directory: the renames are still in order
        _sync(folder)


@dataclass(frozen=True)
class _Unit:
    """A row group of a source: where it is, and the earliest time in it (ns)."""

    first_ns: int
    rank: int  # the source's place in name order
    group: int


def _units(sources: Sequence[Path], metas: Sequence[pq.FileMetaData], column: str) -> list[_Unit]:
    units = []
    for rank, (path, meta) in enumerate(zip(sources, metas, strict=True)):
        arrow = meta.schema.to_arrow_schema()
        index = arrow.get_field_index(column)
        if index < 0:
            msg = f"{path} has no {column} column: it is not a history file; move it out of the history"
            raise HistoryError(msg)
        kind = arrow.field(index).type
        scale = NS_PER_UNIT.get(kind.unit, 0) if pa.types.is_timestamp(kind) else 0
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(index).statistics
            if scale and stats is not None and stats.has_min_max and isinstance(stats.min_raw, int):
                first = stats.min_raw * scale
            else:  # no statistics: read the column
                times = _ns(pq.ParquetFile(path).read_row_group(g, columns=[column]).column(column))
                first = int(times.min()) if len(times) else 0
            units.append(_Unit(first, rank, g))
    return sorted(units, key=lambda u: (u.first_ns, u.rank, u.group))


NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _ns(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """A time column as ns since the epoch (a null: the smallest time, so it is held no longer than any row)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ns", tz=column.type.tz))
    return column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()


def _row_groups(m: Merge, metas: Sequence[pq.FileMetaData], schema: pa.Schema) -> Iterator[pa.Table]:
    """``m``'s rows as tables of at most ``ROW_GROUP_ROWS`` in time order (ties: source in name order, then place),
    each conformed to ``schema``; readings sorted inside by (indicator, area, ts)."""
    column = TIME_COLUMN[m.kind]
    units = _units(m.sources, metas, column)
    last_unit = {u.rank: i for i, u in enumerate(units)}
    files: dict[int, pq.ParquetFile] = {}
    held: list[pa.Table] = []
    keys: list[npt.NDArray[np.int64]] = []  # per held table: time ns, rank, row
    ready: list[pa.Table] = []
    ready_rows = 0
    for i, unit in enumerate(units):
        source = files.get(unit.rank)
        if source is None:
            source = files[unit.rank] = pq.ParquetFile(m.sources[unit.rank], metadata=metas[unit.rank])
        table = _conform(source.read_row_group(unit.group), schema)
        offset = sum(metas[unit.rank].row_group(g).num_rows for g in range(unit.group))
        if last_unit[unit.rank] == i:
            files.pop(unit.rank).close()
        times = _ns(table.column(column))
        held.append(table)
        keys.append(np.stack([times, np.full(len(times), unit.rank), np.arange(len(times)) + offset]))
        horizon = units[i + 1].first_ns if i + 1 < len(units) else None
        if horizon is not None and sum(t.num_rows for t in held) < HOLD_ROWS and \
                sum(t.nbytes for t in held) < HOLD_BYTES:
            continue  # sorted when this much is held: each pass sorts what it holds (overlapping files)
        table, key = pa.concat_tables(held), np.concatenate(keys, axis=1)
        order = np.lexsort(key[::-1])
        cut = len(order) if horizon is None else int(np.searchsorted(key[0][order], horizon, side="left"))
        if bool((order[1:] > order[:-1]).all()):  # already in order (the usual case): slices, no copies
            now, later = table.slice(0, cut), table.slice(cut)
        else:
            now, later = table.take(pa.array(order[:cut])), table.take(pa.array(order[cut:]))
        if cut:
            ready.append(now)
            ready_rows += cut
        held, keys = ([later], [key[:, order[cut:]]]) if cut < len(order) else ([], [])
        while ready_rows >= ROW_GROUP_ROWS or (horizon is None and ready_rows):
            block = pa.concat_tables(ready)
            yield _inside(block.slice(0, ROW_GROUP_ROWS), m.kind)
            rest = block.slice(ROW_GROUP_ROWS)
            ready, ready_rows = ([rest] if rest.num_rows else []), rest.num_rows
    for source in files.values():
        source.close()


def _inside(table: pa.Table, kind: str) -> pa.Table:
    """A row group's rows in the order the flow writes them: readings by (indicator, area, ts), stably."""
    return table.take(pa.array(series_time_order(table))) if kind == "readings" else table


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order: its own cast to the schema's types, the others nulls."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    columns = []
    for f in schema:
        if f.name in table.column_names:
            columns.append(table.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=schema)
