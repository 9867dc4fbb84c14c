"""The identity of a recovery directory: which run its snapshots belong to.

A recovery directory only makes sense for the run that made it: the same inputs (files with the same bytes, or
the same Kafka topic and partitions), the same series shards and source partitions, the same catalog and the same
city-vitals version. :func:`run_identity` describes a run; the identity is written to ``city-vitals-run.json``
when the directory is initialised (:func:`claim_identity`), and :func:`check_recovery_dir` compares it before a
resume, together with a check that every SQLite snapshot file is readable. A mismatch or a corrupt file is one
:class:`~vitals.errors.RecoveryError` line naming what differs and how to start fresh.

The identity also holds the run's id (:mod:`vitals.run_id`), made when the directory is initialised and never
compared: every resume reads it back, so the resumed run names its history files as the first one did, and the
processes of a cluster that share the directory agree on it (the first to initialise it writes it, the others read
it). An identity written before run ids has none: its resumes keep the names written before run ids.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vitals import __version__
from vitals.errors import RecoveryError
from vitals.run_id import RUN_ID_KEY, check_run_id, new_run_id

IDENTITY_FILE = "city-vitals-run.json"
SNAPSHOT_GLOB = "part-*.sqlite3"
_FORMAT = 1
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def describe_inputs(root: str | Path, files: Sequence[Path]) -> list[dict[str, Any]]:
    """Each input file (relative to ``root`` when it is a directory) with its size and SHA-256."""
    base = Path(root)
    out = []
    for f in files:
        name = str(f.relative_to(base)) if base.is_dir() and f.is_relative_to(base) else f.name
        out.append({"path": name, "bytes": f.stat().st_size, "sha256": file_digest(f)})
    return out


log = logging.getLogger(__name__)

HISTORY_DIR_KEY = "history_dir"  # the run's --history-dir (absolute; None: no history); absent in older identities
VITALS_EVERY_KEY = "vitals_every_s"  # the snapshot cadence; absent in identities written before it could be set
DEFAULT_VITALS_EVERY_S = 300.0  # the cadence of those (vitals.stream.shard_step.VITALS_EVERY_S)


def run_identity(*, source: Mapping[str, Any], shards: int, partitions: int, catalog_sha256: str,
                 history_dir: str | os.PathLike[str] | None = None,
                 vitals_every_s: float = DEFAULT_VITALS_EVERY_S) -> dict[str, Any]:
    """The identity of a run (what must not change between a run and its resume). ``history_dir`` is recorded,
    not enforced: a resume writing to another history directory (or to none, or to one where the run had none)
    is warned about (:func:`history_dir_change`), since each directory then holds a part of the run's history.
    ``vitals_every_s`` (the snapshot cadence) is enforced: a shard's saved state counts snapshot intervals."""
    return {"format": _FORMAT, "version": __version__, "source": dict(source), "shards": shards,
            "partitions": partitions, "catalog_sha256": catalog_sha256,
            HISTORY_DIR_KEY: None if history_dir is None else os.path.abspath(history_dir),
            VITALS_EVERY_KEY: vitals_every_s}


