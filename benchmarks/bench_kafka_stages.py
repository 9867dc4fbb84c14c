"""Stage-only benchmark of a Kafka partition's readings on the hot path, without a broker or Bytewax: decoding
(``decode_records``), the partition check (watermark: late readings) and the series state (``split_by_shard`` +
``ShardState.update``: duplicates), as the flow runs them, in one process.

Readings: ``--hours`` of the full simulated city (``city_feed.py``; the simulator's faults included, so late and
duplicate readings are dead-lettered, with their message's offset where the code knows it), the messages of
Kafka partition 0 as ``bench_kafka.py`` produces them: ``single`` (one reading per message, consumer batches of
``--batch`` messages) and ``batched`` (``--per-message`` readings per message as JSON lines, batches of
``--batch-lines`` lines). CPU seconds of this process (``time.process_time``) per repeat, after one warm-up
pass; min and median of ``--repeats``. Compare two checkouts by running this file with ``PYTHONPATH`` set to
each (the script's own imports come from its own directory, the library from ``PYTHONPATH``).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_kafka_stages.py [--hours 1] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
from bench_kafka import messages
from city_feed import city_readings

from vitals.catalog import load_catalog
from vitals.readings import ReadingParser
from vitals.sources.kafka import decode_records
from vitals.state import ShardState, split_by_shard
from vitals.stream.partition_check import PartitionChecker

SHARDS = 4
RECEIVED = 2_000_000_000 * 1_000_000_000  # after every reading


def _batches(values: list[bytes], per_batch: int) -> list[list[tuple[int, bytes]]]:
    records = list(enumerate(values))
    return [records[a:a + per_batch] for a in range(0, len(records), per_batch)]


def stage_rejections(catalog: Any, checker: PartitionChecker, state: Any, shards: list[ShardState],
                     item: Any) -> list[Any]:
    """A source batch through the partition check and the series state, as the flow runs them: its rejections."""
    checked = checker.check(state, item)
    rejections = list(checked.rejections)
    for k, part in split_by_shard(checked.batch, catalog, len(shards)):
        rejections += shards[k].update(part).duplicates
    return rejections


def _pass(catalog: Any, batches: list[list[tuple[int, bytes]]]) -> dict[str, Any]:
    """One pass over the partition: CPU seconds of decoding and of the whole stage path, and what was rejected."""
    parser = ReadingParser(catalog, max_future_s=10 ** 10)
    checker = PartitionChecker(catalog, allowed_lateness_s=300.0, max_future_s=10 ** 10)
    state = checker.initial_state()
    shards = [ShardState(catalog, k, SHARDS) for k in range(SHARDS)]
    decode_s = 0.0
    rejected: dict[str, int] = {}
    with_offset = 0
    start = time.process_time()
    for records in batches:
        t0 = time.process_time()
        item = decode_records(records, parser, "city-readings-0", RECEIVED)
        decode_s += time.process_time() - t0
        for r in stage_rejections(catalog, checker, state, shards, item):
            rejected[r.reason] = rejected.get(r.reason, 0) + 1
            with_offset += r.offset is not None
    total_s = time.process_time() - start
    return {"decode_s": decode_s, "total_s": total_s, "rejected": rejected, "with_offset": with_offset}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch", type=int, default=5000, help="messages per consumer batch (single)")
    ap.add_argument("--per-message", type=int, default=1000)
    ap.add_argument("--batch-lines", type=int, default=5000, help="readings per consumer batch (batched)")
    opts = ap.parse_args()
    catalog = load_catalog()
    readings = city_readings(opts.hours, shards=SHARDS, catalog=catalog)
    out = {}
    for shape, per_message in (("single", 1), ("batched", opts.per_message)):
        values = [v for k, _, v in messages(readings, per_message) if k == 0]
        per_batch = opts.batch if per_message == 1 else max(1, opts.batch_lines // per_message)
        batches = _batches(values, per_batch)
        n = sum(v.count(b"\n") + 1 for v in values)
        _pass(catalog, batches)  # warm-up: kernels compiled or loaded, caches filled
        runs = [_pass(catalog, batches) for _ in range(opts.repeats)]
        decode = [r["decode_s"] for r in runs]
        total = [r["total_s"] for r in runs]
        print(f"{shape}: {n:,} readings in {len(values):,} messages, {len(batches)} batches; rejected "
              f"{runs[0]['rejected']}, {runs[0]['with_offset']:,} with an offset")
        print(f"  decode      CPU s min {min(decode):.3f} median {statistics.median(decode):.3f}  "
              f"({n / min(decode) / 1e6:.2f} M readings / CPU s at the min)")
        print(f"  all stages  CPU s min {min(total):.3f} median {statistics.median(total):.3f}  "
              f"({n / min(total) / 1e6:.2f} M readings / CPU s at the min)")
        out[shape] = {"readings": n, "decode_min_s": round(min(decode), 4),
                      "decode_median_s": round(statistics.median(decode), 4),
                      "total_min_s": round(min(total), 4), "total_median_s": round(statistics.median(total), 4),
                      "rejected": runs[0]["rejected"], "with_offset": runs[0]["with_offset"]}
    print(json.dumps(out))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
