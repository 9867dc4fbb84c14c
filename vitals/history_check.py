"""``vitals history check``: every problem of a history directory at once, and moving the bad files out.

The readers refuse a history with a ``*.parquet`` that does not read, in one line naming the *first* such file
(:mod:`vitals.history_files`): the right thing for a reader, which must not drop rows without a word, but an
operator with three damaged files learns of them one read at a time. ``check`` looks at every file and says what
is wrong with each, in one pass; ``quarantine`` moves the files a reader would refuse or misread out of the
history (to a directory outside it, under the same relative path, so each can be looked at or put back), and the
readers read the rest again.

What it finds (``severity``):

* ``error``, a reader refuses the file or reads wrong rows from it:

  - ``unreadable``: its Parquet footer does not read (cut short, zero bytes, not Parquet);
  - ``corrupt`` (``deep`` only: every row group decoded): the footer reads but a page does not;
  - ``wrong_schema``: a column every reader of its kind needs is missing or of another type;
  - ``wrong_day``: it holds rows of another UTC day than its ``date=`` partition (from the row groups' statistics
    of ``ts``, readings, or ``at``, vitals; from the rows themselves with ``deep``): a read of one day misses them;
  - ``outside_partition``: a ``*.parquet`` not inside a ``date=YYYY-MM-DD`` partition (and, for readings, a
    ``domain=`` one below it): the readers read it with no day, ``prune`` and ``compact`` never see it;
  - ``bad_record``: a compaction journal or record (``_compact-*.json``, ``_compacted-*.json``) that does not read;
    not moved (it says which files a merged file replaced: restore it from a backup).
* ``warning``, the readers cope, someone should look:

  - ``unfinished_compaction``: a compaction journal left by an interrupted ``vitals history compact`` (readers
    read the history right meanwhile; the next ``compact`` finishes it);
  - ``leftover_temp``: a hidden ``.<name>.tmp`` of a write that did not finish (a crash, a full disk; a run
    writing now has some too), with its age;
  - ``not_history``: a file that is not ``*.parquet`` (readers skip it with a warning).

Run it on a history no run or compaction is writing, as for ``prune`` and ``compact``: a write in progress shows
as ``leftover_temp``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from vitals.errors import ConfigError, HistoryError
from vitals.history_admin import KINDS, check_root
from vitals.history_files import (
    JOURNAL_PREFIX,
    MANIFEST_PREFIX,
    READ_ERRORS,
    first_line,
    read_record,
    replaced_files,
)
from vitals.units import NS_PER_S, utc_date

log = logging.getLogger(__name__)

Severity = Literal["error", "warning"]
TIME_COLUMN = {"readings": "ts", "vitals": "at"}
# the columns every reader of a kind needs, by the type family it reads them as
REQUIRED: dict[str, dict[str, str]] = {
    "readings": {"ts": "timestamp", "indicator": "string", "area": "string", "value": "float"},
    "vitals": {"at": "timestamp", "indicator": "string", "area": "string"},
}
MOVED = frozenset({"unreadable", "corrupt", "wrong_schema", "wrong_day", "outside_partition"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file (``path``: relative to the history directory)."""

    path: str
    problem: str
    severity: Severity
    detail: str


@dataclass
class CheckResult:
    """What a check looked at and found; ``moved``: the files quarantined (relative paths)."""

    dir: str
    deep: bool
    files: int = 0          # Parquet files looked at
    rows: int = 0           # their rows (from the footers)
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    quarantine: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "errors": len(self.errors), "warnings": len(self.warnings)}


def check(root: str | Path, *, deep: bool = False, quarantine: str | Path | None = None,
          progress: bool = False, now: float | None = None) -> CheckResult:
    """Look at every file of the history under ``root``; with ``quarantine``, move the files with a problem a
    reader cannot live with (:data:`MOVED`) there, under their path relative to ``root``. ``deep``: decode every
    row group too (reads all the data; otherwise footers and statistics only). ``now``: the time the ages of
    leftover temporary files are counted to (default: the clock)."""
    from tqdm import tqdm

    root = Path(root)
    check_root(root)
    target = _quarantine_dir(root, quarantine)
    result = CheckResult(str(root), deep, quarantine=None if target is None else str(target))
    clock = time.time() if now is None else now
    found = list(_files(root))
    parquet = [(kind, p) for kind, p, what in found if what == "parquet"]
    for _kind, path, what in found:
        if what != "parquet":
            problem = _other(root, path, what, clock)
            if problem is not None:
                result.problems.append(problem)
    with tqdm(total=len(parquet), desc="check", unit="file", disable=not progress, leave=False) as bar:
        for kind, path in parquet:
            result.problems.extend(_parquet_problems(root, kind, path, deep, result))
            bar.update()
    result.problems.sort(key=lambda p: (p.severity != "error", p.path, p.problem))
    if target is not None:
        for rel in dict.fromkeys(p.path for p in result.errors if p.problem in MOVED):
            result.moved.append(_move(root, rel, target))
    return result


