"""The city backtest: run the streaming computation causally over a simulated city (or a Parquet history) and
measure event recall, false alarms and early-warning lead time against labelled incidents.

The run uses the flow's own per-shard code, without Bytewax: every batch (one minute of event time) is
validated (:func:`vitals.readings.validate.reason_codes`), folded into :class:`vitals.state.ShardState` (levels
with hysteresis) and :class:`vitals.scoring.ShardScorer` (anomaly scores; the registry's promoted forecaster
every 60 s of event time). After every batch the exported columns are sampled into a :class:`Timeline`; the
measures are in :mod:`vitals.backtest.city_measures` (definitions there and in ``docs/models.md``).

Python::

    from vitals.backtest.city import simulate_city, run_city, measure
    catalog, batches, events = simulate_city(streets=76, days=14, seed=11)
    timeline = run_city(catalog, batches, models_dir="models")
    figures = measure(timeline, events, catalog)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vitals.backtest.city_history import StreamedHistory, minute_batches
from vitals.backtest.city_measures import (
    AFTER_S,
    SLOW_ONSET_S,
    WARMUP_S,
    Timeline,
    alarms,
    detected,
    event_leads,
    false_alarms,
    incident_leads,
    lead_times,
    observed_orange,
)
from vitals.batches import ReadingBatch
from vitals.catalog import Catalog, load_catalog
from vitals.catalog.model import ORANGE
from vitals.errors import ConfigError
from vitals.forecasting.cadence import Cadence, catalog_cadence
from vitals.labels import LabelledWindow
from vitals.planned_works import PlannedWorks
from vitals.readings.timestamps import history_ts_ns
from vitals.readings.validate import TimeRules, reason_codes
from vitals.registry.locate import ModelsDir, check_fit
from vitals.scoring import RegistryModels, ShardScorer
from vitals.state import ShardState
from vitals.units import DAY_S, NS_PER_S, duration_label

log = logging.getLogger(__name__)

BATCH_S = 60


def simulate_city(
    *, streets: int = 76, days: float = 14.0, seed: int = 11, catalog: Catalog | None = None
) -> tuple[Catalog, Iterator[ReadingBatch], list[LabelledWindow]]:
    """A simulated city (incidents and sensor faults on, one batch per minute) and its labelled events."""
    from vitals.simulator import CitySimulator, SimulatorConfig
    from vitals.training.data import simulated_windows

    cat = catalog if catalog is not None else load_catalog(streets_total=streets)
    sim = CitySimulator(cat, SimulatorConfig(seed=seed, duration=timedelta(days=days), step_s=BATCH_S))
    return cat, sim.batches(), list(simulated_windows(cat, sim.incidents()))


def _history_base(path: str | Path) -> Path:
    root = Path(path)
    base = root / "readings" if (root / "readings").is_dir() else root
    if not base.exists():
        msg = f"no Parquet history at {base}; write one with `vitals simulate --out city.parquet` or `vitals run`"
        raise ConfigError(msg)
    return base


def read_history(path: str | Path) -> pd.DataFrame:
    """The readings (``ts, indicator, area, value``) of a Parquet history file or directory."""
    from vitals.training.data import FRAME_COLUMNS

    base = _history_base(path)
    from vitals.history_files import history_table

    # the ids as categoricals through the files' dictionaries, each string compared once: a day of the full city
    # (12 M readings) is a 0.23 GB frame where strings took 0.71 GB
    return history_table(base, columns=FRAME_COLUMNS, dictionary=("indicator", "area")).to_pandas()


def _id_codes(column: pd.Series, ids: list[str]) -> npt.NDArray[np.int64]:
    """Each row's position of its id in ``ids`` (-1: not there, or a missing id), through the column's categories
    (:func:`read_history` gives categoricals; another column is made one): each string compared once."""
    column = _categorical(column)
    known = pd.Index(ids).get_indexer(pd.Index(column.cat.categories.astype(str)))
    return np.append(known, -1)[column.cat.codes.to_numpy()]  # code -1 (a missing id): not there


def _distinct_ids(column: pd.Series) -> set[str]:
    """The ids a column holds (a missing one as "nan")."""
    column = _categorical(column)
    used = np.unique(column.cat.codes.to_numpy())
    out = set(column.cat.categories[used[used >= 0]].astype(str).tolist())
    return out | {"nan"} if used.size and used[0] < 0 else out


def _categorical(column: pd.Series) -> pd.Series:
    return column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")


def stream_history(path: str | Path) -> StreamedHistory:
    """A Parquet history file or directory scanned for the city backtest, to be replayed a part at a time
    (:class:`~vitals.backtest.city_history.StreamedHistory`: the batches of :func:`history_batches`)."""
    from vitals.history_files import some_history_files

    base = _history_base(path)
    return StreamedHistory(base, some_history_files(base), BATCH_S)


def catalog_for_history(catalog: Catalog, frame: pd.DataFrame | StreamedHistory) -> Catalog:
    """The catalog restricted to the streets the history has readings of; an indicator or area of the history
    that the catalog does not know is an error (the history was written with another catalog)."""
    if isinstance(frame, StreamedHistory):
        areas, indicators = frame.areas, frame.indicators
    else:
        areas, indicators = _distinct_ids(frame["area"]), _distinct_ids(frame["indicator"])
    unknown_i = sorted(indicators - set(catalog.indicator_index))
    unknown_a = sorted(areas - set(catalog.street_index))
    if unknown_i or unknown_a:
        parts = [f"indicator(s) {', '.join(unknown_i[:5])}{' ...' if len(unknown_i) > 5 else ''}" if unknown_i else "",
                 f"area(s) {', '.join(unknown_a[:5])}{' ...' if len(unknown_a) > 5 else ''}" if unknown_a else ""]
        msg = (f"the history has {' and '.join(p for p in parts if p)} that catalog {catalog.source} "
               f"({catalog.n_indicators} indicators, {catalog.n_streets} streets) does not know: pass the catalog "
               "it was written with (--catalog FILE), or --streets N as given to `vitals simulate`")
        raise ConfigError(msg)
    if not areas:
        msg = "the history holds no readings"
        raise ConfigError(msg)
    return catalog.with_streets(areas)


def history_series(catalog: Catalog, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Dense ids of the series the history has readings of."""
    ind = _id_codes(frame["indicator"], [i.id for i in catalog.indicators])
    street = _id_codes(frame["area"], [s.id for s in catalog.streets])
    keep = (ind >= 0) & (street >= 0)
    return np.unique(ind[keep].astype(np.int64) * catalog.n_streets + street[keep])


