"""Assemble and run the pipeline from :class:`vitals.config.Settings`: pick the source, build the sinks
(exporter hub + /metrics server, dead letters, history), and run the flow with Bytewax (one worker, several
worker threads, or one process of a cluster), with recovery when asked.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from bytewax.dataflow import Dataflow

from pipelines.connectors import FileReplaySource
from pipelines.live import FlowOptions, FlowSinks, build_flow
from pipelines.preflight import Checked, per_process_path, preflight, process_metrics_port
from pipelines.progress import ProgressBar
from pipelines.sinks import CallbackSink
from pipelines.sources import make_source
from vitals.arrow_setup import convert_without_pandas
from vitals.catalog import Catalog, load_catalog
from vitals.cluster import wait_for_peers
from vitals.config import Settings, min_time_of
from vitals.errors import ConfigError, JoinStoppedError, SourceError, VitalsError
from vitals.exporter import ExportHub, MetricsServer
from vitals.history import write_final_vitals
from vitals.numba_setup import skip_blas_probe
from vitals.readings import DeadLetterWriter
from vitals.recovery import claim_identity, stored_run_id
from vitals.registry.locate import check_all, models_dir
from vitals.run_id import new_run_id
from vitals.runner import RunSummary
from vitals.signal_watchdog import SignalWatchdog
from vitals.sources.base import STOP, ReplayClock, staleness_clock
from vitals.stream.demand import ViewDemand
from vitals.stream.outputs import DeadLetters, vitals_every_s
from vitals.stream.publisher import HubPublisher
from vitals.stream.sinks import SinkContext, close_sink

if TYPE_CHECKING:
    from vitals.simulator import CitySimulator

log = logging.getLogger(__name__)

# With /metrics served, every scrape asks the shards for fresh views (vitals.stream.demand); the timer then only
# keeps in-process readers (the demo's screen) and the health roll-up going when nobody scrapes.
FALLBACK_PUBLISH_INTERVAL_S = 5.0
# Without /metrics and without an in-process reader (a caller's hub or on_publisher) nothing reads a view before
# the end: no periodic views, only each shard's final one (the final vitals and the summary's counts).
NO_PERIODIC_VIEWS = math.inf


def flow_options(settings: Settings, *, views_on_demand: bool = False, views_read: bool = True,
                 run_id: str = "") -> FlowOptions:
    """The flow's options; ``views_on_demand``: scrapes ask for views, so the timer is only a fallback;
    ``views_read`` False: nothing reads views before the end, so the shards publish only their final views;
    ``run_id``: the id the history's file names carry (:func:`history_run_id`)."""
    if not views_read:
        interval = NO_PERIODIC_VIEWS
    else:
        interval = FALLBACK_PUBLISH_INTERVAL_S if views_on_demand else FlowOptions.publish_interval_s
    return FlowOptions(shards=settings.shards, allowed_lateness_s=settings.allowed_lateness_s,
                       max_future_s=settings.max_future_s, min_time=min_time_of(settings),
                       recovery=bool(settings.recovery_dir),
                       history_rows=history_chunk_rows(settings), vitals_every_s=vitals_every_s(settings),
                       scoring=settings.scoring,
                       publish_interval_s=interval, run_id=run_id)


def history_run_id(settings: Settings, checked: Checked) -> str:
    """The run id of this run's history file names (:mod:`vitals.run_id`, docs/history.md): a fresh one without
    a recovery directory (another run into the same history directory never overwrites this one's files); with
    one, the id in its identity, written when it is initialised (here, before the flow is built) and read back on
    every resume (a resumed run rewrites its own files), shared by the processes of a cluster that share the
    directory. A directory initialised before run ids: "" (the names its run wrote)."""
    if not settings.recovery_dir:
        return new_run_id()
    if checked.identity is None:
        checked = preflight(settings, probe=False)
    return stored_run_id(claim_identity(settings.recovery_dir, checked.identity or {}))


def history_chunk_rows(settings: Settings) -> int:
    """Readings per history file per (shard, source partition): the history sink's, else the default."""
    history = settings.sinks.get("history")
    return int(history.chunk_rows) if history is not None else FlowOptions.history_rows


