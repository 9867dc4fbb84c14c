"""Model cards: what a model is, what it was trained on, how it scored, with which libraries.

Each registry version holds ``card.json`` (the record, machine-readable) and ``card.md`` (the same, for
people). The JSON is the source; the Markdown is rendered from it.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from vitals.forecasting.cadence import EARLY_WARNING_WITHIN_KEY, mae_key
from vitals.units import duration_label

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
        data["metrics"] = current_metrics(data.get("metrics", {}))
        return cls(**data)

    def headline(self) -> str:
        """The main held-out figures in a line (`vitals models list`): a forecaster's error at the early-warning
        horizon against persistence and the median lead of its warnings within that horizon; a detector's ROC AUC
        and false alarms."""
        m, parts = self.metrics, []
        within = m.get(EARLY_WARNING_WITHIN_KEY)
        if _number(within) and within > 0:
            key = mae_key(within)
            if _number(m.get(key)):
                persistence = m.get(f"{key}_persistence")
                parts.append(f"{key} {m[key]:.3g}" + (
                    f" (persistence {persistence:.3g})" if _number(persistence) else ""))
            lead = m.get("lead_time_median_s")
            parts.append(f"median lead {duration_label(round(lead)) if _number(lead) else '-'} ("
                         f"warned within {duration_label(int(within))})")
        for key in ("roc_auc_incidents", "false_alarms_per_series_day"):
            if _number(m.get(key)):
                parts.append(f"{key} {m[key]:.3g}")
        return "; ".join(parts)

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


LEGACY_WARN_WITHIN_S = 1800  # cards written before the held-out measure followed the cadence: within 30 min
_MINUTE_KEY = re.compile(r"^(mae|warned)_(\d+)m(_.*)?$")


def current_metric_key(key: str) -> str:
    """A metric key as written today. Cards written before the keys followed the cadence labelled horizons in
    minutes: ``mae_60m`` reads as ``mae_1h`` (``mae_360m`` of an hourly model as ``mae_6h``); ``mae_15m`` and
    ``warned_15m_before_share`` are unchanged."""
    m = _MINUTE_KEY.match(key)
    if m is None:
        return key
    return f"{m.group(1)}_{duration_label(int(m.group(2)) * 60)}{m.group(3) or ''}"


def current_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A card's metrics with today's keys, in their order; a card written before forecasters recorded
    ``early_warning_within_s`` measured warnings within 30 minutes whatever its step, so it gets that, ahead of its
    lead-time figures. A key already in today's form wins over an old one of the same meaning."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key == "orange_crossings" and EARLY_WARNING_WITHIN_KEY not in metrics:
            out[EARLY_WARNING_WITHIN_KEY] = LEGACY_WARN_WITHIN_S
        new = current_metric_key(key)
        if new == key or new not in metrics:
            out[new] = value
    return out


def _number(v: Any) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


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