def history_batches(catalog: Catalog, path: str | Path | pd.DataFrame) -> Iterator[ReadingBatch]:
    """A Parquet history (``ts, indicator, area, value``; a path or its frame) replayed in one-minute batches
    of event time."""
    frame = path if isinstance(path, pd.DataFrame) else read_history(path)
    ind = _id_codes(frame["indicator"], [i.id for i in catalog.indicators])
    street = _id_codes(frame["area"], [s.id for s in catalog.streets])
    ts = history_ts_ns(frame["ts"], "the history" if isinstance(path, pd.DataFrame) else str(path))
    keep = (ind >= 0) & (street >= 0)
    order = np.argsort(ts[keep], kind="stable")
    ts, ind, street = ts[keep][order], ind[keep][order], street[keep][order]
    value = frame["value"].to_numpy(np.float64)[keep][order]
    yield from minute_batches(ts, ind, street, value, step_ns=BATCH_S * NS_PER_S)


def load_label_events(
    catalog: Catalog, labels_path: str | Path, incidents_path: str | Path | None = None, *,
    full: Catalog | None = None,
) -> list[LabelledWindow]:
    """Events from NAB-format windows (``{"<indicator>/<street>": [[start, end], ...]}``), with orange crossings
    and incident numbers from a simulator truth file (``vitals simulate --incidents``) when given.

    ``full``: the whole catalog when ``catalog`` is restricted to a history's streets: a label of a series of
    ``full`` without readings is skipped with a warning; a label no series of ``full`` has is an error."""
    labels = _json_object(labels_path, "--labels", "labels (NAB windows: {\"<indicator>/<street>\": [[start, end]]})")
    known = full or catalog
    strangers = sorted(key for key in labels if _series_of(known, key) < 0)
    if strangers and full is not None:
        msg = (f"{len(strangers)} label(s) of {labels_path} name no series of catalog {known.source}, e.g. "
               f"{', '.join(strangers[:3])}: pass the catalog the labels were written for (--catalog FILE)")
        raise ConfigError(msg)
    truth: dict[tuple[int, int], tuple[int, int]] = {}
    if incidents_path is not None:
        doc = _json_object(incidents_path, "--incidents", "a truth file (`vitals simulate --incidents`)")
        try:
            for inc in doc.get("incidents", []):
                for s in inc["series"]:
                    sid = _series_of(catalog, f"{s['indicator']}/{s['street']}")
                    if sid >= 0 and s.get("orange_at"):
                        truth[(sid, _ns(s["window_start"]))] = (_ns(s["orange_at"]), int(inc["index"]))
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"--incidents {incidents_path}: not a truth file as `vitals simulate --incidents` writes it ({exc!r})"
            raise ConfigError(msg) from exc
    events = []
    for key, windows in labels.items():
        sid = _series_of(catalog, key)
        if sid < 0:
            log.warning("label %s names no series with readings; skipped", key)
            continue
        try:
            spans = [(_ns(start), _ns(end)) for start, end in windows]
        except (TypeError, ValueError) as exc:
            msg = f"--labels {labels_path}: {key}: windows must be [[start, end], ...] of ISO times ({exc})"
            raise ConfigError(msg) from exc
        for lo, hi in spans:
            hit = [v for (s, w0), v in truth.items() if s == sid and lo <= w0 <= hi]
            orange, incident = min(hit) if hit else (-1, -1)
            events.append(LabelledWindow(sid, lo, hi, orange, incident))
    return events