def write_scrape_config(settings: Settings, path: str | Path) -> Path:
    """A Prometheus scrape config listing the /metrics of every process of the cluster."""
    if not settings.metrics_port:
        msg = "a scrape config needs --metrics-port (process i serves metrics_port + i)"
        raise ConfigError(msg)
    # a cluster process is scraped on its cluster host; a single process where /metrics listens
    hosts = [a.rsplit(":", 1)[0] for a in settings.addresses] or [settings.metrics_host]
    static = [{"targets": [f"{host}:{settings.metrics_port + i}"],
               "labels": {"process": str(i)}} for i, host in enumerate(hosts)]
    doc = {"scrape_configs": [{"job_name": "city-vitals", "scrape_interval": "5s", "static_configs": static}]}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def _recovery_config(settings: Settings, checked: Checked | None = None) -> Any:
    """Bytewax's recovery config; a new directory is initialised with the run's identity (see vitals.recovery),
    whose match ``preflight`` has checked."""
    if not settings.recovery_dir:
        return None
    from bytewax.recovery import RecoveryConfig, init_db_dir

    rdir = Path(settings.recovery_dir)
    if checked is None or checked.identity is None:
        checked = preflight(settings, probe=False)
    if checked.init_recovery:
        claim_identity(rdir, checked.identity or {})  # already there when run_pipeline took its run id
        init_db_dir(rdir, max(1, settings.partitions))
    return RecoveryConfig(str(rdir))


def _stop_on_ctrl_c(watchdog: SignalWatchdog | None = None) -> Callable[[], None]:
    """First Ctrl-C (or SIGTERM, e.g. from a service manager): ask the sources to end (clean EOF, so the final
    state is published and started services are stopped); a second one interrupts at once. Each run of the handler
    is reported to ``watchdog`` (started here: it ends a process whose main thread cannot run the handler while
    joining its cluster, :mod:`vitals.signal_watchdog`). Returns a restorer (handlers and wakeup fd)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    previous_term = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        if watchdog is not None:
            watchdog.handled(signum)
        if STOP.is_set():
            raise KeyboardInterrupt
        log.warning("stopping: ending the input, publishing the final state (Ctrl-C again to abort)")
        STOP.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    stop_watchdog = watchdog.start() if watchdog is not None else (lambda: None)

    def restore() -> None:
        stop_watchdog()
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)

    return restore


def _cluster_peers(addresses: list[str], process_id: int) -> str:
    peers = "; ".join(f"process {i} at {a}" for i, a in enumerate(addresses) if i != process_id)
    return f"its cluster peers (this is process {process_id} of {len(addresses)}; {peers})"


def run_flow(flow: Dataflow, settings: Settings, checked: Checked | None = None,
             watchdog: SignalWatchdog | None = None) -> None:
    """Run a flow in this process per the settings (blocks until the input ends or Ctrl-C). ``watchdog``: armed
    while a cluster process joins its peers (in Rust, where Ctrl-C and SIGTERM handlers cannot run)."""
    from bytewax.run import cli_main

    epoch = timedelta(seconds=settings.snapshot_interval_s if settings.recovery_dir else 1.0)
    addresses = list(settings.addresses) or None
    recovery = _recovery_config(settings, checked)
    joining: AbstractContextManager[Any] = nullcontext()
    if addresses:
        process_id = settings.process_id or 0
        peers = _cluster_peers(addresses, process_id)
        log.info("joining the cluster: waiting for %s", peers)
        if process_id:  # join once the peers listen, not after Timely's 1 s retry
            wait_for_peers(addresses, process_id, stop=STOP.is_set)
        if STOP.is_set():  # stopped while waiting in Python: Timely would wait for the peers with no way out
            signum = watchdog.last_signal if watchdog is not None else None
            signum = signum or int(signal.SIGTERM)
            msg = f"{signal.Signals(signum).name}: stopped while still waiting for {peers}; the flow never started"
            raise JoinStoppedError(msg, signum)
        if watchdog is not None:
            joining = watchdog.armed(peers)
    try:
        with joining:
            cli_main(flow, workers_per_process=settings.workers,
                     process_id=settings.process_id if addresses else None, addresses=addresses,
                     epoch_interval=epoch, recovery_config=recovery)
    except Exception as exc:
        root = _root_cause(exc)
        if root is exc:
            raise
        raise root from exc


def _root_cause(exc: BaseException) -> BaseException:
    """A failure inside the flow reaches us wrapped in Bytewax runtime errors: the error of ours (or the OS
    error) at the bottom of the chain becomes one line; anything else is re-raised as it is."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, VitalsError):
            return type(cause)(str(cause))
        if isinstance(cause, OSError):
            msg = f"the pipeline stopped: {cause}"
            return SourceError(msg)
        cause = cause.__cause__
    return exc


