"""Prometheus text exposition format (version 0.0.4), vectorized where it matters.

Every helper here produces exactly what ``prometheus_client.generate_latest`` produces for the same sample:
labels sorted by name, label values escaped, values formatted like ``prometheus_client.utils.floatToGoString``
(Python's shortest round-trip ``repr``, ``NaN``/``+Inf``/``-Inf``, Go's exponent form for values in
[1e6, 1e16)). The exporter's tests compare the fast output with the generic one byte for byte.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from prometheus_client.utils import floatToGoString

# Integral values 0..SMALL_INTS-1 (levels, flags) are formatted from a table instead of repr.
SMALL_INTS = 64
_SMALL_INT_TEXT = np.array([repr(float(i)) for i in range(SMALL_INTS)], dtype=object)
_GO_EXPONENT_MIN = 1e6   # repr gives 7+ digits before the dot from here; Go switches to exponent form
_REPR_EXPONENT_MIN = 1e16  # repr switches to exponent form itself from here


def escape_label_value(value: str) -> str:
    r"""Escape ``\``, ``"`` and newlines as the text format requires (UTF-8 stays as it is)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def label_block(labels: Sequence[tuple[str, str]]) -> str:
    """``{a="1",b="2"}`` with the labels sorted by name (as prometheus_client renders them); ``""`` if none."""
    if not labels:
        return ""
    inner = ",".join(f'{name}="{escape_label_value(value)}"' for name, value in sorted(labels))
    return "{" + inner + "}"


def family_header(name: str, help_text: str, metric_type: str = "gauge") -> str:
    return f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {metric_type}\n"


def format_values(values: npt.NDArray[np.float64]) -> list[str]:
    """Text of each value, identical to ``floatToGoString`` (exact round trip through ``float()``)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    small = _small_int_codes(values)
    if small is not None:
        return list(_SMALL_INT_TEXT[small])
    texts = list(map(float.__repr__, values.tolist()))
    special = ~np.isfinite(values) | ((values >= _GO_EXPONENT_MIN) & (values < _REPR_EXPONENT_MIN))
    for i in np.flatnonzero(special).tolist():
        texts[i] = floatToGoString(values[i])
    return texts


def _small_int_codes(values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp] | None:
    """Table indices when every value is one of 0.0 .. SMALL_INTS-1 (not -0.0), else None."""
    with np.errstate(invalid="ignore"):
        codes = values.astype(np.intp)
    if not ((codes >= 0) & (codes < SMALL_INTS)).all():
        return None
    if not (codes == values).all() or np.signbit(values).any():
        return None
    return codes


def sample_lines(prefixes: Sequence[str], values: npt.NDArray[np.float64]) -> list[str]:
    """``prefix + value + newline`` per sample; each prefix is ``name{labels} `` (with the trailing space)."""
    return [line + "\n" for line in map(operator.add, prefixes, format_values(values))]
