"""The pipeline commands' malloc policy: keep glibc from giving the state update's temporaries back to the OS.

A batch's update makes some MB of numpy temporaries per call. glibc serves a block above its mmap threshold
(128 KiB at start, then raised to the largest block freed, at most 32 MiB) by ``mmap``, and gives the free top of
the heap back to the OS above its trim threshold (twice the mmap threshold); so at every call those MB are fresh
pages again, one minor fault and one zeroed page per 4 KiB (docs/benchmarks.md, fifth and sixth pass).
:func:`apply_malloc_policy` fixes both thresholds (``mallopt``) at bounded values: blocks up to
:data:`MMAP_THRESHOLD` come from the heap, and the heap keeps up to :data:`TRIM_THRESHOLD` of free top instead of
trimming it, so the pages are reused. The cost is that the heap keeps its peak (bounded by the trim threshold
above what is in use) instead of shrinking between batches.

Applied at the start of ``vitals run`` / ``vitals replay`` / ``vitals demo`` (every process of a cluster) and of
``vitals checkup`` (a long period's dense blocks: docs/checkup.md), never at import. It changes nothing when:

- ``VITALS_MALLOC=system``: the C library's own defaults;
- ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_`` or ``MALLOC_MMAP_MAX_`` is set, or
  ``GLIBC_TUNABLES`` names ``glibc.malloc``: the user's settings stand;
- the C library is not glibc (musl, macOS): nothing to set (a debug log says so).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from vitals.errors import ConfigError

log = logging.getLogger(__name__)

ENV = "VITALS_MALLOC"
MMAP_THRESHOLD = 64 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024
# mallopt parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# the user's own settings of the same thresholds, which win
USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


@dataclass(frozen=True)
class MallocPolicy:
    """What :func:`apply_malloc_policy` did: ``applied`` True when both thresholds were set, else ``reason``."""

    applied: bool
    reason: str
    mmap_threshold: int = 0
    trim_threshold: int = 0


def _user_setting(env: Mapping[str, str]) -> str | None:
    """The name of a malloc setting the user made in the environment, if any."""
    for name in USER_VARIABLES:
        if name in env:
            return name
    if "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return "GLIBC_TUNABLES"
    return None


def apply_malloc_policy(env: Mapping[str, str] | None = None) -> MallocPolicy:
    """Set glibc's mmap and trim thresholds for this process (see the module docstring); ``env`` defaults to
    ``os.environ``. Raises :class:`ConfigError` for a ``VITALS_MALLOC`` other than ``retain`` (the default) or
    ``system``."""
    import ctypes  # only here: the command line's start-up does not load them otherwise
    import platform

    env = os.environ if env is None else env
    choice = env.get(ENV, "retain").strip().lower() or "retain"
    if choice not in {"retain", "system"}:
        msg = f"{ENV}={env[ENV]!r}: use 'retain' (the default: the heap keeps freed pages) or 'system'"
        raise ConfigError(msg)
    if choice == "system":
        return _skipped(f"{ENV}=system")
    user = _user_setting(env)
    if user is not None:
        return _skipped(f"{user} is set")
    name, _version = platform.libc_ver()
    if name != "glibc":
        return _skipped(f"the C library is {name or 'unknown'}, not glibc")
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return _skipped("no mallopt in the C library")
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return _skipped("mallopt refused the thresholds")
    log.debug("malloc policy: mmap threshold %d MiB, trim threshold %d MiB (%s=system for the C library's own)",
              MMAP_THRESHOLD >> 20, TRIM_THRESHOLD >> 20, ENV)
    return MallocPolicy(True, "set", MMAP_THRESHOLD, TRIM_THRESHOLD)


def _skipped(reason: str) -> MallocPolicy:
    log.debug("malloc policy not applied: %s", reason)
    return MallocPolicy(False, reason)