def run_pipeline(
    settings: Settings, *, catalog: Catalog | None = None, hub: ExportHub | None = None,
    simulator: CitySimulator | None = None, progress: bool = False,
    on_publisher: Callable[[HubPublisher], None] | None = None, final_vitals: str | Path | None = None,
) -> RunSummary:
    """Build everything from the settings and run until the input ends (or Ctrl-C).

    ``progress``: a progress bar over the bytes read, for a file replay that is not paced (single process).
    ``final_vitals``: write the vitals of every series of this process's shards at the end to this Parquet
    file (``<stem>-p<id>.parquet`` per process in a cluster); see :func:`vitals.history.write_final_vitals`.
    ``hub``, ``on_publisher``: in-process readers of the views during the run. Without them and without a
    /metrics server the shards build no periodic views, only their final ones (:data:`NO_PERIODIC_VIEWS`).
    """
    convert_without_pandas()  # before anything converts: ~0.45 CPU s less per process (vitals.arrow_setup)
    skip_blas_probe()  # before the first kernel call: no scipy import, ~0.2 CPU s less (vitals.numba_setup)
    catalog = catalog or load_catalog(settings.catalog, streets_total=settings.streets_total)
    checked = preflight(settings, final_vitals=final_vitals)
    callers_hub, hub = hub, hub or ExportHub(catalog)
    server = None
    port = process_metrics_port(settings)
    if port:
        server = MetricsServer(hub, host=settings.metrics_host, port=port, web=checked.web)
        server.start()
        log.info("metrics on %s", server.url)
    dead = DeadLetterWriter(per_process_path(settings, settings.dead_letter_path),
                            max_entries=settings.dead_letter_max_entries,
                            max_bytes=round(settings.dead_letter_max_mb * 1024 * 1024))
    demand = ViewDemand() if server is not None else None
    publisher = HubPublisher(hub, catalog, demand=demand)
    models = open_models(settings, catalog, on_change=hub.stats.set_model, on_error=hub.stats.set_model_failed)
    # Views on demand, wired here and nowhere else: a scrape calls hub -> publisher.freshen -> demand.refresh; the
    # shards (build_flow's demand) answer with views; the publisher puts them in the hub and marks them served.
    if demand is not None:
        hub.serve_fresh(publisher)
    if on_publisher is not None:
        on_publisher(publisher)
    context = SinkContext(catalog, process_id=settings.process_id or 0)
    writers = {name: sink.open(context) for name, sink in settings.sinks.items()}
    more = tuple((name, settings.sinks[name].output, CallbackSink(w)) for name, w in writers.items())
    sinks = FlowSinks(stats=CallbackSink(publisher), dead_letters=CallbackSink(DeadLetters(dead)), more=more)
    source = make_source(catalog, settings, simulator, checked)
    hub.use_clock(staleness_clock(settings.source, settings.speed, getattr(source, "clock", None)))
    # a caller's hub or on_publisher reads views during the run (the demo's screen, a test's scrape)
    views_read = server is not None or callers_hub is not None or on_publisher is not None
    run_id = history_run_id(settings, checked)
    if sinks.wants_history():
        log.info("history files of this run carry the run id %s", run_id or "(none: a recovery dir made before "
                 "run ids)")
    options = flow_options(settings, views_on_demand=demand is not None, views_read=views_read, run_id=run_id)
    works = None
    if settings.planned_works:  # followed by the shards (the detector) and shown by the exporter
        from vitals.planned_works import PlannedWorksFile

        works = PlannedWorksFile(settings.planned_works, catalog)
        hub.stats.show_planned_works(works.current)
    flow = build_flow(catalog, source, sinks, options, models=models, demand=demand, planned_works=works)
    started = time.monotonic()
    STOP.clear()
    watchdog = SignalWatchdog() if settings.addresses else None
    restore = _stop_on_ctrl_c(watchdog)
    try:
        with _progress(source, settings, progress):
            run_flow(flow, settings, checked, watchdog)
        clock = getattr(source, "clock", None)
        if isinstance(clock, ReplayClock) and not STOP.is_set():  # the input ended (not Ctrl-C)
            clock.warn_if_never_paced()
        failure = models.failure() if models is not None and models.ready() is None else None
        if failure is not None:  # models of another catalog: an error even if no shard asked for them
            raise failure from None
    except BaseException:
        failure = models.failure() if models is not None else None
        if failure is not None:  # e.g. a ModelError: say it plainly, not as a flow panic
            raise failure from None
        raise
    finally:
        restore()
        STOP.clear()  # the flag belongs to this run: a later run or source in this process starts unstopped
        publisher.finish()
        if demand is not None:  # the shards are gone: no more fresh views to ask for
            hub.serve_fresh(None)
        dead.close()
        for writer in writers.values():
            close_sink(writer)
        if server is not None:
            server.stop()
    written = None
    if final_vitals is not None:
        written = write_final_vitals(per_process_path(settings, final_vitals), catalog, publisher.final_view())
    inputs, accepted, rejected = publisher.totals()
    return RunSummary(inputs=inputs, accepted=accepted, rejected=rejected, seconds=time.monotonic() - started,
                      metrics_url=server.url if server else None, final_vitals=written)


