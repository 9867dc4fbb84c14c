"""Per series shard: apply batches to the shard's array state, and decide what to emit.

Emits, deterministically from the sequence of input batches (so a replay after a resume rewrites the same
outputs, which makes the sinks idempotent):
- :class:`ShardPublish`: a fresh :class:`VitalsView` for the exporter, when a scrape asks for one (a
  :class:`~vitals.stream.demand.ViewDemand`), at least every ``publish_interval_s`` of wall time (never with
  ``math.inf``: nothing reads views before the end), and at the end of the input (publications are wall-clock
  driven and go to the exporter only, never to the history);
- :class:`HistoryChunk`: accepted readings in chunks of exactly ``history_rows`` (the last, at the end of the
  input, fewer), numbered per (shard, source partition): the readings of one source partition reach a shard in
  the same order on every run, and chunks are cut by count, not at batch ends, so a chunk rewritten after a
  replay has the same rows and overwrites the same file even when the replay batches the partition otherwise
  (Kafka);
- :class:`VitalsChunk`: the shard's vitals at every 5-minute boundary of event time (``vitals_every_s``) that
  follows 5 minutes in which readings arrived, as of that boundary (a batch spanning many boundaries is folded in
  boundary by boundary, the shard captured at each and the snapshots rendered together at the end of the batch:
  :meth:`vitals.state.ShardState.capture`), buffered per fixed event-time window (a divisor of a day, as long as
  keeps a window within ``vitals_chunk_rows`` rows) and named by the window's start, so a rewrite after a resume
  replaces the window's file with all of its snapshots;
- duplicate rejections for the dead letters.

Both kinds of chunk carry the run id (``ShardProcessor(run_id=...)``) in their names: a run resumed from its
recovery directory keeps its id and rewrites its own files; another run into the same history directory writes
files of its own (:mod:`vitals.run_id`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch, Rejection, newest
from vitals.catalog import Catalog
from vitals.run_id import history_name
from vitals.state import ShardState
from vitals.state.render import Capture
from vitals.state.view import VitalsView
from vitals.stream.demand import ViewDemand
from vitals.units import DAY_S, NS_PER_S

if TYPE_CHECKING:  # scoring brings the detectors (numba): imported when a shard first scores
    from vitals.planned_works import PlannedWorksFile
    from vitals.scoring import ModelSource, ShardScorer
    from vitals.scoring.shard_scorer import ScoreCapture


@dataclass(frozen=True, eq=False)
class ShardPublish:
    """A fresh view of one shard for the exporter, with its absolute counts."""

    shard: int
    view: VitalsView
    duplicates: int
    accepted: int
    state_series: int
    state_bytes: int
    clock_ns: int
    batch_seconds: list[float]  # wall seconds of each batch since the last publication
    generation: int = 0  # the view request (vitals.stream.demand) this view answers; 0: a periodic publication
    final: bool = False  # the shard's last publication (end of input)
    planned: int = 0  # accepted readings a planned works kept from the detector


@dataclass(frozen=True, eq=False)
class HistoryChunk:
    """Accepted readings of one (shard, source partition) chunk, for the history: one file per date and domain,
    named by the run id, the shard, the partition and the chunk number (:attr:`name`)."""

    shard: int
    partition: str
    chunk: int
    batch: ReadingBatch
    run_id: str = ""  # the run's id (vitals.run_id); "": the names written before run ids

    @property
    def name(self) -> str:
        return history_name(self.run_id, f"shard{self.shard:03d}-{self.partition}-{self.chunk:06d}")


@dataclass(frozen=True, eq=False)
class ShardRejections:
    """Duplicates found in one source batch, for the dead letters (written once per partition, seq, stage)."""

    partition: str
    seq: int
    stage: str
    rejections: list[Rejection]


@dataclass(frozen=True, eq=False)
class VitalsChunk:
    """The shard's vitals snapshots of one event-time window (``(boundary ns, view)`` in time order), for the
    history: one file per (shard, window)."""

    shard: int
    window_ns: int  # the window's start (a boundary)
    snapshots: tuple[tuple[int, VitalsView], ...]
    run_id: str = ""  # the run's id (vitals.run_id); "": the names written before run ids

    @property
    def name(self) -> str:
        return history_name(self.run_id, f"shard{self.shard:03d}-{self.window_ns}")


ShardOutput = ShardPublish | HistoryChunk | ShardRejections | VitalsChunk
# a snapshot at a boundary (ns): its capture (or view, per boundary), the scoring columns of that moment (or
# the scorer's capture, rendered with the others)
# and the worst level of each of its rows since the previous snapshot (``peak_level``)
Snapshot = tuple[int, Capture | VitalsView, "dict[str, npt.NDArray[np.float64]] | ScoreCapture",
                 npt.NDArray[np.float64]]
CAPTURE_BYTES = 32 << 20  # captured state rendered at the latest when this much is held (a batch of many boundaries)
# a shard with more series than this is viewed at each boundary even when the batch crosses several: copying its
# ring rows (about 1.8 KB a series) and rendering them later costs more than an incremental view (whose fixed cost
# is what a capture saves, a few tenths of a millisecond: it pays for sparse feeds of few series)
CAPTURE_MAX_SERIES = 256

DAY_NS = DAY_S * NS_PER_S
PEAK_LEVEL = "peak_level"  # a snapshot's column: the worst level of the series since the previous snapshot
VITALS_EVERY_S = 300.0  # seconds of event time between vitals snapshots, by default (the history's detail)
VITALS_EVERY_MIN_S = 60.0


def vitals_every_problems(every_s: float) -> list[str]:
    """What is wrong with a snapshot cadence: it must be whole seconds, at least a minute, and divide a day (so
    that snapshots fall at the same times of every day and a vitals file window is a divisor of a day)."""
    if not VITALS_EVERY_MIN_S <= every_s <= DAY_S or every_s != int(every_s) or DAY_S % int(every_s):
        return [f"history_vitals_every_s must be whole seconds from {VITALS_EVERY_MIN_S:.0f} to {DAY_S} that "
                f"divide a day (e.g. 300, 900, 3600), got {every_s:g}"]
    return []


def vitals_window_ns(every_ns: int, series_per_shard: int, chunk_rows: int) -> int:
    """The event-time window of one vitals file: the longest divisor of a day that is a whole number of
    snapshot intervals and holds at most ``chunk_rows`` rows (every series at every boundary); at least one
    interval."""
    if every_ns <= 0 or DAY_NS % every_ns:
        return max(every_ns, 1)
    steps = DAY_NS // every_ns
    fit = max(1, chunk_rows // max(series_per_shard, 1))
    return every_ns * max(d for d in range(1, steps + 1) if steps % d == 0 and d <= fit)


@dataclass
class ShardMemory:
    """Everything a shard keeps between batches; pickled into Bytewax recovery snapshots."""

    shard: int
    state: ShardState
    duplicates: int = 0
    accepted: int = 0
    planned: int = 0  # accepted readings a planned works kept from the detector (vitals.planned_works)
    history: dict[str, list[ReadingBatch]] = field(default_factory=dict)  # per source partition
    history_rows: dict[str, int] = field(default_factory=dict)
    next_chunk: dict[str, int] = field(default_factory=dict)
    clock_ns: int = 0
    snapshot_bucket: int = -1  # event-time bucket of the newest reading folded in (-1: none yet)
    scorer: ShardScorer | None = None  # anomaly scores and forecasts (None when scoring is off)
    # vitals snapshots of the window ``vitals_window`` not yet in a closed file (None: a memory pickled before)
    vitals_pending: list[tuple[int, VitalsView]] | None = None
    vitals_window: int = -1


class ShardProcessor:
    """How every shard processes batches (shared, stateless configuration).

    ``publish_interval_s``: a view for the exporter at least this often (wall time); ``math.inf``: no periodic
    views, for a run where nothing reads them before the end (no /metrics server, no in-process reader): then only
    the views a ``demand`` asks for and each shard's final view (the final vitals and the run's counts).
    ``run_id``: the run's id, carried by every history chunk's name (:mod:`vitals.run_id`; the pipeline passes a
    fresh one, or the recovery directory's); "" names the files as before run ids, so two runs into one history
    directory overwrite each other's files."""

    def __init__(
        self, catalog: Catalog, n_shards: int, *, publish_interval_s: float = 0.5,
        history_rows: int = 200_000, keep_history: bool = True, vitals_every_s: float = VITALS_EVERY_S,
        vitals_chunk_rows: int = 5_000, scoring: bool = False, models: ModelSource | None = None,
        demand: ViewDemand | None = None, batch_snapshots: bool = True, run_id: str = "",
        planned_works: PlannedWorksFile | None = None,
    ) -> None:
        self.run_id = run_id
        self.planned_works = planned_works  # configuration, not state: a resume reads the file as it is then
        # True: the snapshots a batch crosses are captured (copies, no computing) and rendered together at the
        # end of the batch; False: a view at each boundary (the reference the tests compare with)
        self.batch_snapshots = batch_snapshots
        self.demand = demand
        self.scoring = scoring
        self.models = models
        self.catalog = catalog
        self.n_shards = n_shards
        self.publish_interval_s = publish_interval_s
        self.history_rows = history_rows
        self.keep_history = keep_history
        self.vitals_every_ns = int(vitals_every_s * NS_PER_S)
        self.vitals_window_ns = vitals_window_ns(self.vitals_every_ns, -(-catalog.n_series // n_shards),
                                                 vitals_chunk_rows)

    def initial_memory(self, shard: int) -> ShardMemory:
        scorer = None
        if self.scoring:
            from vitals.scoring import ShardScorer

            scorer = ShardScorer(self.catalog, shard, self.n_shards)
        return ShardMemory(shard, ShardState(self.catalog, shard, self.n_shards), scorer=scorer)

    def view(self, mem: ShardMemory, now_ns: int | None) -> VitalsView:
        """The shard's vitals, with anomaly scores, expected band and forecasts when scoring is on."""
        view = mem.state.view(now_ns)
        if mem.scorer is None or not len(view):
            return view
        extra = mem.scorer.columns(view.series, now_ns or mem.clock_ns)
        return dataclasses.replace(view, columns={**view.columns, **extra})

    def shard_of_batch(self, batch: ReadingBatch) -> int:
        """The shard a (non-empty, already split) batch belongs to."""
        series = self.catalog.series_id(batch.indicator[:1], batch.street[:1])
        return int(series[0] % self.n_shards)

    def apply(self, mem: ShardMemory, batch: ReadingBatch) -> list[ShardOutput]:
        """Fold one batch in; returns history chunks, vitals chunks and duplicate rejections it causes.

        With the history on, a batch spanning several snapshot intervals of event time is folded in interval by
        interval, and the vitals are snapshotted at each boundary the clock passes after an interval in which
        readings arrived (so a sparse feed replayed fast still gets one snapshot per interval with readings). When
        the batch crosses several boundaries the shard is captured at each (copies, no computing) and the snapshots
        are rendered in one pass at the end of the batch (:meth:`_settle`): the same rows as a view at each. A shard
        of more than ``CAPTURE_MAX_SERIES`` series (the dense city) is viewed at each boundary instead: its view is
        incremental and cheaper than copying its rings."""
        out: list[ShardOutput] = []
        duplicates: list[Rejection] = []
        captured: list[Snapshot] = []
        starts, pieces = self._pieces(batch)
        # capture when the batch crosses several boundaries; one (live, or the dense city) is one view as before
        capture = self.batch_snapshots and len(pieces) > 1 and self._crossings(mem, pieces) > 1
        # one-reading pieces (a sparse feed replayed fast): what the state needs of their readings is worked out
        # once for the batch, and each is folded in scalars; the others (the city's) as before
        singles = [start for start, piece in zip(starts, pieces, strict=True) if len(piece) == 1] \
            if len(pieces) > 1 else []
        prepared = mem.state.prepare(batch.take(np.array(singles))) if singles else None
        single = 0  # the next one-reading piece's reading in ``prepared``
        planned = self.planned_works.current() if self.planned_works is not None else None
        for piece in pieces:
            if self.keep_history and len(piece):
                self._snapshot_boundary(mem, int(piece.ts_ns[0]) // self.vitals_every_ns, captured, out,
                                        capture=capture)
            rows = None
            if prepared is not None and len(piece) == 1:
                result = mem.state.update_one(piece, prepared, single)
                rows = prepared.rows[single:single + 1]
                single += 1
            else:
                result = mem.state.update(piece)
            if mem.scorer is not None:
                left_out = mem.scorer.update(self.catalog, result.accepted_batch, self.models,
                                             rows if result.accepted == len(piece) else None, planned=planned)
                if left_out:
                    mem.planned = getattr(mem, "planned", 0) + left_out  # a memory pickled before has none
            mem.accepted += result.accepted
            if len(piece):
                mem.clock_ns = max(mem.clock_ns, newest(piece.ts_ns))
            duplicates.extend(result.duplicates)
            if self.keep_history and len(result.accepted_batch):
                mem.history.setdefault(batch.partition, []).append(result.accepted_batch)
                mem.history_rows[batch.partition] = mem.history_rows.get(batch.partition, 0) + \
                    len(result.accepted_batch)
        self._settle(mem, captured, out)
        if duplicates:
            mem.duplicates += len(duplicates)
            out.append(ShardRejections(batch.partition, batch.seq, f"dup{mem.shard}", duplicates))
        if self.keep_history and mem.history_rows.get(batch.partition, 0) >= self.history_rows:
            out.extend(self._full_chunks(mem, batch.partition))
        return out

    def _full_chunks(self, mem: ShardMemory, partition: str) -> list[HistoryChunk]:
        """Chunks of exactly ``history_rows`` of the partition's pending readings; the rest stays pending.

        So chunk k holds the same readings however the partition was batched: a Kafka partition resumed after a
        crash is read in other batches than before it (a batch holds what a poll returned). Cut at batch ends, a
        rewritten chunk held other readings than the crashed run's file of that number, and a later chunk file of
        the crashed run that the resumed run did not reach held readings a resumed chunk holds too."""
        size = self.history_rows
        rows = ReadingBatch.concat(mem.history.pop(partition))
        full = len(rows) // size * size
        out = []
        for start in range(0, full, size):
            number = mem.next_chunk.get(partition, 0)
            out.append(HistoryChunk(mem.shard, partition, number, rows.slice(start, start + size), self.run_id))
            mem.next_chunk[partition] = number + 1
        if full < len(rows):
            mem.history[partition] = [rows.take(np.arange(full, len(rows)))]
            mem.history_rows[partition] = len(rows) - full
        else:
            mem.history_rows.pop(partition, None)
        return out

    def _pieces(self, batch: ReadingBatch) -> tuple[list[int], list[ReadingBatch]]:
        """The batch cut, in arrival order, where the newest event time seen in it enters a later snapshot
        interval (the whole batch when it lies in one interval or the history is off). A piece after the first
        starts with the reading that moves the batch's clock into a later interval; a late reading stays where it
        arrived, after the boundaries the clock had passed (as it would in a later batch), so the snapshots do not
        depend on how the input is batched, and the scorer sees the readings in arrival order with or without the
        history. The cuts depend on the batch alone (not on what other partitions' batches did to the shard's
        clock), so a batch is folded in the same pieces whatever the interleaving of partitions or processes.
        Returns where each piece starts in the batch, and the pieces."""
        if not self.keep_history or len(batch) < 2:
            return [0], [batch]
        clock = np.maximum.accumulate(batch.ts_ns // self.vitals_every_ns)
        cuts = np.flatnonzero(clock[1:] != clock[:-1]) + 1
        if not len(cuts):
            return [0], [batch]
        starts = [0, *cuts.tolist()]  # each piece a slice of the batch (views: cheaper than a copy per piece)
        return starts, [batch.slice(a, b) for a, b in zip(starts, [*starts[1:], len(batch)], strict=True)]

    def _crossings(self, mem: ShardMemory, pieces: list[ReadingBatch]) -> int:
        """How many snapshot boundaries folding ``pieces`` (from :meth:`_pieces`: each after the first starts
        with the reading that crosses) crosses."""
        buckets = [int(p.ts_ns[0]) // self.vitals_every_ns for p in pieces if len(p)]
        return sum(b > mem.snapshot_bucket for b in buckets) - (mem.snapshot_bucket < 0)

    def _snapshot_boundary(self, mem: ShardMemory, bucket: int, captured: list[Snapshot],
                           out: list[ShardOutput], *, capture: bool) -> None:
        """Before readings of interval ``bucket`` are folded in: snapshot the vitals at the boundary that closed
        the newest interval with readings, when the clock moves past it (captured, rendered by :meth:`_settle`)."""
        if bucket <= mem.snapshot_bucket:
            return
        if mem.snapshot_bucket >= 0:
            at_ns = (mem.snapshot_bucket + 1) * self.vitals_every_ns
            if not capture or mem.state.series_with_readings() > CAPTURE_MAX_SERIES:
                view = self.view(mem, at_ns)
                captured.append((at_ns, view, {}, mem.state.take_peak_levels(view.series // self.n_shards)))
            else:
                snap = mem.state.capture(at_ns)
                extra: dict[str, npt.NDArray[np.float64]] | ScoreCapture = {}
                if mem.scorer is not None and len(snap):
                    extra = mem.scorer.capture_rows(snap.rows, at_ns) or \
                        mem.scorer.columns(snap.rows * self.n_shards + mem.shard, at_ns)
                captured.append((at_ns, snap, extra, mem.state.take_peak_levels(snap.rows)))
                if len(captured) * mem.state.capture_bytes(len(snap)) > CAPTURE_BYTES:  # about (rows only grow)
                    self._settle(mem, captured, out)
        mem.snapshot_bucket = bucket

    def _settle(self, mem: ShardMemory, captured: list[Snapshot], out: list[ShardOutput]) -> None:
        """Render the captured snapshots (in one pass) into the open window's pending snapshots, emitting the
        window's chunk whenever a snapshot falls in the next window; empties ``captured``."""
        if not captured:
            return
        views = mem.state.render([c for _, c, _, _ in captured if isinstance(c, Capture)])[::-1]
        scored = [] if mem.scorer is None else mem.scorer.render_captures(
            [e for _, _, e, _ in captured if not isinstance(e, dict)])[::-1]
        if mem.vitals_pending is None:
            mem.vitals_pending = []
        for at_ns, snap, captured_extra, peak in captured:
            extra = captured_extra if isinstance(captured_extra, dict) else scored.pop()
            if isinstance(snap, Capture):
                view = views.pop()
                view.columns.update(extra)  # a view just rendered: its own dict (the same keys as a merged copy)
                view.columns[PEAK_LEVEL] = peak
            else:
                view = dataclasses.replace(snap, columns={**snap.columns, **extra, PEAK_LEVEL: peak})
            window = at_ns // self.vitals_window_ns
            if window != mem.vitals_window and mem.vitals_pending:
                out.append(self.vitals_chunk(mem))
                mem.vitals_pending = []
            mem.vitals_window = window
            mem.vitals_pending.append((at_ns, view))
        captured.clear()

    def vitals_chunk(self, mem: ShardMemory) -> VitalsChunk:
        """The snapshots of the open window, as one chunk (its memory is cleared by the caller)."""
        return VitalsChunk(mem.shard, mem.vitals_window * self.vitals_window_ns, tuple(mem.vitals_pending or ()),
                           self.run_id)

    def flush_history(self, mem: ShardMemory, partition: str) -> HistoryChunk:
        number = mem.next_chunk.get(partition, 0)
        chunk = HistoryChunk(mem.shard, partition, number, ReadingBatch.concat(mem.history.pop(partition)),
                             self.run_id)
        mem.history_rows.pop(partition, None)
        mem.next_chunk[partition] = number + 1
        return chunk

    def publish(self, mem: ShardMemory, batch_seconds: list[float], generation: int = 0, *,
                final: bool = False) -> ShardPublish:
        view = self.view(mem, mem.clock_ns or None)
        return ShardPublish(mem.shard, view, mem.duplicates, mem.accepted, len(view), mem.state.state_bytes(),
                            mem.clock_ns, batch_seconds, generation, final, getattr(mem, "planned", 0))


class ShardRunner:
    """One shard at run time: its memory (snapshotted) plus wall-clock bookkeeping (not snapshotted)."""

    def __init__(self, processor: ShardProcessor, memory: ShardMemory | None) -> None:
        self.processor = processor
        self.memory = memory
        # without a demand the first batch publishes at once; with one, scrapes ask (the timer is a fallback)
        self._last_publish = time.monotonic() if processor.demand is not None else -math.inf
        self._generation = 0  # the newest view request answered
        self._batch_seconds: list[float] = []
        # batch timings travel with views (the exporter's histogram): not kept when only the final view is built
        self._timing = processor.demand is not None or math.isfinite(processor.publish_interval_s)
        self._published: ShardPublish | None = None  # the last publication, while no batch came since
        if memory is not None and processor.demand is not None:
            processor.demand.register(memory.shard)

    def on_batches(self, batches: list[ReadingBatch]) -> list[ShardOutput]:
        if self.memory is None:  # a new shard learns its number from its first batch
            self.memory = self.processor.initial_memory(self.processor.shard_of_batch(batches[0]))
            if self.processor.demand is not None:
                self.processor.demand.register(self.memory.shard)
        out: list[ShardOutput] = []
        self._published = None
        cpu = time.thread_time()  # CPU, not wall: other processes' load must not make the flow look saturated
        for batch in batches:
            started = time.perf_counter()
            out.extend(self.processor.apply(self.memory, batch))
            if self._timing:
                self._batch_seconds.append(time.perf_counter() - started)
        if self.processor.demand is not None:
            self.processor.demand.note_busy(time.thread_time() - cpu)
        out.extend(self.on_tick())
        return out

    def on_tick(self) -> list[ShardOutput]:
        if self.memory is None:
            return []
        demand = self.processor.demand
        asked = demand is not None and demand.current() > self._generation
        if not asked and not self._due():
            return []
        return [self._publish(self.memory)]

    def _due(self) -> bool:
        """A periodic view is due (never with an infinite interval)."""
        interval = self.processor.publish_interval_s
        return math.isfinite(interval) and time.monotonic() - self._last_publish >= interval

    def wake_in_s(self) -> float | None:
        """Seconds until this shard must look again (Bytewax notify): the demand's poll, else the interval;
        None: never (no demand and no periodic views: the shard only acts on batches and at the end)."""
        demand = self.processor.demand
        interval = self.processor.publish_interval_s
        if demand is not None and self.memory is not None:
            return min(demand.poll_s, interval)
        return interval if math.isfinite(interval) else None

    def on_eof(self) -> list[ShardOutput]:
        if self.memory is None:
            return []
        mem = self.memory
        out: list[ShardOutput] = [self.processor.flush_history(mem, p) for p in sorted(mem.history) if mem.history[p]]
        if mem.vitals_pending:  # the open window is written and kept: a resumed run rewrites it with more
            out.append(self.processor.vitals_chunk(mem))
        out.append(self._publish(mem, final=True))
        return out

    def _publish(self, mem: ShardMemory, *, final: bool = False) -> ShardPublish:
        demand = self.processor.demand
        # requests made before the view is built are answered by it; later ones by the next
        generation = demand.current() if demand is not None else 0
        self._generation = max(self._generation, generation)
        self._last_publish = time.monotonic()
        if self._published is not None:  # nothing new since the last view: answer with it again
            self._published = dataclasses.replace(self._published, generation=generation, final=final,
                                                  batch_seconds=[])
            return self._published
        seconds, self._batch_seconds = self._batch_seconds, []
        self._published = self.processor.publish(mem, seconds, generation, final=final)
        return self._published
