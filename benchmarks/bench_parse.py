"""Parsing throughput: readings/s for Parquet (Arrow table), CSV and JSON lines on the full catalog.

Generates N clean readings (default 1,000,000) over all indicators x streets of the shipped catalog, with
values inside each indicator's valid range and ISO timestamps with a timezone, then parses them with
:class:`vitals.readings.ReadingParser` in source-sized blocks (default 10,000 lines), single-threaded.
Second JSONL and CSV runs have 1 bad line per block, to measure the fallback paths. Prints figures and ends with
one JSON line.

    .venv/bin/python benchmarks/bench_parse.py [--readings 1000000] [--block 10000]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from vitals.catalog import Catalog, load_catalog
from vitals.readings import ReadingParser

log = logging.getLogger("bench_parse")


def generate(catalog: Catalog, n: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    indicator = rng.integers(0, catalog.n_indicators, n)
    street = rng.integers(0, catalog.n_streets, n)
    low, high = catalog.valid_min_array[indicator], catalog.valid_max_array[indicator]
    value = np.round(low + (high - low) * rng.random(n), 3)
    ts = np.datetime64("2024-05-01T00:00:00", "ns") + np.sort(rng.integers(0, 86_400, n)) * np.int64(1_000_000_000)
    sensors = np.array([f"sensor-{k}" for k in range(64)], dtype=object)
    return pa.table({
        "ts": pa.array(ts, type=pa.timestamp("ns", "UTC")),
        "indicator": pa.array(np.array([i.id for i in catalog.indicators], dtype=object)[indicator]),
        "area": pa.array(np.array([s.id for s in catalog.streets], dtype=object)[street]),
        "sensor": pa.array(sensors[rng.integers(0, 64, n)]),
        "value": value,
    })


def jsonl_blocks(table: pa.Table, block: int) -> list[bytes]:
    ts = [f"{t}Z" for t in table["ts"].cast(pa.timestamp("ns")).to_numpy().astype("datetime64[s]")]
    rows = zip(ts, table["indicator"].to_pylist(), table["area"].to_pylist(), table["sensor"].to_pylist(),
               table["value"].to_pylist(), strict=True)
    lines = [json.dumps({"ts": t, "indicator": i, "area": a, "sensor": s, "value": v}).encode() + b"\n"
             for t, i, a, s, v in rows]
    return [b"".join(lines[k:k + block]) for k in range(0, len(lines), block)]


def csv_blocks(table: pa.Table, block: int) -> tuple[list[bytes], list[str]]:
    text_ts = table.set_column(0, "ts", pa.array(
        [f"{t}Z" for t in table["ts"].cast(pa.timestamp("ns")).to_numpy().astype("datetime64[s]")]))
    out = io.BytesIO()
    pcsv.write_csv(text_ts, out, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    lines = out.getvalue().splitlines(keepends=True)
    return [b"".join(lines[k:k + block]) for k in range(0, len(lines), block)], table.column_names


def timed(label: str, n: int, run: Callable[[], int]) -> tuple[float, float]:
    """Readings per wall-clock second and per CPU second of this process (the machine's cores are shared)."""
    wall, cpu = time.perf_counter(), time.process_time()
    accepted = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    log.info("%-30s %8d readings in %5.2f s wall, %5.2f s CPU = %9.0f /s wall, %9.0f /s CPU (accepted %d)",
             label, n, wall, cpu, n / wall, n / cpu, accepted)
    return n / wall, n / cpu


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--readings", type=int, default=1_000_000)
    options.add_argument("--block", type=int, default=10_000)
    args = options.parse_args()
    catalog = load_catalog()
    parser = ReadingParser(catalog, max_future_s=1e12)
    n = args.readings
    table = generate(catalog, n)
    received = time.time_ns()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "readings.parquet"
        pq.write_table(table, path, row_group_size=100_000)
        parquet_rate = timed("parquet (read + parse)", n, lambda: sum(
            len(parser.parse_table(batch, seq=k, received_ns=received).batch)
            for k, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=100_000))))
    json_blocks = jsonl_blocks(table, args.block)
    jsonl_rate = timed(f"jsonl (blocks of {args.block})", n, lambda: sum(
        len(parser.parse_jsonl(b, seq=k, received_ns=received).batch) for k, b in enumerate(json_blocks)))
    dirty = [b.replace(b"\n", b"\nnot json\n", 1) for b in json_blocks]
    dirty_rate = timed("jsonl, 1 bad line per block", n, lambda: sum(
        len(parser.parse_jsonl(b, seq=k, received_ns=received).batch) for k, b in enumerate(dirty)))
    blocks, columns = csv_blocks(table, args.block)
    csv_rate = timed(f"csv (blocks of {args.block})", n, lambda: sum(
        len(parser.parse_csv(b, columns=columns, seq=k, received_ns=received).batch) for k, b in enumerate(blocks)))
    dirty_csv = [b.replace(b"\n", b"\nonly,three,fields\n", 1) for b in blocks]
    dirty_csv_rate = timed("csv, 1 bad row per block", n, lambda: sum(
        len(parser.parse_csv(b, columns=columns, seq=k, received_ns=received).batch) for k, b in enumerate(dirty_csv)))
    figures: dict[str, float] = {"readings": n, "block": args.block}
    for name, (wall, cpu) in {"parquet": parquet_rate, "csv": csv_rate, "jsonl": jsonl_rate,
                              "jsonl_dirty": dirty_rate, "csv_dirty": dirty_csv_rate}.items():
        figures[f"{name}_readings_per_s"] = round(wall)
        figures[f"{name}_readings_per_cpu_s"] = round(cpu)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
