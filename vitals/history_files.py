"""Reading a history directory that holds a file which is not Parquet: one line naming the file, not a traceback.

A history directory is a tree an operator can touch: a stray ``notes.txt``, a zero-byte ``.parquet`` left by a
full disk or a copy, a file cut short by a transfer. The writers never leave such files (they write to a hidden
``.tmp`` and rename), so the readers (``read_readings``, ``read_vitals``, ``vitals checkup``, ``vitals train``,
``vitals backtest city``) refuse them in one :class:`~vitals.errors.HistoryError` line naming the first such file
and what to do, instead of Arrow's traceback. Hidden files and files starting with ``_`` are not read (Arrow's
dataset reader skips them too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vitals.errors import HistoryError

READ_ERRORS = (pa.ArrowException, OSError)  # what Arrow raises on a file that is not Parquet (ArrowInvalid, IOError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def not_parquet(path: Path, exc: BaseException) -> HistoryError:
    """The one-line error for a history file Arrow cannot read."""
    return HistoryError(f"history file {path} is not a readable Parquet file ({_first_line(exc)}); move it out of "
                        "the history directory (or delete it) and read again")


def _data_files(base: Path) -> list[Path]:
    if base.is_file():
        return [base]
    return sorted(p for p in base.rglob("*") if p.is_file() and not any(
        part.startswith((".", "_")) for part in p.relative_to(base).parts))


def first_unreadable(base: Path) -> tuple[Path, BaseException] | None:
    """The first file under ``base`` (name order) whose Parquet footer cannot be read, and why; None if none."""
    for path in _data_files(base):
        try:
            pq.read_metadata(path)
        except READ_ERRORS as exc:
            return path, exc
    return None


@contextmanager
def reading(base: Path) -> Iterator[None]:
    """Turn Arrow's error on reading the history under ``base`` into one line naming the unreadable file."""
    try:
        yield
    except READ_ERRORS as exc:
        bad = first_unreadable(base)
        if bad is not None and base.is_file():  # a file given where a history directory (or one Parquet file) goes
            msg = (f"{base} is not a readable Parquet file ({_first_line(bad[1])}); give a history directory "
                   "(--history-dir of run/replay) or a Parquet file of readings")
            raise HistoryError(msg) from exc
        if bad is not None:
            raise not_parquet(*bad) from exc
        msg = f"cannot read the history under {base}: {_first_line(exc)}"
        raise HistoryError(msg) from exc
