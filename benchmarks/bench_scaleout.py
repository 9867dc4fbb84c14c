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
child (``os.wait4``). On a machine shared with other work the wall speed-up mostly measures the load, so the
*CPU speed-up* is printed too: CPU s of one process / CPU s of the busier of the two, the speed-up two free
cores would give if nothing waited. Per process, the seconds its flow ran (its summary line) are printed next to
its wall: the difference is the part outside the flow (start-up: imports, catalog, set-up; final vitals; exit;
joining the cluster counts in the flow). ``--startup`` also replays the first minute alone (start-up and
shut-down, the fixed cost every process pays). The final vitals of the two processes (``final-p0``, ``final-p1``) are
compared with the one process's, every column but the wall-clock ones.

Prints a table, min and median speed-ups (wall and CPU), and one JSON line. Shared machine: the load average is
printed at start and end; the final figure needs a quiet machine.

    .venv/bin/python benchmarks/bench_scaleout.py [--hours 6] [--repeat 3] [--scoring on|off]
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
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from city_feed import city_readings, write_shard_files

REPO = Path(__file__).resolve().parents[1]
WALL_CLOCK_COLUMNS = ["at", "seconds_since_last"]  # relative to each process's own final clock


def _env(scoring: bool) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
            "VITALS_SCORING": "1" if scoring else "0", "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(usage: object) -> float:
    return float(usage.ru_utime + usage.ru_stime)  # type: ignore[attr-defined]


def run(data: Path, out: Path, processes: int, scoring: bool) -> dict[str, object]:
    """One replay of ``data`` on ``processes`` processes; wall, CPU per process."""
    out.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "vitals", "replay", str(data), "--final-vitals", str(out / "final.parquet"),
            "--dead-letters", str(out / "dead.jsonl"), "--metrics-port", "0", "--no-progress"]
    cluster = []
    if processes > 1:
        addresses = ";".join(f"127.0.0.1:{_free_port()}" for _ in range(processes))
        cluster = [["-i", str(i), "-a", addresses] for i in range(processes)]
    t0 = time.perf_counter()
    procs = []
    for i in range(processes):
        log = (out / f"log-{i}.txt").open("wb")
        procs.append(subprocess.Popen([*base, *(cluster[i] if cluster else [])], cwd=out, env=_env(scoring),
                                      stdout=log, stderr=subprocess.STDOUT))
    cpu, ended = [0.0] * processes, [0.0] * processes
    pending = {p.pid: i for i, p in enumerate(procs)}
    while pending:
        pid, status, usage = os.wait4(-1, 0)
        if pid not in pending:
            continue
        i = pending.pop(pid)
        procs[i].returncode = os.waitstatus_to_exitcode(status)
        cpu[i], ended[i] = _cpu(usage), time.perf_counter() - t0
        if procs[i].returncode != 0:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            msg = f"process {i} failed ({procs[i].returncode}):\n{(out / f'log-{i}.txt').read_text()[-3000:]}"
            raise SystemExit(msg)
    flow = [_flow_seconds(out / f"log-{i}.txt") for i in range(processes)]
    return {"processes": processes, "wall_s": round(max(ended), 3), "cpu_s": round(sum(cpu), 3),
            "cpu_per_process_s": [round(c, 3) for c in cpu], "wall_per_process_s": [round(e, 3) for e in ended],
            "flow_per_process_s": flow,
            "outside_flow_per_process_s": [round(e - f, 3) for e, f in zip(ended, flow, strict=True)]}


def _flow_seconds(log: Path) -> float:
    """The seconds the process's flow ran (its summary line ``N readings in S s``: from joining the cluster, after
    imports and set-up, to the end of the input); the rest of the process's wall is start-up and exit."""
    found = re.search(r"readings in ([0-9.]+)s", log.read_text(errors="replace"))
    return float(found.group(1)) if found else float("nan")


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
    opts = parser.parse_args()
    scoring = opts.scoring == "on"
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    runs: dict[int, list[dict[str, object]]] = {1: [], 2: []}
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
        for r in range(opts.repeat):
            for procs in (1, 2):
                out = work / f"run-{procs}-{r}"
                res = run(work / "data", out, procs, scoring)
                runs[procs].append(res)
                print(f"repeat {r}, {procs} process(es): wall {res['wall_s']:.2f} s, CPU {res['cpu_s']:.2f} s "
                      f"{res['cpu_per_process_s']}, per-process wall {res['wall_per_process_s']} (flow "
                      f"{res['flow_per_process_s']}, outside the flow {res['outside_flow_per_process_s']})", flush=True)
            one, two = final_vitals(work / f"run-1-{r}", 1), final_vitals(work / f"run-2-{r}", 2)
            try:
                pd.testing.assert_frame_equal(one, two, check_exact=True)
                identical.append(True)
            except AssertionError as exc:
                identical.append(False)
                print(f"  final vitals differ: {str(exc)[:500]}")
    load_end = os.getloadavg()
    n = len(readings)

    def stats(key: str, procs: int) -> tuple[float, float]:
        values = [float(r[key]) for r in runs[procs]]  # type: ignore[arg-type]
        return min(values), statistics.median(values)

    print(f"\nload average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(f"{'':<14} {'wall s min/med':>16} {'CPU s min/med':>16} {'readings/s wall (med)':>22} "
          f"{'readings/CPU s (med)':>21}")
    for procs in (1, 2):
        (wmin, wmed), (cmin, cmed) = stats("wall_s", procs), stats("cpu_s", procs)
        print(f"{procs} process(es) {wmin:>8.2f}/{wmed:<7.2f} {cmin:>8.2f}/{cmed:<7.2f} {n / wmed:>22,.0f} "
              f"{n / cmed:>21,.0f}")
    walls = [float(a["wall_s"]) / float(b["wall_s"]) for a, b in zip(runs[1], runs[2], strict=True)]  # type: ignore[arg-type]
    cpus = [float(a["cpu_s"]) / float(b["cpu_s"]) for a, b in zip(runs[1], runs[2], strict=True)]  # type: ignore[arg-type]
    speedup_wall = stats("wall_s", 1)[1] / stats("wall_s", 2)[1]
    print(f"speed-up of 2 processes (median wall 1 / median wall 2): {speedup_wall:.2f}x; per repeat "
          f"{', '.join(f'{w:.2f}x' for w in walls)} (target >= 1.7x)")
    print(f"CPU of 2 processes / CPU of 1 (per repeat): {', '.join(f'{1 / c:.2f}' for c in cpus)}")
    critical = [float(a["cpu_s"]) / max(b["cpu_per_process_s"])  # type: ignore[arg-type]
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
