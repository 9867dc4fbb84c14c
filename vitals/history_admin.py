"""Looking after a history directory (``vitals history info|prune``): what it holds, and dropping old days.

A city that keeps its history grows it every day: the model city writes ~50 MB of readings and ~1 GB of vitals
snapshots a day at the default snapshot cadence (docs/history.md, "Snapshot cadence"). ``info`` says, per kind
(``readings``, ``vitals``), which UTC days the directory holds, how many files, rows (from the Parquet footers)
and bytes, and the runs that wrote them; ``prune`` deletes whole days (``date=YYYY-MM-DD`` partitions) before a
cutoff, both kinds, and says what it deleted (or would, with ``dry_run``).

A day is the unit: the readers select days. An interrupted prune leaves part of a day it was dropping; the next
prune finishes it. Anything that is not a ``date=`` partition of a kind (a note beside the data, a
``_``-prefixed file) is left alone. A run still writing a day before the cutoff (a replay of old data) writes it
again; prune only what no run is writing.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.errors import HistoryError
from vitals.history_files import READ_ERRORS, history_files, not_parquet, snapshot_interval_s
from vitals.run_id import run_of

log = logging.getLogger(__name__)

KINDS = ("readings", "vitals")
COMPACT_KEEP_DAYS = 2  # ``vitals history compact`` leaves the newest days of a history alone (runs may write them)
_DAY = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


@dataclass
class KindSummary:
    """What a history holds of one kind."""

    kind: str
    days: list[str] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    bytes: int = 0
    runs: set[str] = field(default_factory=set)
    snapshot_interval_s: float | None = None  # vitals: the snapshot cadence seen on the newest day
    # per day: the files ``vitals history compact`` would merge (a partition's files of a run, when more than one)
    mergeable: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "first_day": self.days[0] if self.days else None,
                "last_day": self.days[-1] if self.days else None, "days": len(self.days), "files": self.files,
                "rows": self.rows, "bytes": self.bytes, "runs": len(self.runs),
                "snapshot_interval_s": self.snapshot_interval_s,
                "mergeable_files": sum(self.mergeable.values())}


def check_root(root: Path) -> None:
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        msg = f"history directory {root} {what}; give the directory a run wrote with --history-dir"
        raise HistoryError(msg)
    if not any((root / kind).is_dir() for kind in KINDS):
        msg = f"{root} holds no history (no readings/ or vitals/ directory); give the --history-dir of a run"
        raise HistoryError(msg)


def day_dirs(root: Path, kind: str) -> dict[str, Path]:
    """The ``date=`` partitions of one kind, by day (ISO date), in day order."""
    base = root / kind
    if not base.is_dir():
        return {}
    found = {m.group(1): p for p in base.iterdir() if p.is_dir() and (m := _DAY.match(p.name)) and _is_day(m.group(1))}
    return dict(sorted(found.items()))


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:  # date=2026-13-45: not a partition a writer makes; left alone like any other directory
        return False
    return True


def summarize(root: str | Path) -> list[KindSummary]:
    """Days, files, rows (from the footers), bytes and runs of each kind; one line on an unreadable file."""
    root = Path(root)
    check_root(root)
    out = []
    for kind in KINDS:
        summary = KindSummary(kind)
        for day, folder in day_dirs(root, kind).items():
            files = history_files(folder)
            if not files:
                continue
            summary.days.append(day)
            groups: dict[tuple[Path, str], int] = {}
            for path in files:
                key = (path.parent, run_of(path.name))
                groups[key] = groups.get(key, 0) + 1
            summary.mergeable[day] = sum(n for n in groups.values() if n > 1)
            for path in files:
                try:
                    summary.rows += pq.read_metadata(path).num_rows
                except READ_ERRORS as exc:
                    raise not_parquet(path, exc) from exc
                summary.files += 1
                summary.bytes += path.stat().st_size
                if run := run_of(path.name):
                    summary.runs.add(run)
        if kind == "vitals" and summary.days:
            summary.snapshot_interval_s = _snapshot_interval_s(history_files(root / kind / f"date={summary.days[-1]}"))
        out.append(summary)
    return out


def _snapshot_interval_s(files: list[Path]) -> float | None:
    """:func:`~vitals.history_files.snapshot_interval_s` of one day's vitals files (those with an ``at`` column)."""
    parts = [pq.read_table(p, columns=["at"]).column("at").cast(pa.int64()).to_numpy() for p in files
             if "at" in pq.read_schema(p).names]
    return snapshot_interval_s(np.concatenate(parts)) if parts else None


@dataclass(frozen=True)
class PruneResult:
    """What a prune deleted (or, dry, would delete): the days before ``cutoff``, per kind."""

    cutoff: str
    days: dict[str, list[str]]
    files: int
    bytes: int
    dry_run: bool


def cutoff_day(root: Path, *, before: date | None, keep_days: int | None) -> date:
    """The first day to keep: ``before``, or the newest day in the history minus ``keep_days - 1`` (the history's
    own days, not the wall clock, so pruning a replayed year keeps its last days)."""
    if (before is None) == (keep_days is None):
        msg = "give one of --before YYYY-MM-DD or --keep-days N"
        raise HistoryError(msg)
    if before is not None:
        return before
    assert keep_days is not None
    if keep_days < 1:
        msg = f"--keep-days must be >= 1 (the newest day is always kept), got {keep_days}"
        raise HistoryError(msg)
    days = [d for kind in KINDS for d in day_dirs(root, kind)]
    newest = max((date.fromisoformat(d) for d in days), default=None)
    if newest is None:
        msg = f"{root} holds no date=YYYY-MM-DD partition: nothing to prune"
        raise HistoryError(msg)
    return newest - timedelta(days=keep_days - 1)


def _size(paths: Iterable[Path]) -> tuple[int, int]:
    files = [p for folder in paths for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def prune(root: str | Path, *, before: date | None = None, keep_days: int | None = None,
          dry_run: bool = False) -> PruneResult:
    """Delete every ``date=`` partition of both kinds before the cutoff (:func:`cutoff_day`)."""
    root = Path(root)
    check_root(root)
    first_kept = cutoff_day(root, before=before, keep_days=keep_days)
    newest = max((date.fromisoformat(d) for kind in KINDS for d in day_dirs(root, kind)), default=None)
    if newest is not None and first_kept > newest:  # a typo in --before must not wipe the history
        msg = (f"--before {first_kept} is after the newest day of {root} ({newest}): it would delete every day; "
               f"give an earlier date (or delete the directory itself)")
        raise HistoryError(msg)
    doomed = {kind: {d: p for d, p in day_dirs(root, kind).items() if date.fromisoformat(d) < first_kept}
              for kind in KINDS}
    files, size = _size(p for per_kind in doomed.values() for p in per_kind.values())
    if not dry_run:
        for per_kind in doomed.values():
            for folder in per_kind.values():
                shutil.rmtree(folder)
        log.info("pruned %d files (%d bytes) before %s under %s", files, size, first_kept, root)
    return PruneResult(first_kept.isoformat(), {k: sorted(v) for k, v in doomed.items()}, files, size, dry_run)