def _json_object(path: str | Path, option: str, what: str) -> dict[str, Any]:
    """A JSON file holding an object, or one line saying why not (a directory, empty, not JSON, a list ...)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"{option} {path}: cannot read it: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    except ValueError as exc:
        msg = f"{option} {path}: not JSON ({exc}); it takes {what}"
        raise ConfigError(msg) from exc
    if not isinstance(doc, dict):
        msg = f"{option} {path}: holds a JSON {type(doc).__name__}, not an object; it takes {what}"
        raise ConfigError(msg)
    return doc


def _series_of(catalog: Catalog, key: str) -> int:
    ind, _, street = key.partition("/")
    i, s = catalog.indicator_index.get(ind), catalog.street_index.get(street)
    return -1 if i is None or s is None else int(i) * catalog.n_streets + int(s)


def _ns(text: str) -> int:
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)


DETAIL_COLUMNS = {"value": "last", "expected": "expected_mid", "lower": "expected_lower", "upper": "expected_upper"}


def run_city(catalog: Catalog, batches: Iterable[ReadingBatch], *, models_dir: str | Path = "models",
             progress: bool = False, total: int | None = None,
             forecaster_params: dict[str, Any] | None = None,
             series: npt.NDArray[np.int64] | None = None, detail: bool = False,
             planned: PlannedWorks | None = None) -> Timeline:
    """Fold every batch through one shard's state and scorer, sampling the exported columns after each.

    forecaster_params: prediction-time parameters set on the promoted forecaster for this run (e.g.
    ``{"deviation_guard": 1.5}``: what-if runs before promoting a version with them). ``series``: the series
    measured (default every series of the catalog; a history: the series it has readings of). A forecaster
    trained for other indicators is an error. ``total``: the batches expected (the progress bar's total; the
    timeline's columns are allocated for that many at once, not stacked at the end).
    detail: also sample each series' last value and expected band (for the report's plots: 16 more bytes per
    series per minute, about 340 MB for 14 days of 1,064 series). ``planned``: works whose readings the detector
    does not learn from, as in the flow (:mod:`vitals.planned_works`; built with ``catalog``)."""
    from tqdm import tqdm

    state, scorer = ShardState(catalog), ShardScorer(catalog, 0, 1)
    cadence = catalog_cadence(catalog)
    models = RegistryModels(models_dir, poll_s=3600.0)
    forecaster = models.forecaster()
    if forecaster is None:
        msg = f"no promoted forecaster in {models_dir}; train one with `vitals train --promote`"
        raise ConfigError(msg)
    where = ModelsDir(Path(models_dir).resolve(), "models directory")
    for family in models.watcher.families:
        if models.watcher.model(family) is not None:
            check_fit(family, str(models.watcher.version(family)), models.watcher.model(family), catalog, where)
    log.info("models: %s from %s", ", ".join(f"{f} {v}" for f, v in sorted(models.watcher.model_info().items())),
             where.path)
    if forecaster_params:
        forecaster.set_params(**forecaster_params)
    series = np.arange(catalog.n_series, dtype=np.int64) if series is None else np.asarray(series, dtype=np.int64)
    ticks: list[int] = []
    capacity = total or 0  # the timeline's columns, filled in place (not held twice: as columns, then stacked)
    level = _Columns(series.size, np.int8, capacity)
    early = _Columns(series.size, np.bool_, capacity)
    anomaly = _Columns(series.size, np.float32, capacity)
    sampled = {name: _Columns(series.size, np.float32, capacity) for name in DETAIL_COLUMNS} if detail else {}
    for batch in tqdm(batches, total=total, desc="city", unit="min", disable=not progress, leave=False):
        ok = reason_codes(catalog, batch, TimeRules(batch.received_ns)) == 0
        accepted = state.update(batch.take(ok)).accepted_batch
        scorer.update(catalog, accepted, models, planned=planned)
        now = int(batch.received_ns)
        cols = scorer.columns(series, now)
        ticks.append(now)
        level.append(state.level[series].copy())
        early.append(_early_condition(cols, state.level[series], cadence))
        anomaly.append(cols["anomaly_score"].astype(np.float32))
        cols["last"] = state.scalars.last[series]
        for name, column in DETAIL_COLUMNS.items() if detail else ():
            sampled[name].append(cols[column].astype(np.float32))
    if not ticks:
        msg = "no readings of the catalog's series to backtest (empty history?)"
        raise ConfigError(msg)
    extra = {name: values.result() for name, values in sampled.items()}
    return Timeline(ticks_ns=np.asarray(ticks, dtype=np.int64), series=series, level=level.result(),
                    early=early.result(), anomaly=anomaly.result(), **extra)


class _Columns:
    """(N,) columns appended into an (N, T) array preallocated for ``capacity`` of them (doubled when full)."""

    def __init__(self, n: int, dtype: type[np.generic], capacity: int) -> None:
        self.data = np.empty((n, max(capacity, 16)), dtype=dtype)
        self.count = 0

    def append(self, column: npt.NDArray[Any]) -> None:
        if self.count == self.data.shape[1]:
            grown = np.empty((self.data.shape[0], 2 * self.count), dtype=self.data.dtype)
            grown[:, :self.count] = self.data
            self.data = grown
        self.data[:, self.count] = column
        self.count += 1

    def result(self) -> npt.NDArray[Any]:
        return self.data[:, :self.count]


def _early_condition(cols: dict[str, npt.NDArray[np.float64]], level: npt.NDArray[np.int8], cadence: Cadence
                     ) -> npt.NDArray[np.bool_]:
    """The VitalsEarlyWarning expression on the exported columns at the catalog cadence's early-warning horizon
    (as the generated rule has it: 30 min on the 5-minute grid; NaN seconds = no sample = false)."""
    horizon_s = cadence.early_warning_horizon_s
    with np.errstate(invalid="ignore"):
        soon = cols.get("seconds_to_orange", np.full(level.shape, np.nan)) <= float(horizon_s)
        forecast = cols.get(f"forecast_level_{duration_label(horizon_s)}", np.zeros(level.shape)) >= ORANGE
    return np.asarray((soon | forecast) & (level < ORANGE))


MEASURE_BLOCK_CELLS = 1 << 24  # measure's alarm rules run over this many timeline cells at a time


def measure(tl: Timeline, events: list[LabelledWindow], catalog: Catalog, *, warmup_s: float = WARMUP_S,
            after_s: float = AFTER_S, slow_onset_s: float = SLOW_ONSET_S) -> dict[str, Any]:
    """The figures of one run (see :mod:`vitals.backtest.city_measures` for the definitions). The alarm rules run
    a block of series at a time, each with its series' events (series are independent), so their arrays (~20 bytes
    a series and minute) are a block's, not the whole timeline's."""
    events = observed_orange(tl, events)
    warmup_ns = int(tl.ticks_ns[0]) + int(warmup_s * NS_PER_S)
    days = max((int(tl.ticks_ns[-1]) - warmup_ns) / NS_PER_S / DAY_S, 1e-9)
    ind, street = catalog.split_series_id(tl.series)  # the series measured (a history: those with readings)
    districts = len(np.unique(catalog.street_district_array[street]))
    n_indicators = len(np.unique(ind))
    measured = np.unique(catalog.street_district_array[street])
    full_streets = sum(catalog.districts[int(d)].streets for d in measured)  # the catalog's own count of them
    reduced = full_streets > len(np.unique(street))
    rows = max(1, MEASURE_BLOCK_CELLS // max(tl.ticks_ns.size, 1))
    row_of = {int(s): i for i, s in enumerate(tl.series)}
    by_block: dict[int, list[LabelledWindow]] = {}
    for ev in events:
        if ev.series in row_of:
            by_block.setdefault(row_of[ev.series] // rows, []).append(ev)
    hits: dict[str, list[bool]] = {}
    false: dict[str, int] = {}
    n_orange = 0
    block_leads: list[npt.NDArray[np.float64]] = []
    event_lead: dict[LabelledWindow, float] = {}
    for first in range(0, tl.series.size, rows):
        block, evs = tl.rows(first, first + rows), by_block.get(first // rows, [])
        fire = alarms(block)
        n_orange += len(detected(block, fire["level"], evs))
        for kind, f in fire.items():
            hits.setdefault(kind, []).extend(detected(block, f, evs))
            false[kind] = false.get(kind, 0) + int(false_alarms(block, f, evs, after_s=after_s,
                                                                warmup_ns=warmup_ns).sum())
        block_leads.append(lead_times(block, fire["early"], evs, slow_onset_s))
        event_lead.update(event_leads(block, fire["early"], evs))
    out: dict[str, Any] = {"streets": len(np.unique(street)), "districts": districts, "series": int(tl.series.size),
                           "days": round(days, 3), "events_orange": n_orange}
    for kind, kind_hits in hits.items():
        per_series_day = float(false[kind]) / (tl.series.size * days)
        out[f"recall_{kind}"] = round(float(np.mean(kind_hits)), 4) if kind_hits else None
        out[f"false_alarms_{kind}"] = false[kind]
        out[f"false_alarms_{kind}_per_indicator_district_day"] = round(
            float(false[kind]) / (n_indicators * districts * days), 4)
        out[f"false_alarms_{kind}_per_series_day"] = round(per_series_day, 5)
        # a reduced city (fewer streets than its catalog counts in these districts): the rate at full scale
        out[f"false_alarms_{kind}_full_scale_per_indicator_district_day"] = round(
            per_series_day * full_streets / districts, 4) if reduced else None
    leads = np.concatenate(block_leads) if block_leads else np.empty(0)
    per_incident = incident_leads(events, event_lead, slow_onset_s)
    out.update(
        slow_onset_events=int(leads.size),
        lead_time_median_s=float(np.median(leads)) if leads.size else None,
        lead_time_p25_s=float(np.percentile(leads, 25)) if leads.size else None,
        warned_15m_before_share=round(float((leads >= 900).mean()), 4) if leads.size else None,
        incidents=int(per_incident.size),
        incident_lead_time_median_s=float(np.median(per_incident)) if per_incident.size else None,
    )
    return out
