"""Reading a history directory that holds a file which is not Parquet: one line naming the file, not a traceback.

A history directory is a tree an operator can touch: a stray ``notes.txt``, a zero-byte ``.parquet`` left by a
full disk or a copy, a file cut short by a transfer. The writers never leave such files (they write to a hidden
``.tmp`` and rename), so the readers (``read_readings``, ``read_vitals``, ``vitals checkup``, ``vitals train``,
``vitals backtest city``) refuse them in one :class:`~vitals.errors.HistoryError` line naming the first such file
and what to do, instead of Arrow's traceback. Hidden files and files starting with ``_`` are not read (Arrow's
dataset reader skips them too).

Every reader reads the same files: those named ``*.parquet`` (all the writers write), found by
:func:`history_files`. Any other file (``notes.txt``, ``README``, a ``.bak`` copy) is not history: it is skipped with
one warning naming it, as ``vitals checkup`` always did, where ``read_vitals``, ``read_readings``, ``vitals train``
and ``vitals backtest`` refused the whole directory over it. Skipping is the better of the two: such a file
holds no readings or vitals, so skipping it loses nothing, while refusing stopped every read over a note left
beside the data. A ``*.parquet`` that does not read is still refused: it should hold history,
and skipping it would drop data without a word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.errors import HistoryError
from vitals.run_id import run_of
from vitals.units import NS_PER_S

if TYPE_CHECKING:
    import pyarrow.dataset as ds

log = logging.getLogger(__name__)

READ_ERRORS = (pa.ArrowException, OSError)  # what Arrow raises on a file that is not Parquet (ArrowInvalid, IOError)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (Arrow's run to several), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def not_parquet(path: Path, exc: BaseException) -> HistoryError:
    """The one-line error for a history file Arrow cannot read."""
    return HistoryError(f"history file {path} is not a readable Parquet file ({first_line(exc)}); move it out of "
                        "the history directory (or delete it) and read again (`vitals history check DIR --quarantine "
                        "QDIR` finds and moves out every such file)")


def _data_files(base: Path) -> list[Path]:
    if base.is_file():
        return [base]
    found, journals = [], []
    for p in base.rglob("*"):
        if not p.is_file():
            continue
        parts = p.relative_to(base).parts
        if not any(part.startswith((".", "_")) for part in parts):
            found.append(p)
        elif p.name.startswith(JOURNAL_PREFIX) and p.suffix == ".json" and not any(
                part.startswith((".", "_")) for part in parts[:-1]):
            journals.append(p)
    if journals:  # a compaction was under way: the files it replaced are not read once its file is in place
        stale = {source for journal in journals for source in replaced_files(journal)}
        found = [p for p in found if p not in stale]
    return sorted(found)


# ``vitals history compact`` (vitals.history_compact): a partition's files of one run are merged into one file. Its
# journal ``_compact-<file>.json`` ({"target": name, "sources": [names]}, beside them) is written before the merged
# file takes its name and removed once the sources are deleted; while it exists, a reader reads the merged file and
# not the sources when the merged file is there, the sources alone when it is not (so never both, never neither)
JOURNAL_PREFIX = "_compact-"
# and its record ``_compacted-<run id>.json`` (the same form: the run's merged file in the partition and every name
# merged into it), kept: a run that writes one of those names again (resumed from its recovery directory after the
# compaction) writes only the rows the merged file does not hold (vitals.history)
MANIFEST_PREFIX = "_compacted-"


_MERGED = re.compile(r"(?:^|-)compacted-(\d{3,})\.parquet$")


def merged_name(run: str, number: int) -> str:
    """The name of ``run``'s merged file number ``number`` in a partition: ``<run id>-compacted-NNN.parquet``."""
    name = f"compacted-{number:03d}.parquet"
    return f"{run}-{name}" if run else name


def merged_files(folder: Path, run: str) -> dict[int, Path]:
    """``run``'s merged files in ``folder`` (:func:`merged_name`), by number."""
    return {int(m.group(1)): p for p in folder.glob("*compacted-*.parquet")
            if run_of(p.name) == run and (m := _MERGED.search(p.name))}


def manifest_path(folder: Path, run: str) -> Path:
    """Where the compaction record of ``run``'s files in ``folder`` is ("no-run-id" for names without one)."""
    return folder / f"{MANIFEST_PREFIX}{run or 'no-run-id'}.json"


def replaced_files(journal: Path) -> list[Path]:
    """The files a compaction journal says are replaced: its sources, when its merged file is in place; none
    otherwise (the compaction stopped before its file took its name)."""
    target, sources = read_record(journal)
    return [journal.parent / s for s in sources] if (journal.parent / target).is_file() else []


def read_record(path: Path) -> tuple[str, list[str]]:
    """A compaction journal's or record's merged file and sources (names in its directory); one line when it does
    not read."""
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        target, sources = doc["target"], doc["sources"]
        if not isinstance(target, str) or not all(isinstance(s, str) for s in sources):
            raise TypeError("names must be strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = (f"compaction record {path} does not read ({first_line(exc)}): it says which files a merged file "
               "replaced; restore it, or move the merged file it names out of the history")
        raise HistoryError(msg) from exc
    return target, list(sources)


def _parquet(paths: list[Path], base: Path) -> list[Path]:
    return paths if base.is_file() else [p for p in paths if p.suffix == ".parquet"]


def history_files(base: Path) -> list[Path]:
    """The files a history reader reads under ``base`` (a directory, or one file given by name): the ``*.parquet``
    files in name order, hidden ones and ``_``-prefixed ones left out; any other file is skipped with one warning."""
    paths = _data_files(base)
    files = _parquet(paths, base)
    if len(files) < len(paths):
        kept = set(files)
        others = [p for p in paths if p not in kept]
        log.warning("skipped %d file(s) under %s that are not *.parquet and hold no history (e.g. %s)", len(others),
                    base, others[0])
    return files


