"""Run a registered detector (the default one unless named) causally over a NAB-layout directory and score it.

``DIR/data/<category>/<file>.csv`` (``timestamp,value``) and ``DIR/labels/combined_windows.json``. All files
run at once, one series per file, through one vectorized ``update_score`` per time step (row k of every
file), so each output row depends only on rows up to it. Output rows keep input order (never sorted or
deduplicated): ``RESULTS/<category>/<file>.csv`` with ``timestamp,value,anomaly_score,label`` (label 1 inside a
labelled window, as in NAB's own results files), and ``RESULTS/summary.csv`` with one row per file (see
:func:`file_summary`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.backtest.events import EventCounts, event_counts, median_lead_s
from vitals.backtest.nab import PROFILES, ProfileResult, probation_length, score_corpus, window_indices
from vitals.detectors import DefaultDetector, classify
from vitals.detectors.base import Detector
from vitals.detectors.registry import DETECTORS
from vitals.errors import ConfigError
from vitals.units import NS_PER_S

log = logging.getLogger(__name__)


@dataclass
class NabFile:
    name: str                      # "<category>/<file>.csv"
    raw_timestamps: list[str]
    ts: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]
    windows: list[tuple[int, int]]
    label_times: list[Any] = field(default_factory=list)
    scores: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    state: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)


def load_nab(directory: Path, *, labels_required: bool = True) -> list[NabFile]:
    """Every CSV under ``directory/data`` with its windows. Each file needs an entry in
    ``labels/combined_windows.json`` (``[]``: no anomaly); without the labels file (or an entry) the scores would
    count every detection as a false positive and the NAB score would mean nothing, so it is refused unless
    ``labels_required`` is False (scores only, no windows). A file that does not read as NAB's ``timestamp,value``
    CSV, or a row whose timestamp or value does not parse, is a one-line :class:`ConfigError` naming it."""
    data = directory / "data"
    paths = sorted(data.glob("*/*.csv"))
    if not paths:
        msg = f"no CSV files under {data}/<category>/; is {directory} a NAB directory?"
        raise ConfigError(msg)
    windows_path = directory / "labels" / "combined_windows.json"
    if labels_required and not windows_path.exists():
        msg = f"no labels file {windows_path}: NAB scores need the label windows of every data file"
        raise ConfigError(msg)
    labels = _labels(windows_path)
    points = _labels(directory / "labels" / "combined_labels.json")
    files = []
    for path in paths:
        name = f"{path.parent.name}/{path.name}"
        if labels_required and name not in labels:
            msg = f"{windows_path} has no entry for {name}: every data file needs one ([] for no anomaly)"
            raise ConfigError(msg)
        ts, values, raw = _read_csv(path)
        try:
            windows = window_indices(ts, labels.get(name, []))
        except ConfigError as exc:
            msg = f"{name}: {exc}"
            raise ConfigError(msg) from exc
        label_times = [np.datetime64(str(p), "ns") for p in points.get(name, [])]
        files.append(NabFile(name, raw, ts, values, windows, label_times))
    return files


def _labels(path: Path) -> dict[str, Any]:
    """A NAB labels file (file name -> windows or times); {} when there is none."""
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        msg = f"labels file {path} does not read as JSON ({exc})"
        raise ConfigError(msg) from exc
    if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
        msg = f"labels file {path} must map each data file (<category>/<file>.csv) to a list"
        raise ConfigError(msg)
    return doc


def _read_csv(path: Path) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64], list[str]]:
    """A NAB data file's timestamps, values and timestamps as written; a file or row that is not NAB's
    ``timestamp,value`` is refused naming the file (and the line)."""
    try:
        frame = pd.read_csv(path, dtype={"timestamp": str})
    except (OSError, UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        msg = f"{path} does not read as a CSV file ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc})"
        raise ConfigError(msg) from exc
    if not {"timestamp", "value"} <= set(frame.columns):
        msg = f"{path} needs the columns timestamp,value (NAB's data files); it has {','.join(map(str, frame.columns))}"
        raise ConfigError(msg)
    if frame.empty:
        msg = f"{path} has a header but no rows"
        raise ConfigError(msg)
    ts = pd.to_datetime(frame["timestamp"], errors="coerce")
    values = pd.to_numeric(frame["value"], errors="coerce")
    checks = (("timestamp", "time", ts, frame["timestamp"], False), ("value", "number", values, frame["value"], True))
    for column, kind, parsed, raw, gaps in checks:  # an empty value cell stays a gap (NaN), as before
        bad = np.flatnonzero(parsed.isna().to_numpy() & (raw.notna().to_numpy() if gaps else True))
        if bad.size:
            msg = (f"{path} line {int(bad[0]) + 2}: {column} {raw.iloc[bad[0]]!r} is not a {kind} "
                   f"({bad.size} such row(s))")
            raise ConfigError(msg)
    return (ts.to_numpy().astype("datetime64[ns]"), values.to_numpy(np.float64),
            frame["timestamp"].tolist())


def build_detector(name: str, files: list[NabFile], **params: Any) -> Detector:
    """The registered detector ``name`` with NAB's per-file inputs where its class asks for them.

    NAB tells every detector the minimum and maximum of the whole file (``uses_input_range``: passed as
    ``input_min``/``input_max``) and its probationary period (``uses_probation``: ``probation``), both known
    only from the whole file: NAB's convention, not strictly causal. Other detectors get only ``params``.
    """
    factory = DETECTORS.get(name)
    if getattr(factory, "uses_input_range", False):
        params.setdefault("input_min", np.array([np.nanmin(f.values) for f in files]))
        params.setdefault("input_max", np.array([np.nanmax(f.values) for f in files]))
    if getattr(factory, "uses_probation", False):
        params.setdefault("probation", np.array([probation_length(len(f.values)) for f in files]))
    detector: Detector = factory(**params)
    return detector


def run_detector(files: list[NabFile], detector: Detector | None = None, keep_state: bool = False) -> None:
    """Score every file causally (all files in lockstep, one vectorized update per row position)."""
    det = detector if detector is not None else DefaultDetector()
    det.fit([], [], [], n_series=len(files))
    lengths = np.array([len(f.values) for f in files])
    longest = int(lengths.max())
    ts = np.zeros((longest, len(files)), np.int64)
    values = np.zeros((longest, len(files)))
    for j, f in enumerate(files):
        ts[: lengths[j], j] = f.ts.astype(np.int64)
        values[: lengths[j], j] = f.values
    scores = np.zeros((longest, len(files)))
    band = np.full((3, longest, len(files)), np.nan)
    series = np.arange(len(files))
    if not keep_state:  # one batch holding row k of every file before row k + 1: the same as one call per row
        live_rows = np.arange(longest)[:, None] < lengths[None, :]
        grid_series = np.broadcast_to(series, (longest, len(files)))
        scores[live_rows] = det.update_score(grid_series[live_rows], ts[live_rows], values[live_rows])
    for row in range(longest if keep_state else 0):
        live = series[lengths > row]
        scores[row, live] = det.update_score(live, ts[row, live], values[row, live])
        if keep_state and hasattr(det, "band"):
            band[:, row, live] = det.band(live)
    for j, f in enumerate(files):
        f.scores = scores[: lengths[j], j].copy()
        if keep_state:
            f.state = {k: band[i, : lengths[j], j].copy() for i, k in enumerate(("lower", "expected", "upper"))}


def window_labels(f: NabFile) -> npt.NDArray[np.int64]:
    """NAB's ``label`` column: 1 for rows inside a labelled window, else 0."""
    label = np.zeros(len(f.values), dtype=np.int64)
    for left, right in f.windows:
        label[left:right + 1] = 1
    return label


