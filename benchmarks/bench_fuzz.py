"""Fuzzing the readings path (issue 12): >= 100,000 mixed inputs, seeded, across every input shape.

Parser cases (``vitals.simulator.fuzz``): JSON lines (lone surrogates, NaN, pretty-printed objects, truncated
lines, random bytes, a byte order mark ...), CSV (stray quotes, wrong field counts, bytes that are not UTF-8,
long sensor ids ...), Arrow tables, and MQTT/Kafka payloads (one-line and pretty-printed objects, arrays with
bad elements, JSON lines), decoded through ``ReadingParser.parse_payloads``, the function both sources call.
File replay: directories of good, corrupt, empty and truncated Parquet files and CSV files without a header,
replayed with small blocks so quoted multi-line fields and pretty-printed objects cross block ends.

Checks: 0 crashes, accepted = exactly the valid readings, every rejection with its expected reason, the
parser's safety net never needed. Prints the counts and ends with one JSON line.

    .venv/bin/python benchmarks/bench_fuzz.py [--inputs 100000] [--seed 12]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vitals.batches import Rejection
from vitals.catalog import Catalog, load_catalog
from vitals.readings import ReadingParser
from vitals.simulator.fuzz import SHAPES, Case, make_case, parse_case, valid_record
from vitals.sources.files import FileReplay

log = logging.getLogger("bench_fuzz")
SAFETY_NET = "the parser failed"


class Tally:
    def __init__(self) -> None:
        self.inputs: Counter[str] = Counter()
        self.cases: Counter[str] = Counter()
        self.valid = self.accepted = self.crashes = self.mismatches = self.safety_net = 0
        self.reasons: Counter[str] = Counter()

    def check(self, shape: str, expected: Case, accepted: int, rejections: list[Rejection]) -> None:
        self.cases[shape] += 1
        self.inputs[shape] += expected.inputs
        self.valid += expected.valid
        self.accepted += accepted
        reasons = Counter(r.reason for r in rejections)
        self.reasons.update(reasons)
        self.safety_net += sum(SAFETY_NET in r.detail for r in rejections)
        valid = expected.valid
        if accepted != valid or reasons != expected.reasons:
            self.mismatches += 1
            log.error("%s case %d: accepted %d of %d valid; rejected %s, expected %s", shape, self.cases[shape],
                      accepted, valid, dict(reasons), dict(expected.reasons))


def fuzz_parser(parser: ReadingParser, catalog: Catalog, rng: random.Random, tally: Tally, target: int) -> None:
    while sum(tally.inputs.values()) < target:
        shape = rng.choice(SHAPES)
        case = make_case(rng, catalog, shape, rng.randint(0, 400), rng.randint(0, 60))
        try:
            result = parse_case(parser, case)
        except Exception:
            tally.crashes += 1
            log.exception("%s case crashed", shape)
            continue
        tally.check(shape, case, len(result.batch), result.rejections)


def _replay_files(rng: random.Random, catalog: Catalog, root: Path) -> tuple[list[Path], Case]:
    """Good files of every format with bad elements, and unreadable ones, in one directory."""
    expected = Case("files")
    files: list[Path] = []
    for k in range(6):
        for shape, suffix in (("jsonl", "jsonl"), ("csv", "csv"), ("table", "parquet")):
            case = make_case(rng, catalog, shape, rng.randint(200, 800), rng.randint(0, 10))
            path = root / f"{k}-{shape}.{suffix}"
            if shape == "table":
                pq.write_table(case.data, path, row_group_size=97)
            else:
                path.write_bytes(case.data)
            files.append(path)
            expected.valid += case.valid
            expected.reasons.update(case.reasons)
    notes = [valid_record(rng, catalog, k) for k in range(300)]
    quoted = "".join(f'{r["ts"]},{r["indicator"]},{r["area"]},,{r["value"]},"a note,\nover lines"\n' for r in notes)
    (root / "notes.csv").write_text("ts,indicator,area,sensor,value,note\n" + quoted)
    files.append(root / "notes.csv")
    expected.valid += len(notes)
    good = files[2].read_bytes()
    for name, body in (("corrupt", good[:4] + b"\x07" * 3000 + good[-800:]), ("empty", b""),
                       ("truncated", good[: len(good) // 2])):
        (root / f"{name}.parquet").write_bytes(body)
        files.append(root / f"{name}.parquet")
    (root / "headerless.csv").write_text("".join(f'{r["ts"]},{r["indicator"]},{r["area"]},,{r["value"]}\n'
                                                 for r in notes[:5]))
    files.append(root / "headerless.csv")
    expected.reasons["unreadable_file"] += 4
    return sorted(files), expected


def fuzz_files(parser: ReadingParser, catalog: Catalog, rng: random.Random, tally: Tally) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files, expected = _replay_files(rng, catalog, Path(tmp))
        for block in (700, 4096, 1 << 20):
            replay = FileReplay(files, parser, "file-0", block_bytes=block, block_rows=211)
            accepted, rejections = 0, []
            try:
                while (item := replay.read_next()) is not None:
                    accepted += len(item.batch)
                    rejections += item.rejections
            except Exception:
                tally.crashes += 1
                log.exception("file replay crashed")
                continue
            tally.check(f"files (blocks of {block} B)", expected, accepted, rejections)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=100_000, help="parser inputs at least (default 100,000)")
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("vitals").setLevel(logging.CRITICAL)  # skipped files are expected here
    catalog = load_catalog(streets_total=76)
    parser = ReadingParser(catalog)
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.perf_counter()
    fuzz_parser(parser, catalog, rng, tally, args.inputs)
    fuzz_files(parser, catalog, rng, tally)
    seconds = time.perf_counter() - started
    total = sum(tally.inputs.values())
    for shape, n in sorted(tally.inputs.items()):
        log.info("%-26s %6d cases %8d inputs", shape, tally.cases[shape], n)
    log.info("%d inputs in %.1f s: %d crashes, %d accepted of %d valid, %d mismatched cases, %d safety-net hits",
             total, seconds, tally.crashes, tally.accepted, tally.valid, tally.mismatches, tally.safety_net)
    log.info("rejected: %s", ", ".join(f"{k}={v}" for k, v in sorted(tally.reasons.items())))
    print(json.dumps({"inputs": total, "seed": args.seed, "crashes": tally.crashes, "valid": tally.valid,
                      "accepted": tally.accepted, "mismatched_cases": tally.mismatches,
                      "safety_net": tally.safety_net, "rejected": dict(sorted(tally.reasons.items())),
                      "seconds": round(seconds, 1)}))
    if tally.crashes or tally.mismatches or tally.safety_net:
        sys.exit(1)


if __name__ == "__main__":
    pa.set_cpu_count(1)
    main()
