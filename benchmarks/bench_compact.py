"""History compaction (``vitals history compact``) on a history the flow wrote: files, bytes and the readers, before
and after (docs/history.md, "Compaction").

1. ``vitals simulate --hours H --start 2025-06-02T00:00:00Z`` of the model city, replayed by ``vitals replay`` with
   its defaults and ``--history-dir`` into a temp dir: the flow's own files;
2. the readers, each a fresh subprocess: ``read_readings`` and ``read_vitals`` of the first day (wall, CPU and peak
   RSS of the read call, measured in the child before it sorts the frame for the check), ``vitals checkup`` of the
   first day (wall, CPU, peak RSS of the process from ``os.wait4``; its JSON kept);
3. ``vitals history compact DIR --keep-days 0`` (the same figures);
4. the readers again; the frames must be equal (sorted the same way) and the check-up's JSON identical, or the
   benchmark fails.

The page cache is dropped before each timed step when run as root (``/proc/sys/vm/drop_caches``), else the reads
are warm and the table says so. Each reader runs ``--repeat`` times (default 3: this host's noise makes one run of
a few seconds vary 2-3x); the table shows the run of least CPU, the JSON every run's CPU. Prints a table and ends
with one line of JSON.

    .venv/bin/python benchmarks/bench_compact.py [--hours 24] [--streets N] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAY = "2025-06-02"
READ = ("import json, pickle, resource, sys, time; from vitals.history import read_{kind}; "
        "w, c = time.perf_counter(), time.process_time(); f = read_{kind}(sys.argv[1], '{day}'); "
        "print(json.dumps({{'wall_s': round(time.perf_counter() - w, 2), 'cpu_s': round(time.process_time() - c, 2), "
        "'rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}})); keys = {keys!r}; "
        "f = f.sort_values(keys, kind='stable').reset_index(drop=True)[sorted(f.columns)]; "
        "pickle.dump(f, open(sys.argv[2], 'wb'))")
KEYS = {"readings": ["indicator", "area", "ts", "value"], "vitals": ["at", "indicator", "area", "ewma"]}


def drop_caches() -> bool:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def timed(args: list[str], cwd: Path) -> dict[str, float]:
    """Run ``args``; wall s, CPU s (user + sys) and peak RSS (MB) of that child alone."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"{' '.join(args)} failed: {err.decode(errors='replace')[-2000:]}")
    return {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "rss_mb": round(usage.ru_maxrss / 1024)}


def files_and_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*.parquet") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def readers(history: Path, work: Path, tag: str, cold: bool, repeat: int) -> dict[str, dict[str, Any]]:
    """Each reader ``repeat`` times; the run of least CPU (the host's noise only adds), with every run's CPU s."""
    runs: dict[str, list[dict[str, float]]] = {}
    for r in range(repeat):
        for kind in ("readings", "vitals"):
            if cold:
                drop_caches()
            code = READ.format(kind=kind, day=DAY, keys=KEYS[kind])
            dump = work / (f"{kind}-{tag}.pkl" if r == 0 else "again.pkl")
            run = subprocess.run([sys.executable, "-c", code, str(history), str(dump)], cwd=work,
                                 env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                                 check=True)
            runs.setdefault(f"read_{kind}", []).append(json.loads(run.stdout.splitlines()[0]))  # the read alone
        if cold:
            drop_caches()
        runs.setdefault("checkup", []).append(timed(
            [sys.executable, "-m", "vitals", "checkup", "--history", str(history), "--from", DAY, "--to", DAY,
             "--json", str(work / f"checkup-{tag}.json")], work))
    (work / "again.pkl").unlink(missing_ok=True)
    return {step: {**min(done, key=lambda d: d["cpu_s"]), "cpu_s_runs": [d["cpu_s"] for d in done]}
            for step, done in runs.items()}


def same(work: Path) -> None:
    import pandas as pd

    for kind in ("readings", "vitals"):
        a, b = (pd.read_pickle(work / f"{kind}-{tag}.pkl") for tag in ("before", "after"))
        pd.testing.assert_frame_equal(a, b, check_categorical=False)
    if (work / "checkup-before.json").read_bytes() != (work / "checkup-after.json").read_bytes():
        sys.exit("the check-up's JSON differs after compaction")


def _cell(run: dict[str, Any]) -> str:
    return f"{run['wall_s']} / {run['cpu_s']}, {run['rss_mb']:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of the city (default 24)")
    parser.add_argument("--streets", type=int, default=None, help="streets (default: the full city, 1,031)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each reader; the one of least CPU is shown (default 3)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temp dir, removed)")
    opts = parser.parse_args()
    work = Path(opts.keep or tempfile.mkdtemp(prefix="bench-compact-"))
    work.mkdir(parents=True, exist_ok=True)
    streets = [] if opts.streets is None else ["--streets", str(opts.streets)]
    vitals = [sys.executable, "-m", "vitals"]
    subprocess.run([*vitals, "simulate", "--hours", str(opts.hours), "--start", f"{DAY}T00:00:00Z", "--out",
                    str(work / "city.parquet"), "--no-progress", *streets], check=True, cwd=work,
                   env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = work / "history"
    replay = timed([*vitals, "replay", str(work / "city.parquet"), "--history-dir", str(history), "--no-progress",
                    "--metrics-port", "0", *streets], work)
    cold = drop_caches()
    before_files = {kind: files_and_bytes(history / kind) for kind in ("readings", "vitals")}
    before = readers(history, work, "before", cold, opts.repeat)
    if cold:
        drop_caches()
    compaction = timed([*vitals, "history", "compact", str(history), "--keep-days", "0", "--no-progress"], work)
    after_files = {kind: files_and_bytes(history / kind) for kind in ("readings", "vitals")}
    after = readers(history, work, "after", cold, opts.repeat)
    same(work)

    print(f"{opts.hours:g} city hours, {'caches dropped before each step' if cold else 'warm caches (not root)'}; "
          f"the replay that wrote them: {replay['wall_s']} s wall, {replay['cpu_s']} CPU s")
    print(f"{'':28} {'before':>30} {'after':>30}")
    for kind in ("readings", "vitals"):
        (nb, bb), (na, ba) = before_files[kind], after_files[kind]
        print(f"{kind + ' files, MB':28} {f'{nb:,}, {bb / 1e6:,.1f}':>30} {f'{na:,}, {ba / 1e6:,.1f}':>30}")
    for step in before:
        print(f"{step + ' wall/CPU s, MB':28} {_cell(before[step]):>30} {_cell(after[step]):>30}")
    print(f"{'compact wall/CPU s, MB':28} {'':>30} {_cell(compaction):>30}")
    print("the same frames and check-up JSON before and after")
    doc: dict[str, Any] = {"benchmark": "compact", "hours": opts.hours, "cold": cold, "replay": replay,
                           "files_before": before_files, "files_after": after_files, "before": before,
                           "after": after, "compact": compaction}
    print(json.dumps(doc))
    if not opts.keep:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()
