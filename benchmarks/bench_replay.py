"""The product path (issue 10, item 3): ``vitals replay`` run as a user runs it, on two inputs.

Each case is a fresh subprocess ``python -m vitals replay FILE`` with the default settings (scoring on), plus
(except case 3) ``--history-dir`` into a temp dir and /metrics served on a free port (``--metrics-port``); dead
letters go to the default path under the temp dir (the child's working directory). While the replay runs the
benchmark polls /metrics every 50 ms until it first answers (the *startup* time, from the process start), then
scrapes it every second with urllib, as Prometheus would.

1. the full simulated city: ``vitals simulate --hours H --start 2025-06-02T00:00:00Z`` (~500k readings an hour),
   for ``--hours`` (default 1) and again for ``--long-hours`` (default 4; 0: skip). From the two the benchmark
   prints the *steady-state* throughput, (readings_long - readings_short) / (CPU_long - CPU_short): what an
   extra hour of input costs once the process is up, and the *fixed* CPU of a run (imports, catalog, model and
   kernel loading, the first scrape's label prefixes, the final flush): CPU_short - readings_short / steady.
   Both are printed next to the plain per-run figures, which include the fixed cost (never hidden);
2. a small hourly feed (``--no-feed``: skip it): ``vitals simulate --catalog tests/catalog/second_city.yaml
   --indicators air_no2 --days 1500 --step 3600 --start 2020-01-01T00:00:00Z`` replayed with the same ``--catalog``.
3. the same hourly feed without ``--history-dir``, the price of the history is the difference.
4. with ``--vitals-every S`` (repeatable): the longest city case again with ``--history-vitals-every S``, the
   history's snapshot cadence (docs/history.md, "Snapshot cadence").

Per case: wall seconds, CPU seconds of the child (``resource.getrusage(RUSAGE_CHILDREN)`` deltas), readings
per CPU s and per wall s (the count from the replay's summary line "N readings in ..."), startup seconds, and
(unless ``--skip-profile``) where the CPU goes, from a second run of the same replay (same scraping) under
``python -m cProfile -o prof.out -m vitals replay ...``. A module's share is the time *entering* it from
outside (the sum of the cumulative time of call edges from a caller outside the module prefix into a function
inside it, so nested calls within a module count once), over the profiled total (sum of all functions' own
time). Prefixes: ``vitals/scoring`` (also shown: ``ShardScorer.update`` cumulative, i.e. with its callees;
forecast predictions run when a view reads them: in ``vitals/scoring``, not in ``ShardScorer.update``),
``vitals/readings`` (parsing), ``vitals/state``, ``vitals/exporter``, ``vitals/history``. Shares can overlap
(e.g. scoring code calling state code counts in both). cProfile sees the main thread only: the /metrics server
threads (scrape rendering) and anything loaded in background threads are not in the profile. Its clock is wall
time (``python -m cProfile``), so time the main thread waits (for a CPU on a loaded machine, for the thread that
imports and loads the models) counts where it waits; ``--timer thread`` profiles with the main thread's CPU clock
(``time.thread_time``) instead.

With ``--stages`` each case runs once more under ``benchmarks/stage_timer.py``: CPU seconds per stage of the flow
(``time.thread_time`` around named functions: the scorer's update, detector, window model, forecast ticks and
predictions, view columns, state, snapshots, history writing, file reading), calls and ms per call, and the
*scoring share*: the outermost scoring calls (the scorer's per-batch update, its view columns and the forecast
predictions they read) over the process CPU (all threads) and over the main thread's CPU.

Prints a table and ends with one JSON line. Files go to a temp dir (removed at the end).

    .venv/bin/python benchmarks/bench_replay.py [--hours 1] [--long-hours 4] [--no-feed] [--repeat 1]
        [--skip-profile] [--timer wall|thread] [--stages] [--code DIR]

Beside each city case, the **numpy reference** (``benchmarks/pipeline_reference.py``, the one ``bench_pipeline.py``
uses) replays the same file in this process at the replay's default batch size (5,000 rows), as many times as
the case: decode, id codes, checks, the window buckets and last values in plain numpy, with no scoring, no
history, no Bytewax, no exporter (its docstring lists what it leaves out). The table prints its readings per CPU s
and the *ratio*: the replay's CPU s over the reference's (issue 10: "within 2x of the numpy reference in the same
run"). The reference does a fraction of the product's work, so the ratio is what the rest of the product costs,
not an overhead on equal work. ``--no-reference`` skips it.

With ``--repeat N`` each case's unprofiled run is repeated N times; the table shows the median run (by CPU s)
and the JSON has every run's CPU s; the steady-state figure uses the median CPU s of both city cases.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from pipeline_reference import time_reference  # benchmarks/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # stage_timer (its stage names)
SECOND_CITY = REPO / "tests" / "catalog" / "second_city.yaml"
STAGE_TIMER = Path(__file__).resolve().parent / "stage_timer.py"
SUMMARY = re.compile(r"([\d,]+) readings in ([\d.]+)\s*s")
PREFIXES = {
    "scoring": "vitals/scoring/",
    "parsing": "vitals/readings/",
    "state": "vitals/state/",
    "exporter": "vitals/exporter/",
    "history": "vitals/history",
}


CODE = [REPO]  # whose ``vitals`` the children run (``--code``): this checkout by default


def _env() -> dict[str, str]:
    """The child imports this checkout's ``vitals`` (it runs in a temp dir), or the ``--code`` checkout's."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(CODE[0]) + (os.pathsep + path if path else "")}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate(out: Path, args: list[str], cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "vitals", "simulate", *args, "--out", str(out), "--no-progress"],
                   cwd=cwd, env=_env(), check=True, stdout=subprocess.DEVNULL)


