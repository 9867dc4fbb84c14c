"""What ``vitals checkup`` costs on a history of the full model city: wall, CPU and peak RSS of the command a user
types, on a history this benchmark writes with the commands a user types.

1. ``vitals simulate --hours H --start 2025-06-02T00:00:00Z --out city.parquet`` (the full city, ~500k readings an
   hour; ``--hours`` default 24);
2. ``vitals replay city.parquet --history-dir HISTORY --metrics-port 0 --no-progress`` (defaults: scoring on,
   5-minute vitals snapshots; ``--vitals-every S`` for another cadence);
3. ``vitals checkup --history HISTORY --from D1 --to D2 --json OUT`` for the local days the history covers (the
   previous period of equal length is read too: empty here), ``--repeat`` times, each a fresh subprocess measured
   with ``os.wait4`` (user + sys CPU, peak RSS of the child).

Prints the history's size (files, snapshot rows from the Parquet footers, bytes), each check-up run and one JSON
line. ``--history DIR`` skips steps 1-2 and checks up an existing history (``--from``/``--to`` then needed).
Reference figures (docs/checkup.md): a week of the city, 58 M snapshot rows, 54 s and 2.8 GB.

    .venv/bin/python benchmarks/bench_checkup.py [--hours 24] [--repeat 1] [--vitals-every 300] [--keep DIR]
    .venv/bin/python benchmarks/bench_checkup.py --history var/history --from 2025-06-02 --to 2025-06-08
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

START = "2025-06-02T00:00:00Z"
CITY_UTC_OFFSET_H = 8  # the model city (Chongqing): local days start at 16:00 UTC the day before


def vitals(*args: str) -> list[str]:
    return [sys.executable, "-m", "vitals", *args]


def run(command: list[str]) -> dict[str, float]:
    """One subprocess: wall seconds, CPU seconds (user + sys) and peak RSS (MB) of the child."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command[2:])} failed:\n{err}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "sys_s": round(usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def history_size(root: Path) -> dict[str, float]:
    files = sorted((root / "vitals").rglob("*.parquet"))
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    return {"vitals_files": len(files), "snapshot_rows": rows,
            "vitals_mb": round(sum(f.stat().st_size for f in files) / 1e6, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="hours of the city to simulate (default 24)")
    parser.add_argument("--vitals-every", type=int, default=300, help="snapshot cadence of the history (s)")
    parser.add_argument("--repeat", type=int, default=1, help="check-up runs (default 1)")
    parser.add_argument("--history", type=Path, help="check up this existing history instead")
    parser.add_argument("--from", dest="start", help="first local day (with --history)")
    parser.add_argument("--to", dest="end", help="last local day (with --history)")
    parser.add_argument("--keep", type=Path, help="write the simulated history here and keep it")
    args = parser.parse_args()
    if args.history and not (args.start and args.end):
        parser.error("--history needs --from and --to")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out: dict[str, object] = {"benchmark": "checkup", "load_start": round(os.getloadavg()[0], 2)}
        if args.history:
            history, start, end = args.history, args.start, args.end
        else:
            history = args.keep or work / "history"
            city = work / "city.parquet"
            print(f"simulating {args.hours:g} h of the city, replaying it into {history} ...", flush=True)
            run(vitals("simulate", "--hours", f"{args.hours:g}", "--start", START, "--out", str(city),
                       "--no-progress"))
            out["replay"] = run(vitals("replay", str(city), "--history-dir", str(history), "--metrics-port", "0",
                                       "--no-progress", "--history-vitals-every", str(args.vitals_every),
                                       "--dead-letters", str(work / "dead.jsonl")))
            first = datetime.fromisoformat(START) + timedelta(hours=CITY_UTC_OFFSET_H)
            last = first + timedelta(hours=args.hours) - timedelta(seconds=1)
            start, end = first.date().isoformat(), last.date().isoformat()  # local days (UTC+8)
        out.update(history_size(history))
        out["from"], out["to"] = start, end
        print(f"history: {out['vitals_files']:,} vitals files, {out['snapshot_rows']:,} snapshot rows, "
              f"{out['vitals_mb']:,} MB; check-up of {start} .. {end}")
        runs = []
        for k in range(args.repeat):
            r = run(vitals("checkup", "--history", str(history), "--from", start, "--to", end, "--json",
                           str(work / f"checkup-{k}.json")))
            runs.append(r)
            print(f"  run {k + 1}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} CPU s ({r['sys_s']:.1f} system), "
                  f"peak RSS {r['peak_rss_mb']:,} MB", flush=True)
        out["checkup"] = runs
        out["load_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