def _quarantine_dir(root: Path, quarantine: str | Path | None) -> Path | None:
    if quarantine is None:
        return None
    target = Path(quarantine)
    if target.exists() and not target.is_dir():
        msg = f"--quarantine {target} is a file; give a directory outside the history to move bad files to"
        raise ConfigError(msg)
    if target.resolve().is_relative_to(root.resolve()):
        msg = (f"--quarantine {target} is inside the history {root}: the readers would read the moved files there; "
               "give a directory outside it")
        raise ConfigError(msg)
    return target


def _files(root: Path) -> Iterator[tuple[str, Path, str]]:
    """(kind, path, what) of every file under each kind's directory: ``parquet`` (what the readers read),
    ``journal``, ``record``, ``temp``, ``other`` (not history), in path order; the sources a compaction already
    replaced (its merged file in place) are left out, as the readers leave them out."""
    for kind in KINDS:
        base = root / kind
        if not base.is_dir():
            continue
        paths = sorted(p for p in base.rglob("*") if p.is_file())
        journals = [p for p in paths if p.name.startswith(JOURNAL_PREFIX) and p.suffix == ".json"]
        replaced: set[Path] = set()
        for journal in journals:
            with contextlib.suppress(HistoryError):  # a journal that does not read: reported as a bad record
                replaced.update(replaced_files(journal))
        for path in paths:
            parts = path.relative_to(base).parts
            if any(part.startswith((".", "_")) for part in parts[:-1]):
                continue  # inside a hidden or ``_`` directory: not read, not written by city-vitals
            name = path.name
            if name.startswith("."):
                what = "temp" if name.endswith(".tmp") else "hidden"
            elif name.startswith(JOURNAL_PREFIX) and name.endswith(".json"):
                what = "journal"
            elif name.startswith(MANIFEST_PREFIX) and name.endswith(".json"):
                what = "record"
            elif name.startswith("_"):
                what = "hidden"
            elif path.suffix == ".parquet":
                what = "replaced" if path in replaced else "parquet"
            else:
                what = "other"
            if what not in {"hidden", "replaced"}:
                yield kind, path, what


def _other(root: Path, path: Path, what: str, clock: float) -> Problem | None:
    rel = str(path.relative_to(root))
    if what in {"journal", "record"}:
        try:
            target, sources = read_record(path)
        except HistoryError as exc:
            return Problem(rel, "bad_record", "error", str(exc))
        if what == "journal":
            return Problem(rel, "unfinished_compaction", "warning",
                           f"an interrupted compaction into {target} ({len(sources)} files); readers read it right "
                           f"meanwhile; `vitals history compact {root}` finishes it")
        return None
    if what == "temp":
        age_h = max(clock - path.stat().st_mtime, 0.0) / 3600
        return Problem(rel, "leftover_temp", "warning",
                       f"temporary file of a write that did not finish, {age_h:,.1f} h old ({path.stat().st_size:,} "
                       "bytes); a run writing now has some too: delete it once no run writes this history")
    return Problem(rel, "not_history", "warning", "not a *.parquet file: the readers skip it (with a warning)")


