"""pyarrow's numpy conversions without pandas, for the flow's processes.

pyarrow 26 imports pandas (~0.45 CPU s, the largest import of a pipeline process) the first time it converts
between Arrow and numpy: ``Array.to_numpy()``, ``pa.array(ndarray)``, ``pa.table`` of numpy columns. It only
*tries*: its Python shim (``pyarrow.lib._pandas_api``) and its C++ side (the pandas sentinels it looks up once)
each remember that the import failed and convert with numpy alone, the same arrays (integers, floats, booleans,
timestamps, strings as ``str`` objects). :func:`convert_without_pandas` makes that first try fail on purpose,
once, before the flow converts anything; ``import pandas`` works as before afterwards, and pyarrow's explicit
pandas API (``Table.to_pandas()``, ``Table.from_pandas()``) imports it when called, and from then on pyarrow
treats pandas objects as usual. Until then, pandas objects given to ``pa.array`` convert through their own
``__arrow_array__`` or as sequences (a categorical ``pd.Series`` becomes strings, not a dictionary array); nothing
in the flow hands pyarrow pandas objects (``tests/test_arrow_setup.py``: a replay process imports no pandas).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

log = logging.getLogger(__name__)

_LOCK = threading.Lock()


class _NoPandas:
    """A meta path finder that makes ``import pandas`` fail (only while :func:`convert_without_pandas` runs)."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name == "pandas" or name.startswith("pandas."):
            msg = "pandas is not imported for pyarrow's numpy conversions (vitals.arrow_setup)"
            raise ModuleNotFoundError(msg, name=name)
        return None


def convert_without_pandas() -> bool:
    """Let pyarrow convert to and from numpy in this process without importing pandas; True if that holds now
    (False: pandas was imported already, by pyarrow or anyone, so there is nothing left to save). Call it before
    the first conversion, e.g. when a pipeline process starts."""
    with _LOCK:
        if "pandas" in sys.modules:
            return False
        import numpy as np
        import pyarrow as pa

        blocker = _NoPandas()
        sys.meta_path.insert(0, blocker)
        try:
            # the shim's try (pa.array of a numpy array) and the C++ side's (to_numpy), both failing once
            pa.array(np.zeros(1, dtype=np.int64)).to_numpy()
        finally:
            sys.meta_path.remove(blocker)
        skipped = "pandas" not in sys.modules
        log.debug("pyarrow converts without pandas: %s", skipped)
        return skipped
