"""CPU of the history writer alone (``vitals.history.write_readings`` / ``write_vitals``) on the inputs it gets in a
real replay, for one or more checkouts back to back (docs/benchmarks.md, "History Parquet writing, cheaper").

1. ``vitals replay FILE --history-dir <temp>`` runs once in a subprocess with this checkout's code, the history
   sink's inputs (readings chunks, vitals snapshots) pickled as they pass;
2. each round writes them all again under a fresh directory, once per ``--code`` checkout (a subprocess with that
   checkout first on ``PYTHONPATH``, checkouts alternating), timed with ``time.thread_time``;
3. prints min / median CPU s per checkout for the readings and the vitals files, and the files' sizes. ::

    vitals simulate --hours 4 --start 2025-06-02T00:00:00Z --out city-4h.parquet --no-progress
    PYTHONPATH=. .venv/bin/python benchmarks/bench_history_write.py city-4h.parquet --code ../main --code .

Each write runs in a fresh process set up as the flow's (``vitals.arrow_setup.convert_without_pandas``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def capture(replay_file: str, out: str) -> None:
    """Replay ``replay_file`` in this process, pickling the history sink's inputs to ``out``."""
    from vitals.batches import ReadingBatch
    from vitals.cli import main
    from vitals.stream import outputs

    got: dict[str, Any] = {"readings": [], "vitals": [], "catalog": None}
    write_readings, write_vitals = outputs.write_readings, outputs.write_vitals

    def readings(root: Any, catalog: Any, batch: ReadingBatch, name: str) -> Any:
        got["catalog"] = catalog
        copy = ReadingBatch(ts_ns=batch.ts_ns.copy(), indicator=batch.indicator.copy(), street=batch.street.copy(),
                            value=batch.value.copy(), sensor=None if batch.sensor is None else batch.sensor.copy())
        got["readings"].append((copy, name))
        return write_readings(root, catalog, batch, name)

    def vitals(root: Any, catalog: Any, snapshots: Any, name: str) -> Any:
        got["vitals"].append((list(snapshots), name))
        return write_vitals(root, catalog, snapshots, name)

    outputs.write_readings, outputs.write_vitals = readings, vitals
    with tempfile.TemporaryDirectory() as tmp:
        main(["replay", replay_file, "--history-dir", tmp, "--metrics-port", "0", "--no-progress",
              "--dead-letters", os.path.join(tmp, "dead.jsonl")])
    with open(out, "wb") as f:
        pickle.dump(got, f, protocol=5)


def write(captured: str, work: str) -> dict[str, float]:
    """Write the captured inputs once with the ``vitals.history`` on ``sys.path``: CPU s and MB of each kind."""
    from vitals.arrow_setup import convert_without_pandas
    from vitals.history import write_readings, write_vitals

    convert_without_pandas()  # as the flow's processes do (pipelines/run.py): no pandas import on first convert

    with open(captured, "rb") as f:
        got = pickle.load(f)
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        t0 = time.thread_time()
        for batch, name in got["readings"]:
            write_readings(tmp, got["catalog"], batch, name)
        t1 = time.thread_time()
        for snapshots, name in got["vitals"]:
            write_vitals(tmp, got["catalog"], snapshots, name)
        t2 = time.thread_time()
        result = {"readings_cpu_s": t1 - t0, "vitals_cpu_s": t2 - t1}
        for kind in ("readings", "vitals"):
            result[f"{kind}_mb"] = sum(p.stat().st_size for p in (Path(tmp) / kind).rglob("*.parquet")) / 1e6
    return result


def _run(code: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    return subprocess.run([sys.executable, __file__, *args], env=env, cwd=code, check=True, text=True,
                          stdout=subprocess.PIPE).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="readings to replay (e.g. city-4h.parquet)")
    parser.add_argument("--code", action="append", type=Path, help="a checkout to time (repeatable; default: this)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--capture", nargs=2, metavar=("FILE", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="CAPTURED", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capture:
        capture(*args.capture)
        return 0
    if args.write:
        print(json.dumps(write(args.write, str(Path(args.write).parent))))
        return 0
    if not args.file:
        parser.error("the file to replay is required")
    codes = [c.resolve() for c in (args.code or [ROOT])]
    with tempfile.TemporaryDirectory(prefix="bench-history-write-") as tmp:
        captured = os.path.join(tmp, "captured.pkl")
        _run(ROOT, "--capture", str(Path(args.file).resolve()), captured)
        runs: dict[Path, list[dict[str, float]]] = {c: [] for c in codes}
        load = os.getloadavg()[0]
        for _ in range(args.rounds):
            for code in codes:
                runs[code].append(json.loads(_run(code, "--write", captured).strip().splitlines()[-1]))
    print(f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end (2 cores); {args.rounds} rounds")
    print(f"{'checkout':40s} {'readings CPU s min/med':>24s} {'vitals CPU s min/med':>22s} {'MB readings/vitals':>20s}")
    for code, results in runs.items():
        cells = []
        for kind in ("readings", "vitals"):
            values = [r[f"{kind}_cpu_s"] for r in results]
            cells.append(f"{min(values):.2f} / {statistics.median(values):.2f}")
        mb = f"{results[-1]['readings_mb']:.1f} / {results[-1]['vitals_mb']:.1f}"
        print(f"{str(code)[-40:]:40s} {cells[0]:>24s} {cells[1]:>22s} {mb:>20s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
