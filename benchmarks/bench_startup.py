"""Start-up cost of the command line and the pipeline (issue 10): what a process spends before it does its job.

Each figure is the median of ``--repeat`` fresh subprocesses (wall seconds, and CPU seconds of the child):
- ``vitals --help`` and ``vitals models list`` (goal: < 1 s);
- ``vitals run`` on the simulated city (live, speed 60, full scale; building the 30-day city costs ~0.6 s) and
  on a small readings file (paced, speed 60, blocks of 10 readings): seconds from the process start until its
  /metrics first counts a reading (``vitals_readings_in_total`` > 0; goal: < 2 s), with scoring off and on; with
  scoring on also until it first serves a scored view (``vitals_expected_value``; the scoring stack and the
  promoted models load in the background meanwhile);
- the heaviest imports of ``import pipelines.run`` (``python -X importtime``), and whether scikit-learn,
  scipy, pandas, matplotlib, numba or skops are among them (they should not be).

On a shared machine wall times grow with the load average (printed). Ends with one JSON line.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--repo DIR]   # DIR: another checkout, e.g. main
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "numba", "skops")


def _cpu_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def timed(args: list[str], repo: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one subprocess run to its end."""
    cpu0, t0 = _cpu_of_children(), time.perf_counter()
    subprocess.run(args, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, _cpu_of_children() - cpu0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return ""


def readings_file(path: Path) -> Path:
    """An hour of one reading a minute of one street (paced at speed 60, the replay lasts a minute)."""
    start = int(time.time()) // 3600 * 3600 - 7200
    lines = [json.dumps({"ts": start + 60 * i, "indicator": "water_pressure", "area": "yuzhong_s001", "value": 0.3})
             for i in range(60)]
    path.write_text("\n".join(lines) + "\n")
    return path


def first_reading(repo: Path, scoring: bool, source: list[str], deadline_s: float = 120.0) -> dict[str, float]:
    """Seconds from the start of ``vitals run`` until /metrics counts a reading (and serves a scored view)."""
    port = _free_port()
    env = {**os.environ, "VITALS_SCORING": "1" if scoring else "0"}
    args = [sys.executable, "-m", "vitals", "run", *source, "--metrics-port", str(port), "--dead-letters", os.devnull]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict[str, float] = {}
    try:
        while time.perf_counter() - t0 < deadline_s and proc.poll() is None:
            text = _metrics(port)
            if "reading" not in out and re.search(r"^vitals_readings_in_total\{[^}]*\} [1-9]", text, re.M):
                out["reading"] = time.perf_counter() - t0
            if "reading" in out and (not scoring or re.search(r"^vitals_expected_value\{", text, re.M)):
                if scoring:
                    out["score"] = time.perf_counter() - t0
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def heaviest_imports(repo: Path, top: int = 8) -> list[tuple[str, float]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pipelines.run"], cwd=repo,
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].strip(), int(parts[1]) / 1e6))
    modules = {name for name, _ in rows}
    heavy = sorted(h for h in HEAVY if h in modules)
    print(f"heavy libraries imported by `import pipelines.run`: {', '.join(heavy) or 'none'}")
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    opts = parser.parse_args()
    repo = opts.repo.resolve()
    vitals = [sys.executable, "-m", "vitals"]
    print(f"{repo}: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    result: dict[str, object] = {}
    for name, args in (("help", [*vitals, "--help"]), ("models_list", [*vitals, "models", "list"])):
        runs = [timed(args, repo) for _ in range(opts.repeat)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"vitals {name.replace('_', ' ')}: {wall:.2f} s wall, {cpu:.2f} CPU s")
        result[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"simulator": [], "file": ["--source", "file", "--batch-size", "1",
                                    "--path", str(readings_file(Path(tmp) / "r.jsonl"))]}
        for (name, source), scoring in itertools.product(sources.items(), (False, True)):
            reads = [first_reading(repo, scoring, source) for _ in range(opts.repeat)]
            med = {k: statistics.median(r[k] for r in reads if k in r) for k in ("reading", "score") if
                   any(k in r for r in reads)}
            label = f"{name}, scoring {'on' if scoring else 'off'}"
            print(f"vitals run ({label}): first reading on /metrics after {med.get('reading', float('nan')):.2f} s"
                  + (f", first scored view after {med['score']:.2f} s" if "score" in med else ""))
            result[f"run_{name}_{'scoring' if scoring else 'no_scoring'}"] = {k: round(v, 3) for k, v in med.items()}
    top = heaviest_imports(repo)
    print("slowest imports (cumulative s): " + ", ".join(f"{n} {s:.2f}" for n, s in top))
    result["load_average"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
