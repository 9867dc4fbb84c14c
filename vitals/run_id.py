"""Run ids: what tells the history files of one run from another's in the same ``--history-dir``.

History files are named by what the stream deterministically produces (shard, source partition, chunk number;
shard and event-time window), so a run resumed from its recovery directory rewrites its own files exactly. Two
different runs into one directory produce the same names too (every run numbers its chunks from 0), so each file
name also carries the run's id (docs/history.md, "Runs into one directory"): a fresh one per run without a recovery
directory, and with one the id stored in its identity when it was initialised, reused by every resume.

An id is a short UTC timestamp to the millisecond and a random suffix, ``20261203T131200042Z-1a2b3c4d``: ids sort by
their run's start (to the second, two runs started in one second sorted by their random suffix, and a reader that
lets the later run win, `vitals checkup`, could take the earlier one's rows).
The empty id means no run id, the names written before run ids (a recovery directory initialised before them
resumes with those names).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from vitals.errors import RecoveryError

RUN_ID_KEY = "run_id"  # the key of the run id in a recovery directory's identity (vitals.recovery)
_RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id: the UTC time to the millisecond and 32 random bits (``20261203T131200042Z-1a2b3c4d``)."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{at:%Y%m%dT%H%M%S}{at.microsecond // 1000:03d}Z-{secrets.token_hex(4)}"


def is_run_id(value: object) -> bool:
    """Whether ``value`` can stand in a file name as a run id (letters, digits and ``-``, not first; at most 64),
    or is the empty id (no run id: the names written before run ids)."""
    return isinstance(value, str) and (value == "" or _RUN_ID.fullmatch(value) is not None)


def check_run_id(value: object, where: str) -> str:
    """``value`` if it is a run id (:func:`is_run_id`), else one :class:`RecoveryError` line naming ``where``."""
    if not is_run_id(value):
        msg = (f"{where}: run id {value!r} is not a run id (letters, digits and '-'); restore the file or start "
               "fresh with a new --recovery-dir")
        raise RecoveryError(msg)
    return str(value)


_IN_FRONT = re.compile(r"^(\d{8}T\d{9}Z-[0-9a-f]{8})-")  # an id of new_run_id in front of a history file's name


def run_of(name: str) -> str:
    """The run id in front of a history file's name; "" when it has none (names written before run ids)."""
    m = _IN_FRONT.match(name)
    return m.group(1) if m else ""


def history_name(run_id: str, stem: str) -> str:
    """A history file's name (without ``.parquet``): ``<run id>-<stem>``, or ``stem`` alone for the empty id."""
    return f"{run_id}-{stem}" if run_id else stem
