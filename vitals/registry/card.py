"""Model cards: what a model is, what it was trained on, how it scored, with which libraries.

Each registry version holds ``card.json`` (the record, machine-readable) and ``card.md`` (the same, for
people). The JSON is the source; the Markdown is rendered from it.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are handled: `vitals models list` needs none
    import numpy.typing as npt

LIBRARIES: tuple[str, ...] = ("city-vitals", "numpy", "scikit-learn", "skops", "pandas", "pyarrow")


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a model depends on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def hash_arrays(*arrays: npt.NDArray[Any]) -> str:
    """sha256 of arrays' dtypes, shapes and bytes: the fingerprint of a training data set."""
    import numpy as np

    h = hashlib.sha256()
    for a in arrays:
        c = np.ascontiguousarray(a)
        h.update(f"{c.dtype.str}{c.shape}".encode())
        h.update(c.tobytes())
    return h.hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TrainingData:
    """Where a model's training data came from."""

    source: str                 # e.g. "simulated city (seed 7, 7 days, 76 streets)" or a Parquet directory
    start: str                  # first event time, ISO 8601 UTC
    end: str                    # last event time, ISO 8601 UTC
    rows: int                   # readings read
    series: int                 # series in the training grid
    sha256: str                 # fingerprint of the readings used (see hash_arrays)
    catalog: str = ""           # catalog source and version


@dataclass(frozen=True)
class ModelCard:
    family: str
    version: str
    model_class: str
    description: str
    training: TrainingData
    features: tuple[str, ...]
    parameters: dict[str, Any]
    metrics: dict[str, Any]                      # backtest figures (held-out), e.g. MAE vs persistence, lead time
    libraries: dict[str, str] = field(default_factory=library_versions)
    created_at: str = field(default_factory=utc_now)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_jsonable) + "\n"

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ModelCard:
        data = dict(doc)
        data["training"] = TrainingData(**data["training"])
        data["features"] = tuple(data["features"])
        return cls(**data)

    def to_markdown(self) -> str:
        t = self.training
        lines = [
            f"# Model card: {self.family} {self.version}", "",
            self.description, "",
            f"- model: `{self.model_class}`",
            f"- created: {self.created_at}",
            "", "## Training data", "",
            f"- source: {t.source}", f"- event time: {t.start} .. {t.end}",
            f"- readings: {t.rows:,}; series: {t.series:,}", f"- sha256: `{t.sha256}`",
            f"- catalog: {t.catalog}",
            "", "## Features", "", *[f"- `{name}`" for name in self.features],
            "", "## Parameters", "", "| parameter | value |", "|---|---|",
            *[f"| {k} | `{v}` |" for k, v in sorted(self.parameters.items())],
            "", "## Backtest (held-out data)", "", "| figure | value |", "|---|---|",
            *[f"| {k} | {_fmt(v)} |" for k, v in self.metrics.items()],
            "", "## Libraries", "", *[f"- {k} {v}" for k, v in self.libraries.items()],
        ]
        if self.notes:
            lines += ["", "## Notes", "", self.notes]
        return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _jsonable(v: Any) -> Any:
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return repr(v)