def _describe_source_change(saved: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    if saved.get("kind") != current.get("kind"):
        return f"source {saved.get('kind')} -> {current.get('kind')}"
    if "inputs" in saved or "inputs" in current:
        old = {i["path"]: i for i in saved.get("inputs", [])}
        new = {i["path"]: i for i in current.get("inputs", [])}
        parts = []
        if gone := sorted(old.keys() - new.keys()):
            parts.append("missing " + ", ".join(gone[:3]) + (" ..." if len(gone) > 3 else ""))
        if added := sorted(new.keys() - old.keys()):
            parts.append("new " + ", ".join(added[:3]) + (" ..." if len(added) > 3 else ""))
        if changed := sorted(k for k in old.keys() & new.keys() if old[k] != new[k]):
            parts.append("changed content " + ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else ""))
        if parts:
            return "input files differ (" + "; ".join(parts) + ")"
    keys = sorted((saved.keys() | current.keys()) - {"kind", "inputs"})
    return ", ".join(f"{k} {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k))


def differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between the saved identity and the current run, for the operator."""
    out = []
    if saved.get("source") != current.get("source"):
        out.append(_describe_source_change(saved.get("source") or {}, current.get("source") or {}))
    for key, label in (("shards", "--shards"), ("partitions", "--partitions")):
        if saved.get(key) != current.get(key):
            out.append(f"{label} {saved.get(key)} -> {current.get(key)}")
    was, now = (float(d.get(VITALS_EVERY_KEY, DEFAULT_VITALS_EVERY_S)) for d in (saved, current))
    if was != now:
        out.append(f"--history-vitals-every {was:g} -> {now:g}")
    if saved.get("catalog_sha256") != current.get("catalog_sha256"):
        out.append("the catalog (or --streets) changed")
    if saved.get("version") != current.get("version"):
        out.append(f"city-vitals {saved.get('version')} -> {current.get('version')}")
    return [d for d in out if d]


def history_dir_change(saved: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """What a resume does to the run's history when its ``--history-dir`` differs from the one the recovery
    directory was initialised with (None when the same, or when the identity predates the record)."""
    if HISTORY_DIR_KEY not in saved or saved[HISTORY_DIR_KEY] == current.get(HISTORY_DIR_KEY):
        return None
    was, now = saved[HISTORY_DIR_KEY], current.get(HISTORY_DIR_KEY)
    before = f"the part before the resume is in {was}" if was else "the run had no history before the resume"
    after = f"{now} gets only the rest" if now else "the rest of the run writes no history"
    return (f"--history-dir {was or 'none'} -> {now or 'none'}: this resume splits the run's history ({before}, "
            f"{after}); resume with --history-dir {was or '(none)'} to keep it in one directory")


def read_identity(rdir: Path) -> dict[str, Any] | None:
    path = rdir / IDENTITY_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"recovery dir {rdir}: cannot read {path.name} ({exc}); start fresh with a new --recovery-dir"
        raise RecoveryError(msg) from exc
    if not isinstance(doc, dict):
        msg = f"recovery dir {rdir}: {path.name} is not a run identity; start fresh with a new --recovery-dir"
        raise RecoveryError(msg)
    if RUN_ID_KEY in doc:
        check_run_id(doc[RUN_ID_KEY], f"recovery dir {rdir}: {path.name}")
    return doc


def stored_run_id(identity: Mapping[str, Any]) -> str:
    """The run id of a saved identity; "" for one written before run ids (its run's files have no run id)."""
    return str(identity.get(RUN_ID_KEY, ""))


def snapshot_files(rdir: Path) -> list[Path]:
    return sorted(rdir.glob(SNAPSHOT_GLOB))


_LATEST = ("SELECT s.step_id, s.state_key, s.ser_change FROM snaps s JOIN (SELECT step_id, state_key, "
           "MAX(snap_epoch) AS e FROM snaps GROUP BY step_id, state_key) m USING (step_id, state_key) "
           "WHERE s.snap_epoch = m.e")


def check_snapshot_file(path: Path) -> None:
    """A readable, intact SQLite database with Bytewax's tables whose latest snapshots unpickle; else one line
    naming the file (and the step and key of a snapshot that cannot be read)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0) as conn:
            verdict = conn.execute("PRAGMA quick_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if verdict is not None and verdict[0] == "ok" and "snaps" in tables:
                _check_latest_snapshots(path, conn)
    except sqlite3.Error as exc:
        msg = (f"recovery snapshot {path} is corrupt or unreadable ({exc}); restore the directory from a backup "
               "or start fresh with a new --recovery-dir")
        raise RecoveryError(msg) from exc
    if verdict is None or verdict[0] != "ok":
        msg = (f"recovery snapshot {path} failed its integrity check ({verdict[0] if verdict else 'no answer'}); "
               "restore the directory from a backup or start fresh with a new --recovery-dir")
        raise RecoveryError(msg)
    if "snaps" not in tables:
        msg = (f"recovery snapshot {path} holds no Bytewax snapshots (tables: {', '.join(sorted(tables)) or 'none'});"
               " start fresh with a new --recovery-dir")
        raise RecoveryError(msg)


def _check_latest_snapshots(path: Path, conn: sqlite3.Connection) -> None:
    """Unpickle the snapshot a resume would load for every (step, key), as Bytewax would."""
    for step_id, key, blob in conn.execute(_LATEST):
        if blob is None:
            continue
        try:
            pickle.loads(blob)
        except Exception as exc:  # any unpickling failure means the resume would die on it
            msg = (f"recovery snapshot {path} is corrupt: the state of step {step_id} key {key} cannot be read "
                   f"({type(exc).__name__}: {exc}); restore the directory from a backup or start fresh with a new "
                   "--recovery-dir")
            raise RecoveryError(" ".join(msg.split())) from exc


def check_recovery_dir(rdir: str | Path, identity: Mapping[str, Any]) -> bool:
    """Check that ``rdir`` can be used by the run ``identity`` (read-only). Returns True when it must be initialised
    (absent or empty), False when it holds this run's snapshots; raises :class:`RecoveryError` otherwise."""
    path = Path(rdir)
    fresh = "start fresh with a new --recovery-dir (or delete " + str(path) + ")"
    if path.exists() and not path.is_dir():
        msg = f"recovery dir {path} is not a directory"
        raise RecoveryError(msg)
    saved = read_identity(path) if path.exists() else None
    parts = snapshot_files(path) if path.exists() else []
    if saved is None:
        if parts:
            msg = (f"recovery dir {path} holds snapshots but no {IDENTITY_FILE} (made by an older city-vitals or "
                   f"another program), so the run they belong to is unknown; {fresh}")
            raise RecoveryError(msg)
        return True
    diff = differences(saved, identity)
    if diff:
        msg = f"recovery dir {path} belongs to another run: {'; '.join(diff)}; resume with the same inputs and " \
              f"settings, or {fresh}"
        raise RecoveryError(msg)
    if not parts:
        return True
    if len(parts) != saved.get("partitions"):
        msg = f"recovery dir {path} has {len(parts)} snapshot files, its run had {saved.get('partitions')}; {fresh}"
        raise RecoveryError(msg)
    for part in parts:
        check_snapshot_file(part)
    if (change := history_dir_change(saved, identity)) is not None:  # the resume goes ahead: say what it does
        log.warning("recovery dir %s: %s", path, change)
    return False


def claim_identity(rdir: str | Path, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The identity of the run in ``rdir``: written there with a fresh run id when the directory has none yet,
    else the one it holds (whose match :func:`check_recovery_dir` has checked). Written atomically and only if
    absent (a hard link of a complete temporary file), so of the processes of a cluster that initialise one
    directory together the first one's identity, and run id, stands and every other process reads it."""
    path = Path(rdir)
    out = path / IDENTITY_FILE
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not out.exists():
            _write_if_absent(out, {**identity, RUN_ID_KEY: new_run_id()})
    except OSError as exc:
        msg = f"recovery dir {path}: cannot write {IDENTITY_FILE} ({exc})"
        raise RecoveryError(msg) from exc
    saved = read_identity(path)
    if saved is None:  # removed under us
        msg = f"recovery dir {path}: {IDENTITY_FILE} disappeared while the run started; start again"
        raise RecoveryError(msg)
    return saved


def _write_if_absent(out: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` as JSON to ``out`` atomically, unless ``out`` exists (then leave it)."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(dict(doc), indent=1, sort_keys=True) + "\n")
        tmp.chmod(0o644)  # as a plainly written file (mkstemp's is 0600)
        try:
            os.link(tmp, out)
        except FileExistsError:
            pass  # another process of the cluster was first: its identity stands
        except OSError:  # a file system without hard links: not exclusive, as before run ids
            tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
