"""The flow's scorer alone (issue 8): ``ShardScorer.update`` over a simulated city, CPU seconds by part.

``vitals simulate --hours H --start 2025-06-02T00:00:00Z`` (the full city, ~500k readings an hour) is cut into
5,000-row source batches in file order, each split into 4 shards, validated as a parser does and folded through
the shard's ``ShardState`` first (outside the timing); then the accepted readings of every batch go through the
shard's ``ShardScorer`` with the shipped promoted models (``models/``), timed with ``time.process_time``.
Small batches make a forecast tick every minute of event time per shard (the live cadence); ``vitals replay``
folds bigger batches, so it forecasts less often (see ``bench_replay.py``). The scorer predicts a tick's forecasts
when they are read (a view); the benchmark reads them after every batch, so every tick predicts (the live case: a
scrape every second reads every tick). Parts, each with its callees, by
cProfile on a second pass (``--skip-profile``: none): the detector (``DefaultDetector.update_score``), the
forecast ticks (``ShardScorer.forecast``), the window model (``ShardScorer.score_windows``: accumulator and
scoring).

``--batch-size 20000`` cuts the city like ``vitals replay`` does (its shard batches hold ~5,000 readings; a tick
then predicts ~7,000 series). ``--stages``: the timed pass reports CPU per stage (``time.thread_time`` around the
functions of ``benchmarks/stage_timer.py``: calls and ms per call, where each change happens), no cProfile.

    .venv/bin/python benchmarks/bench_scorer.py [--hours 1] [--batch-size 5000] [--skip-profile] [--stages]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's vitals, whatever the venv has installed
# the forecast: the tick (``forecast``) and its prediction when read (``_predict_pending``)
PARTS = {"detector": ("update_score",), "forecast": ("forecast", "_predict_pending"),
         "window model": ("score_windows",)}


def batches(path: Path, catalog: Any, n_shards: int, size: int) -> list[tuple[int, Any]]:
    """(shard, accepted batch) pairs in replay order, each batch folded through its shard's state."""
    import numpy as np
    import pandas as pd

    from vitals.batches import ReadingBatch
    from vitals.readings.validate import TimeRules, reason_codes
    from vitals.state import ShardState

    frame = pd.read_parquet(path, columns=["ts", "indicator", "area", "value"])
    ind = pd.Index([i.id for i in catalog.indicators]).get_indexer(pd.Index(frame["indicator"].astype(str)))
    street = pd.Index([s.id for s in catalog.streets]).get_indexer(pd.Index(frame["area"].astype(str)))
    ts = pd.to_datetime(frame["ts"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    value = frame["value"].to_numpy(np.float64)
    ok = (ind >= 0) & (street >= 0) & np.isfinite(value)
    ind, street, ts, value = ind[ok].astype(np.int16), street[ok].astype(np.int32), ts[ok], value[ok]
    shard = catalog.series_id(ind, street) % n_shards
    states = [ShardState(catalog, s, n_shards) for s in range(n_shards)]
    out = []
    for lo in range(0, ts.size, size):
        hi = min(lo + size, ts.size)
        for s in range(n_shards):
            rows = lo + np.flatnonzero(shard[lo:hi] == s)
            batch = ReadingBatch(ts[rows], ind[rows], street[rows], value[rows], received_ns=int(ts[lo:hi].max()))
            batch = batch.take(reason_codes(catalog, batch, TimeRules(batch.received_ns)) == 0)  # as parsed
            out.append((s, states[s].update(batch).accepted_batch))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours of the full city (default 1)")
    parser.add_argument("--skip-profile", action="store_true", help="no second pass under cProfile")
    parser.add_argument("--batch-size", type=int, default=5000, help="source batch rows (default 5,000)")
    parser.add_argument("--stages", action="store_true", help="CPU per stage of the timed pass (thread_time)")
    opts = parser.parse_args()
    from vitals.catalog import load_catalog
    from vitals.scoring import RegistryModels, ShardScorer

    catalog, n_shards = load_catalog(), 4
    with tempfile.TemporaryDirectory(prefix="bench-scorer-") as tmp:
        city = Path(tmp) / "city.parquet"
        subprocess.run([sys.executable, "-m", "vitals", "simulate", "--hours", str(opts.hours), "--start",
                        "2025-06-02T00:00:00Z", "--out", str(city), "--no-progress"], check=True,
                       stdout=subprocess.DEVNULL, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        work = batches(city, catalog, n_shards, opts.batch_size)
    models = RegistryModels(REPO / "models", poll_s=3600.0)
    models.forecaster()
    models.window_model()
    readings = sum(len(b) for _, b in work)

    def run() -> None:
        scorers = [ShardScorer(catalog, s, n_shards) for s in range(n_shards)]
        for s, b in work:
            scorers[s].update(catalog, b, models)
            scorers[s].horizons  # noqa: B018 - read the forecasts after every batch, as a view would: every tick predicts

    run()  # first pass: loads the compiled detector kernel
    if opts.stages:
        sys.path.insert(0, str(REPO / "benchmarks"))
        import stage_timer

        for name in stage_timer.STAGES:
            if name in sys.modules:
                stage_timer._patch(sys.modules[name])
    started = time.process_time()
    run()
    cpu = time.process_time() - started
    if opts.stages:
        order = [name for name in stage_timer.ORDER if name in stage_timer._cpu]
        print(f"  {'stage (thread_time, inclusive)':<46} {'CPU s':>7} {'calls':>7} {'ms/call':>8}")
        for name in [*order, "scoring"]:
            spent, calls = stage_timer._cpu[name], stage_timer._calls[name]
            print(f"  {name:<46} {spent:>7.3f} {calls:>7} {1e3 * spent / calls:>8.2f}")
    result: dict[str, Any] = {"readings": readings, "batches": len(work), "cpu_s": round(cpu, 3),
                              "readings_per_cpu_s": round(readings / cpu)}
    print(f"scorer: {readings:,} readings in {len(work):,} shard batches, {cpu:.2f} CPU s, "
          f"{readings / cpu:,.0f} readings / CPU s")
    if not opts.skip_profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(run)
        stats = pstats.Stats(profiler)
        table = stats.stats  # type: ignore[attr-defined]
        total = max(ct for (path, _, name), (_, _, _, ct, _) in table.items()
                    if name == "update" and "shard_scorer" in path)
        for part, funcs in PARTS.items():
            cum = sum(ct for (path, _, name), (_, nc, _, ct, _) in table.items()
                      if name in funcs and ("shard_scorer" in path or "combined" in path))
            calls = sum(nc for (path, _, name), (_, nc, _, _, _) in table.items()
                        if name == funcs[0] and ("shard_scorer" in path or "combined" in path))
            result[part] = {"share": round(cum / total, 3), "calls": calls, "ms_per_call": round(cum / calls * 1e3, 2)}
            print(f"  {part:<13} {cum / total:6.1%} of the scorer ({calls} calls, {cum / calls * 1e3:.2f} ms each)")
    print(json.dumps({"benchmark": "scorer", "hours": opts.hours, **result}))


if __name__ == "__main__":
    main()
