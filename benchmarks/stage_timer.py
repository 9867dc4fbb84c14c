"""CPU seconds per stage of a ``vitals`` command, by ``time.thread_time`` around named functions (no cProfile).

    python benchmarks/stage_timer.py OUT.json replay FILE ...   # runs ``vitals replay FILE ...``, then writes OUT.json

The functions in :data:`STAGES` are wrapped when their module is first imported (an import hook: nothing is imported
earlier than the command itself imports it, so start-up and the model-loading thread are as in a plain run). Each
wrapper adds the calling thread's CPU time (``time.thread_time``) spent inside the call, callees included, and
counts calls; a stage called inside itself (recursion) counts once. Stages nest (the detector is inside the scorer's
update): the figures are inclusive, not additive. The *scoring* total counts the outermost call of any scoring stage
(:data:`SCORING`: the scorer's per-batch update, the view columns with the forecast predictions they read, a pickle),
so nothing is counted twice. The /metrics server's threads are timed too (a scrape, the vitals text render, its
gzip): most of the process CPU that is not the main thread's. At exit OUT.json gets every stage's CPU s and
calls, the scoring total, the main thread's CPU s and the process's CPU s (``resource.getrusage(RUSAGE_SELF)``,
all threads).

The wrappers cost ~1 us per call (a few thousand calls per city hour): well below the noise. Used by
``bench_replay.py --stages``.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import json
import resource
import runpy
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# module -> [(attribute path in the module, stage name)]
STAGES: dict[str, list[tuple[str, str]]] = {
    "vitals.scoring.shard_scorer": [
        ("ShardScorer.update", "scorer.update (per batch)"),
        ("ShardScorer._hold", "  hold (peak score per series)"),
        ("ShardScorer.score_windows", "  window model (accumulator + scoring)"),
        ("ShardScorer._tick", "  forecast tick (window rows)"),
        ("ShardScorer._before_lags_change", "  tick window built before the lag buffer changes"),
        ("ShardScorer.columns", "scorer.columns (views, snapshots)"),
        ("feature_code", "  explain feature codes"),
        ("ShardScorer._predict_pending", "forecast prediction (when read)"),
        ("ShardScorer.__getstate__", "scorer pickle"),
    ],
    "vitals.detectors.combined": [("DefaultDetector.update_score", "  detector (update_score)")],
    "vitals.detectors.kernel": [("score_batch", "    detector kernel (score_batch)")],
    "vitals.scoring.window_state": [("WindowAccumulator.update", "    window accumulator")],
    "vitals.forecasting.grid": [("LagBuffer.update", "  lag buffer update")],
    "vitals.forecasting.model": [("EarlyWarningForecaster.predict", "  forecaster.predict")],
    "vitals.state.shard": [
        ("ShardState.update", "series state update"),
        ("ShardState.update_one", "series state update (one-reading pieces)"),
        ("ShardState.view", "state view"),
        ("ShardState.capture", "state capture"),
        ("ShardState.render", "state render (captures)"),
    ],
    "vitals.stream.shard_step": [
        ("ShardProcessor.apply", "shard apply (state + scorer + snapshots)"),
        ("ShardProcessor._snapshot_boundary", "  vitals snapshot boundaries"),
        ("ShardProcessor._settle", "  vitals snapshots rendered"),
        ("ShardProcessor.publish", "views for scrapes (publish)"),
    ],
    "vitals.state.view_cache": [("ViewCache.window_columns", "  window statistics")],
    "vitals.stream.outputs": [
        ("HistoryWriter.__call__", "history Parquet writing"),
        ("write_readings", "  readings files"),
        ("write_vitals", "  vitals files"),
    ],
    "vitals.history": [("_atomic_write", "    Parquet encoding and writing")],
    "vitals.sources.files": [("FileReplay.read_next", "file read + parse")],
    # the /metrics server's threads (not the main thread): a scrape, the vitals text render and its gzip
    "vitals.exporter.hub": [("ExportHub.scrape", "/metrics scrapes (server threads)"),
                            ("ExportHub._gzip_of", "/metrics gzip (server threads, when asked)")],
    "vitals.exporter.render": [("VitalsRenderer.render", "  vitals text render")],
}
# the order stages are printed in: nested stages under the one that calls them
ORDER: tuple[str, ...] = (
    "file read + parse", "shard apply (state + scorer + snapshots)", "  vitals snapshot boundaries",
    "  vitals snapshots rendered", "series state update", "series state update (one-reading pieces)",
    "scorer.update (per batch)",
    "  detector (update_score)", "    detector kernel (score_batch)", "  hold (peak score per series)",
    "  lag buffer update", "  window model (accumulator + scoring)", "    window accumulator",
    "  forecast tick (window rows)", "  tick window built before the lag buffer changes",
    "views for scrapes (publish)", "state view", "state capture",
    "state render (captures)", "  window statistics",
    "scorer.columns (views, snapshots)", "  explain feature codes", "forecast prediction (when read)",
    "  forecaster.predict", "scorer pickle", "history Parquet writing", "  readings files", "  vitals files",
    "    Parquet encoding and writing", "/metrics scrapes (server threads)", "  vitals text render",
    "/metrics gzip (server threads, when asked)")
SCORING = frozenset({"scorer.update (per batch)", "scorer.columns (views, snapshots)",
                     "forecast prediction (when read)", "scorer pickle"})

_cpu: dict[str, float] = {}
_calls: dict[str, int] = {}
_local = threading.local()


def _timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    scoring = name in SCORING

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        active: set[str] = getattr(_local, "active", None) or set()
        _local.active = active
        if name in active:  # recursion: counted by the outer call
            return func(*args, **kwargs)
        outer_scoring = scoring and not getattr(_local, "scoring", False)
        active.add(name)
        if outer_scoring:
            _local.scoring = True
        started = time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            active.discard(name)
            _cpu[name] = _cpu.get(name, 0.0) + spent
            _calls[name] = _calls.get(name, 0) + 1
            if outer_scoring:
                _local.scoring = False
                _cpu["scoring"] = _cpu.get("scoring", 0.0) + spent
                _calls["scoring"] = _calls.get("scoring", 0) + 1

    return wrapper


def _patch(module: ModuleType) -> None:
    for path, name in STAGES.get(module.__name__, []):
        *owner_path, attr = path.split(".")
        owner: Any = module
        for part in owner_path:
            owner = getattr(owner, part, None)
        if owner is not None and hasattr(owner, attr):  # another version may lack a stage: not timed there
            setattr(owner, attr, _timed(name, getattr(owner, attr)))


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in STAGES:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["vitals", *sys.argv[2:]]
    sys.meta_path.insert(0, _Finder())
    code: str | int | None = 0
    try:
        runpy.run_module("vitals", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        doc = {"main_thread_cpu_s": time.thread_time(), "process_cpu_s": usage.ru_utime + usage.ru_stime,
               "stages": {name: {"cpu_s": round(_cpu[name], 4), "calls": _calls[name]} for name in _cpu}}
        with open(out, "w", encoding="utf-8") as f:
            json.dump(doc, f)
    sys.exit(code)


if __name__ == "__main__":
    main()