def _parquet_problems(root: Path, kind: str, path: Path, deep: bool, result: CheckResult) -> list[Problem]:
    rel = str(path.relative_to(root))
    problems = []
    day = _partition_day(root / kind, path, kind)
    if day is None:
        layout = "date=YYYY-MM-DD/domain=<domain>/" if kind == "readings" else "date=YYYY-MM-DD/"
        problems.append(Problem(rel, "outside_partition", "error",
                                f"not inside a {kind}/{layout} partition: readers read it with no day, prune and "
                                "compact never see it"))
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()  # the footer read once
    except READ_ERRORS as exc:
        problems.append(Problem(rel, "unreadable", "error", f"not a readable Parquet file ({first_line(exc)})"))
        return problems
    result.files += 1
    result.rows += meta.num_rows
    result.bytes += path.stat().st_size
    wrong = _schema_problem(kind, schema)
    if wrong:
        problems.append(Problem(rel, "wrong_schema", "error", wrong))
    column = TIME_COLUMN[kind]
    span = None
    if deep:
        span, error = _decode(path, column if column in schema.names else None)
        if error:
            problems.append(Problem(rel, "corrupt", "error", f"a row group does not decode ({error})"))
            return problems
    elif column in schema.names:
        span = _statistics_span(meta, schema.get_field_index(column))
    if day is not None and span is not None:
        first, last = (utc_date(ns) for ns in span)
        if first != day or last != day:
            days = first.isoformat() if first == last else f"{first.isoformat()} .. {last.isoformat()}"
            problems.append(Problem(rel, "wrong_day", "error",
                                    f"holds rows of {days} (by {column}) in date={day.isoformat()}: a read of a day "
                                    "misses them"))
    return problems


def _partition_day(base: Path, path: Path, kind: str) -> date | None:
    """The day of the ``date=`` partition ``path`` is in (with a ``domain=`` below it for readings); None if not in
    one."""
    parts = path.relative_to(base).parts
    if len(parts) != (3 if kind == "readings" else 2) or not parts[0].startswith("date="):
        return None
    if kind == "readings" and not parts[1].startswith("domain="):
        return None
    try:
        return date.fromisoformat(parts[0].removeprefix("date="))
    except ValueError:
        return None


def _schema_problem(kind: str, schema: pa.Schema) -> str:
    missing, other = [], []
    for name, family in REQUIRED[kind].items():
        if name not in schema.names:
            missing.append(name)
        elif not _is(schema.field(name).type, family):
            other.append(f"{name} is {schema.field(name).type}, not {family}")
    parts = []
    if missing:
        parts.append(f"no column {', '.join(missing)}")
    parts.extend(other)
    return f"{'; '.join(parts)} (a {kind} file needs {', '.join(REQUIRED[kind])})" if parts else ""


def _is(kind: pa.DataType, family: str) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if family == "timestamp":
        return bool(pa.types.is_timestamp(kind))
    if family == "string":
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
    return bool(pa.types.is_floating(kind) or pa.types.is_integer(kind))


def _statistics_span(meta: pq.FileMetaData, column: int) -> tuple[int, int] | None:
    """The first and last time (ns since the epoch) of a column from the row groups' statistics; None when a row
    group has none."""
    lows, highs = [], []
    for k in range(meta.num_row_groups):
        stats = meta.row_group(k).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(_ns(stats.min))
        highs.append(_ns(stats.max))
    return (min(lows), max(highs)) if lows else None


def _decode(path: Path, column: str | None) -> tuple[tuple[int, int] | None, str]:
    """Decode every row group; the time column's first and last time, or why a row group does not decode."""
    import pyarrow.compute as pc

    lows, highs = [], []
    try:
        parquet = pq.ParquetFile(path)
        for k in range(parquet.num_row_groups):
            table = parquet.read_row_group(k)
            if column is not None and table.num_rows:
                times = table.column(column).cast(pa.int64())
                span = pc.min_max(times).as_py()
                if span["min"] is not None:
                    lows.append(span["min"])
                    highs.append(span["max"])
    except READ_ERRORS as exc:
        return None, first_line(exc)
    return ((min(lows), max(highs)) if lows else None), ""


def _ns(value: object) -> int:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(stamp.timestamp()) * NS_PER_S + stamp.microsecond * 1000
    return int(getattr(value, "value", value))  # type: ignore[call-overload]  # pandas Timestamp or int


def _move(root: Path, rel: str, target: Path) -> str:
    """Move ``root/rel`` to ``target/rel`` (a free name beside it if one is there), and drop the partition
    directories that leaves empty (not the kind's own); the relative path moved."""
    destination = target / rel
    destination.parent.mkdir(parents=True, exist_ok=True)
    k = 1
    while destination.exists():
        destination = destination.with_name(f"{Path(rel).name}.{k}")
        k += 1
    try:
        os.replace(root / rel, destination)
    except OSError:  # another filesystem
        shutil.move(str(root / rel), str(destination))
    log.info("moved %s to %s", root / rel, destination)
    folder = (root / rel).parent
    while root not in (folder, folder.parent) and not any(folder.iterdir()):  # partitions it left empty
        folder.rmdir()
        folder = folder.parent
    return rel