class Scraper(threading.Thread):
    """Polls /metrics every 50 ms until it answers, then scrapes it every second until stopped."""

    def __init__(self, port: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.t0 = t0
        self.stop = threading.Event()
        self.first_answer_s: float | None = None
        self.scrapes = 0
        self.failures = 0
        self.scrape_s: list[float] = []

    def _get(self) -> bool:
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(self.url, timeout=5) as resp:
                resp.read()
        except OSError:
            return False
        self.scrape_s.append(time.perf_counter() - t)
        return True

    def run(self) -> None:
        while not self.stop.is_set() and self.first_answer_s is None:
            if self._get():
                self.first_answer_s = time.perf_counter() - self.t0
                self.scrapes += 1
            else:
                self.stop.wait(0.05)
        while not self.stop.wait(1.0):
            if self._get():
                self.scrapes += 1
            else:
                self.failures += 1


# cProfile with the main thread's CPU clock (``--timer thread``): time waiting (for the CPU on a loaded machine,
# for the model-loading thread) is not counted
THREAD_PROFILE = """
import cProfile, runpy, sys, time
out = sys.argv[1]
sys.argv = ["vitals", *sys.argv[2:]]
profiler = cProfile.Profile(time.thread_time)
profiler.enable()
try:
    runpy.run_module("vitals", run_name="__main__", alter_sys=True)
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def replay(path: Path, extra: list[str], work: Path, profile: Path | None = None,
           timer: str = "wall", *, history: bool = True, stages: Path | None = None) -> dict[str, object]:
    """One replay subprocess, scraped every second; its figures (``stages``: CPU per stage written there)."""
    port = _free_port()
    run_dir = Path(tempfile.mkdtemp(prefix="replay-", dir=work))
    if stages is not None:
        head = [sys.executable, str(STAGE_TIMER), str(stages)]
    elif profile is None:
        head = [sys.executable, "-m", "vitals"]
    elif timer == "thread":
        head = [sys.executable, "-c", THREAD_PROFILE, str(profile)]
    else:
        head = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "vitals"]
    args = [*head, "replay", str(path), *extra, "--no-progress", "--metrics-port", str(port),
            *(["--history-dir", str(run_dir / "history")] if history else [])]
    log = run_dir / "replay.log"
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(args, cwd=run_dir, env=_env(), stdout=out, stderr=subprocess.STDOUT)
        scraper = Scraper(port, t0)
        scraper.start()
        rc = proc.wait()
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    scraper.stop.set()
    scraper.join()
    text = log.read_text()
    if rc != 0:
        raise SystemExit(f"replay failed ({rc}):\n{text[-3000:]}")
    found = SUMMARY.findall(text)
    if not found:
        raise SystemExit(f"no summary line in the replay's output:\n{text[-3000:]}")
    readings = int(found[-1][0].replace(",", ""))
    summary = next(line for line in text.splitlines() if SUMMARY.search(line))
    scrape_s = sorted(scraper.scrape_s)
    return {
        "readings": readings, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        "readings_per_cpu_s": round(readings / cpu) if cpu else None,
        "readings_per_wall_s": round(readings / wall) if wall else None,
        "startup_s": round(scraper.first_answer_s, 3) if scraper.first_answer_s is not None else None,
        "scrapes": scraper.scrapes, "scrape_failures": scraper.failures,
        "scrape_median_s": round(scrape_s[len(scrape_s) // 2], 4) if scrape_s else None,
        "summary": summary.strip(),
    }


def _in(func: tuple[str, int, str], prefix: str) -> bool:
    return prefix in func[0].replace(os.sep, "/")


def shares(prof: Path) -> dict[str, object]:
    """CPU shares of the module prefixes in a cProfile dump (time entering each prefix from outside)."""
    stats = pstats.Stats(str(prof))
    table = stats.stats  # type: ignore[attr-defined]
    total = float(stats.total_tt)  # type: ignore[attr-defined]
    out: dict[str, object] = {"profiled_total_s": round(total, 3)}
    for name, prefix in PREFIXES.items():
        entered = 0.0
        for func, (_cc, _nc, _tt, _ct, callers) in table.items():
            if not _in(func, prefix):
                continue
            for caller, edge in callers.items():
                if not _in(caller, prefix):
                    entered += edge[3]
        out[name] = round(entered / total, 4) if total else None
    update = [ct for func, (_cc, _nc, _tt, ct, _callers) in table.items()
              if _in(func, "vitals/scoring/shard_scorer") and func[2] in ("update", "ShardScorer.update")]
    out["ShardScorer.update"] = round(max(update) / total, 4) if update and total else None
    return out


def print_stages(case: str, doc: dict[str, Any]) -> None:
    """The stage run's table: CPU s, calls and ms per call of every stage, share of the process CPU."""
    process, main = float(doc["process_cpu_s"]), float(doc["main_thread_cpu_s"])
    stages: dict[str, dict[str, float]] = doc["stages"]
    print(f"\n{case}, CPU per stage (thread_time, inclusive: indented stages are inside the one above; "
          f"process {process:.2f} CPU s, main thread {main:.2f})")
    print(f"  {'stage':<46} {'CPU s':>7} {'calls':>7} {'ms/call':>8} {'of process':>10}")
    from stage_timer import ORDER  # nested stages under their caller

    order = [name for name in ORDER if name in stages]
    for name in order:
        cpu, calls = stages[name]["cpu_s"], stages[name]["calls"]
        print(f"  {name:<46} {cpu:>7.2f} {calls:>7} {1e3 * cpu / max(calls, 1):>8.2f} {cpu / process:>10.1%}")
    scoring = stages.get("scoring", {}).get("cpu_s", 0.0)
    print(f"  scoring (scorer.update + scorer.columns + predictions, outermost): {scoring:.2f} CPU s = "
          f"{scoring / process:.1%} of the process CPU, {scoring / main:.1%} of the main thread's")


def _median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run with the median CPU s (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: float(r["cpu_s"]))  # type: ignore[arg-type]
    best = dict(ordered[(len(ordered) - 1) // 2])
    best["cpu_s_runs"] = [r["cpu_s"] for r in runs]
    best["wall_s_runs"] = [r["wall_s"] for r in runs]
    best["startup_s_runs"] = [r["startup_s"] for r in runs]
    return best


def steady_state(short: dict[str, object], long: dict[str, object]) -> dict[str, object] | None:
    """Readings per CPU s of the extra input of the long run, and the fixed CPU s of a run."""
    extra_readings = int(long["readings"]) - int(short["readings"])  # type: ignore[call-overload]
    extra_cpu = float(long["cpu_s"]) - float(short["cpu_s"])  # type: ignore[arg-type]
    extra_wall = float(long["wall_s"]) - float(short["wall_s"])  # type: ignore[arg-type]
    if extra_readings <= 0 or extra_cpu <= 0:
        return None
    steady = extra_readings / extra_cpu
    return {"readings_per_cpu_s": round(steady), "readings_per_wall_s": round(extra_readings / extra_wall)
            if extra_wall > 0 else None,
            "fixed_cpu_s": round(float(short["cpu_s"]) - int(short["readings"]) / steady, 3)}  # type: ignore


def reference(path: Path, repeat: int) -> dict[str, object]:
    """The numpy reference on the same file, ``repeat`` times: the median run's figures and every run's CPU s."""
    from vitals.catalog import load_catalog
    from vitals.config import Settings

    catalog, batch_rows = load_catalog(), Settings().batch_size
    runs = sorted((time_reference(catalog, path, batch_rows) for _ in range(repeat)), key=lambda r: r[1])
    wall, cpu, ref = runs[(len(runs) - 1) // 2]
    readings = ref.accepted + ref.rejected
    print(f"  numpy reference: {readings:,} readings, {ref.accepted:,} accepted, CPU {cpu:.3f} s", flush=True)
    return {"readings": readings, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "readings_per_cpu_s": round(readings / cpu), "cpu_s_runs": [round(r[1], 3) for r in runs],
            "batch_rows": batch_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours of the full city (default 1)")
    parser.add_argument("--long-hours", type=float, default=4.0,
                        help="a second, longer city case for the steady-state figure (default 4; 0: none)")
    parser.add_argument("--no-feed", action="store_true", help="skip the hourly-feed case")
    parser.add_argument("--repeat", type=int, default=1, help="unprofiled runs per case (median shown)")
    parser.add_argument("--skip-profile", action="store_true", help="no second run under cProfile")
    parser.add_argument("--stages", action="store_true",
                        help="one more run per case under benchmarks/stage_timer.py: CPU s per stage "
                             "(thread_time around named functions, no cProfile) and the scoring share")
    parser.add_argument("--timer", choices=("wall", "thread"), default="wall",
                        help="cProfile's clock: wall time (python -m cProfile, the default) or the main thread's "
                             "CPU time (waiting for the CPU or for the model-loading thread not counted)")
    parser.add_argument("--vitals-every", type=float, action="append", default=[], metavar="S",
                        help="one more case: the longest city case with --history-vitals-every S (repeatable)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the numpy reference beside the city cases")
    parser.add_argument("--code", type=Path, default=REPO,
                        help="run the vitals of this checkout (default: the benchmark's own), e.g. main's, to compare "
                             "two versions with the same benchmark back to back")
    opts = parser.parse_args()
    CODE[0] = opts.code.resolve()
    print(f"vitals from {CODE[0]}")
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    results: dict[str, dict[str, object]] = {}
    city_names: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        work = Path(tmp)
        cases: dict[str, tuple[Path, list[str], bool]] = {}
        for hours in dict.fromkeys(h for h in (opts.hours, opts.long_hours) if h > 0):
            city = work / f"city-{hours:g}h.parquet"
            simulate(city, ["--hours", str(hours), "--start", "2025-06-02T00:00:00Z"], work)
            name = f"city {hours:g} h"
            cases[name] = (city, [], True)
            city_names.append(name)
        for every in opts.vitals_every:  # the history's snapshot cadence as a user would set it (docs/history.md)
            city = cases[city_names[-1]][0]
            cases[f"{city_names[-1]}, --history-vitals-every {every:g}"] = (
                city, ["--history-vitals-every", f"{every:g}"], True)
        if not opts.no_feed:
            feed = work / "feed.parquet"
            simulate(feed, ["--catalog", str(SECOND_CITY), "--indicators", "air_no2", "--days", "1500",
                            "--step", "3600", "--start", "2020-01-01T00:00:00Z"], work)
            cases["hourly feed (second_city air_no2, 1500 d)"] = (feed, ["--catalog", str(SECOND_CITY)], True)
            # the price of the history on a sparse feed: a vitals snapshot at every hour of 1500 days per shard
            cases["hourly feed, no --history-dir"] = (feed, ["--catalog", str(SECOND_CITY)], False)
        for name, (path, extra, history) in cases.items():
            print(f"\n{name}: replaying {path.name} ...", flush=True)
            runs = []
            for _ in range(max(1, opts.repeat)):
                runs.append(replay(path, extra, work, history=history))
                print(f"  {runs[-1]['summary']} (CPU {runs[-1]['cpu_s']} s)", flush=True)
            res = _median_run(runs)
            if name in city_names and not opts.no_reference:
                res["reference"] = reference(path, max(1, opts.repeat))
            if opts.stages:
                out = work / f"stages-{len(results)}.json"
                timed = replay(path, extra, work, history=history, stages=out)
                res["stages"] = {"cpu_s": timed["cpu_s"], **json.loads(out.read_text())}
            if not opts.skip_profile:
                prof = work / f"prof-{len(results)}.out"
                profiled = replay(path, extra, work, profile=prof, timer=opts.timer, history=history)
                res["profiled_wall_s"] = profiled["wall_s"]
                res["shares"] = shares(prof)
            results[name] = res
    steady = steady_state(results[city_names[0]], results[city_names[-1]]) if len(city_names) == 2 else None
    load_end = os.getloadavg()
    print(f"\nload average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}\n")
    print(f"{'case':<44} {'readings':>9} {'wall s':>7} {'CPU s':>7} {'rd/CPU s':>9} {'rd/wall s':>9} "
          f"{'startup s':>9} {'scrapes':>7}")
    for name, r in results.items():
        print(f"{name:<44} {r['readings']:>9,} {r['wall_s']:>7.2f} {r['cpu_s']:>7.2f} "
              f"{r['readings_per_cpu_s']:>9,} {r['readings_per_wall_s']:>9,} {r['startup_s']!s:>9} "
              f"{r['scrapes']:>7}")
    refs = {name: r["reference"] for name, r in results.items() if "reference" in r}
    for name, ref in refs.items():
        assert isinstance(ref, dict)
        ratio = float(results[name]["cpu_s"]) / float(ref["cpu_s"])  # type: ignore[arg-type]
        ref["replay_cpu_over_reference"] = round(ratio, 2)
        label = f"  numpy reference ({ref['batch_rows']:,}-row batches)"
        print(f"{label:<44} {ref['readings']:>9,} {ref['wall_s']:>7.2f} {ref['cpu_s']:>7.2f} "
              f"{ref['readings_per_cpu_s']:>9,} {'':>9} {'':>9} {'':>7}   replay / reference CPU: {ratio:.1f}x")
    if steady is not None:
        print(f"\nsteady state ({city_names[-1]} minus {city_names[0]}): {steady['readings_per_cpu_s']:,} readings "
              f"per CPU s, {steady['readings_per_wall_s'] or 0:,} per wall s; fixed cost of a run "
              f"{steady['fixed_cpu_s']} CPU s (startup, loading, final flush: included in every figure above)")
    if opts.stages:
        for name, r in results.items():
            print_stages(name, r["stages"])  # type: ignore[arg-type]
    if not opts.skip_profile:
        keys = ["ShardScorer.update", *PREFIXES]
        print(f"\nshare of profiled CPU (main thread) {'':<8}" + "".join(f"{k:>19}" for k in keys)
              + f"{'profiled s':>11}")
        for name, r in results.items():
            s = r["shares"]
            assert isinstance(s, dict)
            cells = "".join(f"{s[k]:>19.1%}" if s[k] is not None else f"{'-':>19}" for k in keys)
            print(f"{name:<44}{cells}{s['profiled_total_s']:>11.2f}")
    print(json.dumps({"benchmark": "replay", "load_start": [round(x, 2) for x in load],
                      "load_end": [round(x, 2) for x in load_end], "hours": opts.hours,
                      "long_hours": opts.long_hours, "timer": opts.timer, "repeat": opts.repeat,
                      "steady_state": steady, "results": results}))


if __name__ == "__main__":
    main()