def open_models(settings: Settings, catalog: Catalog, on_change: Callable[[str, str], None],
                on_error: Callable[[str, str, Exception], None] | None = None) -> BackgroundModels | None:
    """The promoted models for the catalog, loading in the background (:class:`BackgroundModels`); None with
    scoring off. The models directory is resolved at once (a given one that does not exist is an error)."""
    if not settings.scoring:
        log.info("models: scoring is off (scoring: false): no anomaly scores, forecasts or window scores")
        return None
    return BackgroundModels(settings, catalog, on_change, on_error)


class BackgroundModels:
    """The registry's promoted models (:class:`vitals.scoring.RegistryModels`), built in a thread started at
    once: importing the scoring stack (the detectors bring numba, ~0.5 CPU s) and loading the models' array forms
    (~0.05 s; a skops artifact without one: scikit-learn, scipy and skops, seconds) overlap the flow's start and
    first batches. A shard that needs a model waits for it, so scores never depend on how fast the load was.

    Once loaded, the models are checked against the catalog (:func:`vitals.registry.locate.check_all`) and the
    models in use are logged at INFO (or that scoring runs without them); models trained for another catalog
    are a :class:`~vitals.errors.ModelError`, raised in the flow and by :meth:`failure` for ``run_pipeline``. A
    promoted version that cannot be loaded is reported through ``on_error`` (``vitals_model_load_failed``)."""

    def __init__(self, settings: Settings, catalog: Catalog, on_change: Callable[[str, str], None],
                 on_error: Callable[[str, str, Exception], None] | None = None) -> None:
        self._models: Any = None
        self._error: BaseException | None = None
        where = models_dir(settings.models_dir, settings.catalog, must_exist=True)
        self._thread = threading.Thread(target=self._load, args=(where, catalog, on_change, on_error),
                                        name="load-models", daemon=True)
        self._thread.start()

    def _load(self, where: Any, catalog: Catalog, on_change: Callable[[str, str], None],
              on_error: Callable[[str, str, Exception], None] | None) -> None:
        try:
            from vitals.scoring import RegistryModels

            models = RegistryModels(where.path, on_change=on_change, on_error=on_error)
            models.poll()
            watcher = models.watcher
            loaded = {f: (str(watcher.version(f)), watcher.model(f)) for f in watcher.families
                      if watcher.model(f) is not None}
            log.info("%s", check_all(loaded, catalog, where))
            self._models = models
        except BaseException as exc:  # raised again in the flow, where it stops the run
            self._error = exc

    def ready(self) -> Any:
        models = self._models
        if models is not None:  # loaded (the thread's last step): no join (a fast replay asks once per piece)
            return models
        self._thread.join()
        if isinstance(self._error, VitalsError):  # e.g. models of another catalog: end the input cleanly, and
            STOP.set()                            # run_pipeline raises it (one plain line, not a flow panic)
            return None
        if self._error is not None:
            raise self._error
        return self._models

    def failure(self) -> BaseException | None:
        """The error of the load, if it failed (without waiting for a load still running)."""
        return self._error

    def forecaster(self) -> Any | None:
        models = self.ready()
        return None if models is None else models.forecaster()

    def window_model(self) -> Any | None:
        models = self.ready()
        return None if models is None else models.window_model()


def _progress(source: Any, settings: Settings, wanted: bool) -> AbstractContextManager[Any]:
    """A progress bar for an unpaced file replay in a single process; otherwise nothing."""
    if not wanted or not isinstance(source, FileReplaySource) or settings.speed > 0 or settings.addresses:
        return nullcontext()
    total = sum(p.stat().st_size for p in source.files)
    return ProgressBar(total, source.bytes_done)


def utc_now() -> datetime:
    return datetime.now(UTC)