def some_history_files(base: Path) -> list[Path]:
    """:func:`history_files`, at least one (Arrow said "No match for FieldRef.Name(ts) in __fragment_index: int32"
    on none)."""
    paths = history_files(base)
    if not paths:
        msg = (f"no history under {base}: it holds no *.parquet file; write one with `vitals run --history-dir DIR` "
               "or `vitals simulate --out FILE.parquet`")
        raise HistoryError(msg)
    return paths


def history_table(base: Path, files: Sequence[Path] | None = None, *, columns: Sequence[str] | None = None,
                  schema: pa.Schema | None = None, filter: ds.Expression | None = None,
                  dictionary: Sequence[str] = ()) -> pa.Table:
    """The history files under ``base`` (``files``, default :func:`history_files`) as one table, with the hive
    partition columns of the paths below ``base`` (``date=...``, ``domain=...``); one line on an unreadable file.
    ``dictionary``: string columns read as dictionaries (ids: a few thousand values in millions of rows)."""
    import pyarrow.dataset as ds  # not at import: the flow's processes write history, they never read it

    paths = some_history_files(base) if files is None else list(files)
    fmt: str | ds.ParquetFileFormat = "parquet"
    if dictionary:
        fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=list(dictionary)))
    with reading(base, paths):
        dataset = ds.dataset([str(p) for p in paths], format=fmt, schema=schema, partitioning="hive",
                             partition_base_dir=None if base.is_file() else str(base))
        return dataset.to_table(columns=None if columns is None else list(columns), filter=filter)


def id_codes(column: pa.ChunkedArray, ids: Sequence[str]) -> npt.NDArray[np.int64]:
    """Each row's position of its id in ``ids`` (-1: not there, or null), matched through each chunk's dictionary
    (read as one, :func:`history_table` ``dictionary``, or encoded here): a history's ids are a few thousand
    distinct strings in millions of rows, so the strings are compared once per chunk, never per row."""
    import pandas as pd  # not at import (see history_table)

    index = pd.Index(list(ids), dtype=object)
    parts = []
    for chunk in column.chunks:
        coded = chunk if pa.types.is_dictionary(chunk.type) else chunk.dictionary_encode()
        known = index.get_indexer(pd.Index([str(v) for v in coded.dictionary.to_pylist()], dtype=object))
        rows = coded.indices.fill_null(len(known)).to_numpy(zero_copy_only=False)  # a null id: not known
        parts.append(np.append(known, -1)[rows])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def catalog_readings(
    table: pa.Table | pa.RecordBatch, indicators: Sequence[str], streets: Sequence[str], source: str, *,
    first_row: int = 0,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int16], npt.NDArray[np.int32], npt.NDArray[np.float64],
           npt.NDArray[np.intp]]:
    """A part of a history (columns ts, indicator, area, value; the ids read as dictionaries) as the readings of the
    catalog's series (``indicators``, ``streets``: its ids in code order): event times (ns, read as a replay reads
    them; ``first_row`` numbers a bad one in ``source``), indicator and street codes, values, and each one's row in
    the part. Readings of an indicator or area the catalog does not have are left out."""
    from vitals.readings.timestamps import history_ts_ns

    ind = id_codes(pa.chunked_array([table.column("indicator")]), indicators)
    street = id_codes(pa.chunked_array([table.column("area")]), streets)
    keep = np.flatnonzero((ind >= 0) & (street >= 0))
    ts = history_ts_ns(table.column("ts"), source, first_row=first_row)
    value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return ts[keep], ind[keep].astype(np.int16), street[keep].astype(np.int32), value[keep], keep


def history_rows(base: Path, files: Sequence[Path] | None = None) -> int:
    """The rows of the history files under ``base`` (``files`` of it when given), from their footers; one line on
    an unreadable file."""
    paths = some_history_files(base) if files is None else list(files)
    with reading(base, paths):
        return sum(pq.read_metadata(p).num_rows for p in paths)


def first_unreadable(base: Path, files: Sequence[Path] | None = None) -> tuple[Path, BaseException] | None:
    """The first of ``files`` (default: the Parquet files under ``base``, name order) whose Parquet footer cannot
    be read, and why; None if none."""
    for path in _parquet(_data_files(base), base) if files is None else files:
        try:
            pq.read_metadata(path)
        except READ_ERRORS as exc:
            return path, exc
    return None


@contextmanager
def reading(base: Path, files: Sequence[Path] | None = None) -> Iterator[None]:
    """Turn Arrow's error on reading the history under ``base`` (``files`` of it when given) into one line naming
    the unreadable file."""
    try:
        yield
    except READ_ERRORS as exc:
        bad = first_unreadable(base, files)
        if bad is not None and base.is_file():  # a file given where a history directory (or one Parquet file) goes
            msg = (f"{base} is not a readable Parquet file ({first_line(bad[1])}); give a history directory "
                   "(--history-dir of run/replay) or a Parquet file of readings")
            raise HistoryError(msg) from exc
        if bad is not None:
            raise not_parquet(*bad) from exc
        msg = f"cannot read the history under {base}: {first_line(exc)}"
        raise HistoryError(msg) from exc


def snapshot_interval_s(at_ns: npt.NDArray[np.int64]) -> float | None:
    """The vitals snapshot interval of a history (``--history-vitals-every``), seen in its snapshot times (ns): the
    shortest gap between two distinct ones (every run writes on multiples of its interval); None with fewer than
    two."""
    gaps = np.diff(np.unique(at_ns))
    return float(gaps.min()) / NS_PER_S if gaps.size else None
