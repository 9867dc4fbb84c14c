"""Garbage lines for file output, so that the validation path is exercised: truncated JSON, text that is not
JSON, unknown indicator and area ids, a value that is text, a timestamp without a timezone.

Drawn per batch from ``(seed, batch seq)``, so the same run gives the same garbage however it is chunked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from vitals.batches import ReadingBatch
from vitals.catalog import Catalog
from vitals.units import NS_PER_S

UNKNOWN_INDICATOR = "no_such_indicator"
UNKNOWN_AREA = "no_such_street"
GARBAGE_KINDS: tuple[str, ...] = (
    "unknown_indicator", "unknown_area", "truncated", "not_json", "text_value", "naive_timestamp",
)
_SALT = 0x6A8B


@dataclass(frozen=True, eq=False)
class BatchGarbage:
    positions: npt.NDArray[np.int64]  # sorted; garbage line j goes before reading positions[j] of the batch
    kinds: npt.NDArray[np.int64]  # index into GARBAGE_KINDS


def garbage_for_batch(seed: int, seq: int, n_readings: int, rate: float) -> BatchGarbage | None:
    """How many garbage lines go into a batch of ``n_readings`` (about ``rate`` per reading), and where."""
    if rate <= 0 or n_readings <= 0:
        return None
    rng = np.random.default_rng([seed, _SALT, seq])
    count = int(rng.binomial(n_readings, rate))
    if count == 0:
        return None
    positions = np.sort(rng.integers(0, n_readings, count)).astype(np.int64)
    return BatchGarbage(positions, rng.integers(0, len(GARBAGE_KINDS), count).astype(np.int64))


def garbage_lines(garbage: BatchGarbage, batch: ReadingBatch, catalog: Catalog) -> list[str]:
    """The garbage lines (without newlines), each derived from the reading it precedes."""
    out = []
    for pos, kind in zip(garbage.positions.tolist(), garbage.kinds.tolist(), strict=True):
        moment = datetime.fromtimestamp(int(batch.ts_ns[pos]) // NS_PER_S, tz=UTC)
        record: dict[str, object] = {
            "ts": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "indicator": catalog.indicators[int(batch.indicator[pos])].id,
            "area": catalog.streets[int(batch.street[pos])].id,
            "value": float(batch.value[pos]),
        }
        name = GARBAGE_KINDS[kind]
        if name == "unknown_indicator":
            record["indicator"] = UNKNOWN_INDICATOR
        elif name == "unknown_area":
            record["area"] = UNKNOWN_AREA
        elif name == "text_value":
            record["value"] = "high"  # text, not a gap marker (those are rejected as missing)
        elif name == "naive_timestamp":
            record["ts"] = moment.strftime("%Y-%m-%d %H:%M:%S")
        line = json.dumps(record, separators=(",", ":"))
        if name == "truncated":
            line = line[: len(line) // 2]
        elif name == "not_json":
            line = f"sensor {record['area']} reboot at {record['ts']}"
        out.append(line)
    return out
