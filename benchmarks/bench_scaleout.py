"""Scale-out on one machine (issue 10, item 2): ``vitals replay`` of per-shard Parquet files in one process and
in a two-process cluster (``-i 0/1 -a ...``), in one go, with identical final vitals.

The input is ``--hours`` of the full simulated city (28,868 series, ~500k readings an hour, the simulator's
faults included) written as four Parquet files, ``shard-<k>.parquet`` holding the series of shard k (series id
% 4): the source partitioning lines up with the series sharding. The file source deals file k to partition
``file-k``; Bytewax deals partition rank k to worker k % W and the flow routes shard k to worker k % W
(``pipelines/routing.py``), so with 2 processes each reads two files and holds the same two shards: no reading
crosses a process.

Each run is a fresh subprocess (``python -m vitals replay DIR --final-vitals F --metrics-port 0 --no-progress``,
defaults otherwise: scoring on unless ``--scoring off``, 4 shards, 4 partitions); one and two processes
alternate ``--repeat`` times. Wall = from spawning to the last process's exit; CPU s = user + system of each
child (``os.wait4``, which also gives each child's minor page faults, printed per run; not its peak RSS: a child
forked from this process, which holds the readings, reports this process's RSS at fork when that is larger; peak
RSS is for ``/usr/bin/time -f %M`` around a plain ``vitals replay``).
On a machine shared with other work the wall speed-up mostly measures the load, so the
*CPU speed-up* is printed too: CPU s of one process / CPU s of the busier of the two, the speed-up two free
cores would give if nothing waited. Per process, the seconds its flow ran (its summary line) are printed next to
its wall: the difference is the part outside the flow (start-up: imports, catalog, set-up; final vitals; exit;
joining the cluster counts in the flow). ``--startup`` also replays the first minute alone (start-up and
shut-down, the fixed cost every process pays). The final vitals of the two processes (``final-p0``, ``final-p1``) are
compared with the one process's, every column but the wall-clock ones.

Where the second process's CPU goes: ``--threads`` looks at every process's threads every 50 ms
(``/proc/PID/task/*/stat``: in a cluster Bytewax runs the flow in ``timely:work-0`` and its main thread polls for
signals; ``timely:send-*``/``recv-*`` carry Timely's progress messages); ``--stages`` runs every process under
``stage_timer.py`` (CPU s per stage, 1 process against the sum of 2); ``--independent`` also replays each half of
the data (files 0+2, 1+3) in its own single process, no cluster, one after the other and then both at once: the
split without Timely, and what two busy cores give. Each prints a table summed over a run's processes.

Prints a table, min and median speed-ups (wall and CPU), and one JSON line. Shared machine: the load average is
printed at start and end; the final figure needs a quiet machine.

    .venv/bin/python benchmarks/bench_scaleout.py [--hours 6] [--repeat 3] [--scoring on|off] [--startup]
        [--threads] [--stages] [--independent]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from city_feed import city_readings, write_shard_files

REPO = Path(__file__).resolve().parents[1]
STAGE_TIMER = Path(__file__).resolve().parent / "stage_timer.py"
TICKS = os.sysconf("SC_CLK_TCK")
WALL_CLOCK_COLUMNS = ["at", "seconds_since_last"]  # relative to each process's own final clock


def _env(scoring: bool) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
            "VITALS_SCORING": "1" if scoring else "0", "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def thread_cpu(pid: int, seen: dict[int, tuple[str, float]]) -> None:
    """Add to ``seen`` (tid -> (thread name, CPU s)) the user + system CPU of each thread of ``pid`` so far
    (``/proc/PID/task/*/stat``; a thread that ends between two looks keeps its last figure)."""
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        seen[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)


def by_name(seen: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU s per thread name (threads of one name summed)."""
    out: dict[str, float] = {}
    for name, cpu in seen.values():
        out[name] = round(out.get(name, 0.0) + cpu, 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def run(data: Path | list[Path], out: Path, processes: int, scoring: bool, *, stages: bool = False,
        threads: bool = False) -> dict[str, Any]:
    """One replay of ``data`` on ``processes`` processes (a list of directories: that many independent
    single-process replays at once, no cluster); wall, CPU per process (``stages``: under stage_timer.py, CPU per
    stage in ``stages-<i>.json``; ``threads``: CPU per thread, looked at every 50 ms)."""
    out.mkdir(parents=True, exist_ok=True)
    dirs = data if isinstance(data, list) else [data] * processes
    independent = isinstance(data, list)

    def command(i: int) -> list[str]:
        head = ([sys.executable, str(STAGE_TIMER), str(out / f"stages-{i}.json")] if stages
                else [sys.executable, "-m", "vitals"])
        final = f"final-p{i}.parquet" if independent else "final.parquet"
        return [*head, "replay", str(dirs[i]), "--final-vitals", str(out / final),
                "--dead-letters", str(out / f"dead-{i}.jsonl"), "--metrics-port", "0", "--no-progress"]

    cluster = []
    if processes > 1 and not independent:
        addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(processes))
        cluster = [["-i", str(i), "-a", addresses] for i in range(processes)]
    t0 = time.perf_counter()
    procs = []
    for i in range(processes):
        log = (out / f"log-{i}.txt").open("wb")
        procs.append(subprocess.Popen([*command(i), *(cluster[i] if cluster else [])], cwd=out,
                                      env=_env(scoring), stdout=log, stderr=subprocess.STDOUT))
    cpu, ended = [0.0] * processes, [0.0] * processes
    faults = [0] * processes
    pending = {p.pid: i for i, p in enumerate(procs)}
    seen: list[dict[int, tuple[str, float]]] = [{} for _ in procs]
    while pending:
        if threads:
            for pid, i in pending.items():
                thread_cpu(pid, seen[i])
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.05)
                continue
        else:
            pid, status, usage = os.wait4(-1, 0)
        if pid not in pending:
            continue
        i = pending.pop(pid)
        procs[i].returncode = os.waitstatus_to_exitcode(status)
        cpu[i], ended[i] = _cpu(usage), time.perf_counter() - t0
        faults[i] = int(usage.ru_minflt)
        if procs[i].returncode != 0:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            msg = f"process {i} failed ({procs[i].returncode}):\n{(out / f'log-{i}.txt').read_text()[-3000:]}"
            raise SystemExit(msg)
    flow = [_flow_seconds(out / f"log-{i}.txt") for i in range(processes)]
    more: dict[str, Any] = {}
    if threads:
        more["threads_cpu_s"] = [by_name(s) for s in seen]
    if stages:
        more["stages"] = [json.loads((out / f"stages-{i}.json").read_text()) for i in range(processes)]
    return {**more, "processes": processes, "wall_s": round(max(ended), 3), "cpu_s": round(sum(cpu), 3),
            "cpu_per_process_s": [round(c, 3) for c in cpu], "wall_per_process_s": [round(e, 3) for e in ended],
            "flow_per_process_s": flow,
            "outside_flow_per_process_s": [round(e - f, 3) for e, f in zip(ended, flow, strict=True)],
            "minor_faults_per_process": faults}


def _flow_seconds(log: Path) -> float:
    """The seconds the process's flow ran (its summary line ``N readings in S s``: from joining the cluster, after
    imports and set-up, to the end of the input); the rest of the process's wall is start-up and exit."""
    found = re.search(r"readings in ([0-9.]+)s", log.read_text(errors="replace"))
    return float(found.group(1)) if found else float("nan")


def _print_run(what: str, res: dict[str, Any]) -> None:
    print(f"{what}: wall {res['wall_s']:.2f} s, CPU {res['cpu_s']:.2f} s {res['cpu_per_process_s']}, per-process "
          f"wall {res['wall_per_process_s']} (flow {res['flow_per_process_s']}, outside the flow "
          f"{res['outside_flow_per_process_s']}), minor faults {res.get('minor_faults_per_process')}", flush=True)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _median_sums(cases: dict[str, list[dict[str, Any]]],
                 per_process: Callable[[dict[str, Any]], list[Iterable[tuple[str, float]]]],
                 ) -> dict[str, dict[str, float]]:
    """Per case: each name's CPU s summed over a run's processes (``per_process(run)``: (name, CPU s) pairs of each
    process), then the median over the case's repeats."""
    sums: dict[str, dict[str, float]] = {}
    for case, results in cases.items():
        per_repeat: dict[str, list[float]] = {}
        for res in results:
            total: dict[str, float] = {}
            for pairs in per_process(res):
                for name, cpu in pairs:
                    total[name] = total.get(name, 0.0) + cpu
            for name, cpu in total.items():
                per_repeat.setdefault(name, []).append(cpu)
        sums[case] = {name: _median(v) for name, v in per_repeat.items()}
    return sums


def print_threads(cases: dict[str, list[dict[str, Any]]]) -> None:
    """CPU s per thread name, summed over a run's processes (median over repeats), for each case."""
    sums = _median_sums(cases, lambda res: [proc.items() for proc in res["threads_cpu_s"]])
    names = sorted({n for s in sums.values() for n in s}, key=lambda n: -max(s.get(n, 0.0) for s in sums.values()))
    print("\nCPU s per thread, summed over the processes of a run (median of the repeats)")
    print(f"  {'thread':<20}" + "".join(f"{c:>20}" for c in sums))
    for name in names:
        print(f"  {name:<20}" + "".join(f"{s.get(name, 0.0):>20.2f}" for s in sums.values()))


def print_stages(cases: dict[str, list[dict[str, Any]]]) -> None:
    """CPU s per stage (stage_timer.py), summed over a run's processes (median over repeats), for each case."""
    from stage_timer import ORDER

    def per_process(res: dict[str, Any]) -> list[Iterable[tuple[str, float]]]:
        return [[*((name, float(f["cpu_s"])) for name, f in doc["stages"].items()),
                 ("process (all threads)", float(doc["process_cpu_s"])),
                 ("main thread", float(doc["main_thread_cpu_s"]))] for doc in res["stages"]]

    sums = _median_sums(cases, per_process)
    order = ["process (all threads)", "main thread", "scoring", *ORDER]
    print("\nCPU s per stage (stage_timer.py, inclusive), summed over the processes of a run (median of the repeats)")
    print(f"  {'stage':<46}" + "".join(f"{c:>18}" for c in sums))
    for name in order:
        if any(name in s for s in sums.values()):
            print(f"  {name:<46}" + "".join(f"{s.get(name, float('nan')):>18.2f}" for s in sums.values()))


def final_vitals(out: Path, processes: int) -> pd.DataFrame:
    names = ["final.parquet"] if processes == 1 else [f"final-p{i}.parquet" for i in range(processes)]
    frame = pd.concat([pd.read_parquet(out / n) for n in names], ignore_index=True)
    return frame.drop(columns=WALL_CLOCK_COLUMNS).sort_values("series").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6.0, help="simulated hours of the full city (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3), alternating")
    parser.add_argument("--scoring", choices=("on", "off"), default="on", help="VITALS_SCORING (default on)")
    parser.add_argument("--startup", action="store_true",
                        help="also measure a replay of a one-row file (start-up and shut-down alone)")
    parser.add_argument("--stages", action="store_true",
                        help="run every process under benchmarks/stage_timer.py: CPU s per stage, 1 vs sum of 2")
    parser.add_argument("--threads", action="store_true",
                        help="CPU s per thread of every process (/proc/PID/task/*/stat, looked at every 50 ms)")
    parser.add_argument("--independent", action="store_true",
                        help="per repeat also replay each half of the data (files 0+2, 1+3) in its own process, "
                             "no cluster: one after the other, then both at once (what two cores give alone)")
    opts = parser.parse_args()
    scoring = opts.scoring == "on"
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    identical: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        readings = city_readings(opts.hours)
        files = write_shard_files(readings, work / "data")
        print(f"{len(readings):,} readings of the full city ({opts.hours:g} h) in {len(files)} per-shard files "
              f"({time.perf_counter() - t:.1f} s); scoring {opts.scoring}", flush=True)
        if opts.startup:
            write_shard_files(readings.rows(readings.ts_ns == readings.ts_ns[0]), work / "tiny")
            for procs in (1, 2):
                res = run(work / "tiny", work / f"tiny-{procs}", procs, scoring)
                print(f"start-up and shut-down alone (first minute), {procs} process(es): {res}", flush=True)
                runs.setdefault(-procs, []).append(res)
        halves = []
        if opts.independent:
            for h, ks in enumerate(((0, 2), (1, 3))):
                half = work / f"half-{h}"
                half.mkdir()
                for k in ks:
                    (half / f"shard-{k}.parquet").symlink_to(work / "data" / f"shard-{k}.parquet")
                halves.append(half)
        extra: dict[str, list[dict[str, Any]]] = {"alone": [], "together": []}
        for r in range(opts.repeat):
            for procs in (1, 2):
                out = work / f"run-{procs}-{r}"
                res = run(work / "data", out, procs, scoring, stages=opts.stages, threads=opts.threads)
                runs[procs].append(res)
                _print_run(f"repeat {r}, {procs} process(es)", res)
            if halves:
                alone = [run([half], work / f"alone-{h}-{r}", 1, scoring, stages=opts.stages, threads=opts.threads)
                         for h, half in enumerate(halves)]
                merged = {key: [a[key][0] for a in alone] for key in alone[0] if isinstance(alone[0][key], list)}
                res = {**merged, "processes": 2, "wall_s": round(max(float(a["wall_s"]) for a in alone), 3),
                       "cpu_s": round(sum(float(a["cpu_s"]) for a in alone), 3)}
                extra["alone"].append(res)
                _print_run(f"repeat {r}, each half alone, one after the other", res)
                res = run(halves, work / f"together-{r}", 2, scoring, stages=opts.stages, threads=opts.threads)
                extra["together"].append(res)
                _print_run(f"repeat {r}, both halves at once, independent processes", res)
            one, two = final_vitals(work / f"run-1-{r}", 1), final_vitals(work / f"run-2-{r}", 2)
            try:
                pd.testing.assert_frame_equal(one, two, check_exact=True)
                identical.append(True)
            except AssertionError as exc:
                identical.append(False)
                print(f"  final vitals differ: {str(exc)[:500]}")
    load_end = os.getloadavg()
    n = len(readings)
    cases = {"1 process": runs[1], "2 processes": runs[2], **{f"halves {k}": v for k, v in extra.items() if v}}
    if opts.threads:
        print_threads(cases)
    if opts.stages:
        print_stages(cases)

    def stats(key: str, procs: int) -> tuple[float, float]:
        values = [float(r[key]) for r in runs[procs]]
        return min(values), statistics.median(values)

    print(f"\nload average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(f"{'':<14} {'wall s min/med':>16} {'CPU s min/med':>16} {'readings/s wall (med)':>22} "
          f"{'readings/CPU s (med)':>21}")
    for procs in (1, 2):
        (wmin, wmed), (cmin, cmed) = stats("wall_s", procs), stats("cpu_s", procs)
        print(f"{procs} process(es) {wmin:>8.2f}/{wmed:<7.2f} {cmin:>8.2f}/{cmed:<7.2f} {n / wmed:>22,.0f} "
              f"{n / cmed:>21,.0f}")
    walls = [float(a["wall_s"]) / float(b["wall_s"]) for a, b in zip(runs[1], runs[2], strict=True)]
    cpus = [float(a["cpu_s"]) / float(b["cpu_s"]) for a, b in zip(runs[1], runs[2], strict=True)]
    speedup_wall = stats("wall_s", 1)[1] / stats("wall_s", 2)[1]
    print(f"speed-up of 2 processes (median wall 1 / median wall 2): {speedup_wall:.2f}x; per repeat "
          f"{', '.join(f'{w:.2f}x' for w in walls)} (target >= 1.7x)")
    print(f"CPU of 2 processes / CPU of 1 (per repeat): {', '.join(f'{1 / c:.2f}' for c in cpus)}")
    critical = [float(a["cpu_s"]) / max(b["cpu_per_process_s"])
                for a, b in zip(runs[1], runs[2], strict=True)]
    print(f"CPU speed-up (CPU s of 1 / CPU s of the busier of 2, per repeat): "
          f"{', '.join(f'{c:.2f}x' for c in critical)}")
    print(f"final vitals identical (every column but {WALL_CLOCK_COLUMNS}): {identical}")
    print("a shared machine: repeat on a quiet machine for the final figure")
    print(json.dumps({"benchmark": "scaleout", "readings": n, "hours": opts.hours, "scoring": scoring,
                      "load_start": [round(x, 2) for x in load], "load_end": [round(x, 2) for x in load_end],
                      "speedup_wall_median": round(speedup_wall, 3), "speedup_wall_per_repeat":
                      [round(w, 3) for w in walls], "cpu_ratio_per_repeat": [round(1 / c, 3) for c in cpus],
                      "cpu_speedup_per_repeat": [round(c, 3) for c in critical],
                      "identical": identical, "runs": {str(k): v for k, v in runs.items()}}))


if __name__ == "__main__":
    main()