def write_results(files: list[NabFile], out_dir: Path) -> list[Path]:
    """``out_dir/<category>/<file>.csv``: timestamp, value, anomaly_score, label; one row per input row."""
    written = []
    for f in files:
        path = out_dir / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame({"timestamp": f.raw_timestamps, "value": f.values, "anomaly_score": f.scores,
                              "label": window_labels(f)})
        frame.to_csv(path, index=False, float_format="%.10g")
        written.append(path)
    return written


def file_summary(files: list[NabFile], results: dict[str, ProfileResult], profile: str = "standard") -> pd.DataFrame:
    """One row per file: rows, windows, detected windows and false positives (detections outside windows after
    probation) at ``profile``'s corpus threshold, and ``score_<profile>``: the file's raw NAB score at each
    profile's corpus threshold."""
    threshold = results[profile].threshold
    rows = []
    for f in files:
        counts = file_events(f, threshold)
        rows.append({"file": f.name, "rows": len(f.values), "windows": counts.windows,
                     "detected_windows": counts.detected_windows,
                     "false_positives": counts.detections - counts.true_detections,
                     # + 0.0: a file without windows or detections scores 0, never "-0" (the sum of -0.0 terms)
                     **{f"score_{name}": r.per_file[f.name] + 0.0 for name, r in results.items()}})
    return pd.DataFrame(rows)


def write_summary(files: list[NabFile], results: dict[str, ProfileResult], out_dir: Path,
                  profile: str = "standard") -> Path:
    """``out_dir/summary.csv``: :func:`file_summary`."""
    path = out_dir / "summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    file_summary(files, results, profile).to_csv(path, index=False, float_format="%.10g")
    return path


def score_files(files: list[NabFile], profiles: tuple[str, ...] = tuple(PROFILES)) -> dict[str, ProfileResult]:
    corpus = {f.name: (f.scores, f.windows) for f in files}
    return {p: score_corpus(corpus, p) for p in profiles}


def file_events(f: NabFile, threshold: float) -> EventCounts:
    """Event counts of one file at ``threshold`` (detections after probation)."""
    ts_s = f.ts.astype(np.int64) / NS_PER_S
    label_s = [float(t.astype(np.int64)) / NS_PER_S for t in f.label_times]
    return event_counts(classify(f.scores, threshold), f.windows, probation_length(len(f.scores)), ts_s, label_s)


def events_at(files: list[NabFile], threshold: float) -> EventCounts:
    total = EventCounts(0, 0, 0, 0, ())
    for f in files:
        total = total + file_events(f, threshold)
    return total


def summary(results: dict[str, ProfileResult], events: EventCounts, n_files: int, rows: int) -> dict[str, Any]:
    """The figures as one JSON-able dict."""
    doc: dict[str, Any] = {"files": n_files, "rows": rows, "windows": events.windows}
    for name, r in results.items():
        doc[f"nab_{name}"] = round(r.normalized, 3)
        doc[f"threshold_{name}"] = round(r.threshold, 6)
    doc["event_precision"] = round(events.precision, 4)
    doc["event_recall"] = round(events.recall, 4)
    doc["median_lead_s"] = median_lead_s(events)
    return doc


def score_table(results: dict[str, ProfileResult]) -> str:
    lines = [f"{'profile':<20} {'score':>8} {'threshold':>10} {'raw':>9} {'null':>8} {'perfect':>8}"]
    for r in results.values():
        lines.append(f"{r.profile:<20} {r.normalized:>8.2f} {r.threshold:>10.4f} {r.raw:>9.3f} {r.null:>8.2f} "
                     f"{r.perfect:>8.1f}")
    return "\n".join(lines)
