"""numba's kernels without scipy, for the flow's processes.

When a process first calls a compiled kernel (cached or not), numba loads its CPU target's registries, among them
``numba.np.arraymath``, which at import probes for a BLAS: ``_HAVE_BLAS = _check_blas()`` imports
``scipy.linalg.cython_blas``, and with it all of ``scipy.linalg`` and scipy's array-API layer (which touches
``numpy.f2py``, ``numpy.testing``, ``unittest``): ~0.2 CPU s per process, the largest single import of a replay
process after numba itself. The flag only picks how ``np.convolve``/``np.correlate`` are compiled in nopython
code (a BLAS dot or numba's own loop); the kernels of this package call neither, so a replay process has no use
for scipy. :func:`skip_blas_probe` makes that one probe find no scipy: the finder it installs fails an import of
scipy only when numba's ``_check_blas`` is on the importing thread's stack, and only if scipy.linalg is not
imported already. Every other import of scipy, in any thread, works as before, including numba's own later
``ensure_blas()`` when it compiles ``np.dot`` or ``np.linalg`` (``tests/test_numba_setup.py``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import FrameType, ModuleType

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_PROBE = ("_check_blas", "arraymath.py")


def _in_probe(frame: FrameType | None) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == _PROBE[0] and code.co_filename.endswith(_PROBE[1]) and "numba" in code.co_filename:
            return True
        frame = frame.f_back
    return False


class _NoScipyForBlasProbe:
    """A meta path finder that fails ``import scipy...`` made from numba's BLAS probe, and nothing else."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if (name == "scipy" or name.startswith("scipy.")) and _in_probe(sys._getframe(1)):
            log.debug("numba's BLAS probe skipped: no scipy import (vitals.numba_setup)")
            msg = "scipy is not imported for numba's BLAS probe (vitals.numba_setup)"
            raise ModuleNotFoundError(msg, name=name)
        return None


_FINDER = _NoScipyForBlasProbe()


def skip_blas_probe() -> bool:
    """Let numba load its registries in this process without importing scipy; True if the probe is still ahead
    (False: numba's registries or scipy.linalg are loaded already, nothing left to save). Call it before the
    first kernel call, e.g. when a pipeline process starts. Idempotent; the finder stays installed and is inert
    once the probe has run."""
    with _LOCK:
        if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
            return False
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
        return True
