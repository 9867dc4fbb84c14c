"""One validation step: a reading is checked once, by its parser (with the run's time rules) or, for batches made
in process (the simulator), by the flow's partition check; the partition check never validates a parsed batch
again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from pipelines.sources import parser_factory
from vitals.batches import ReadingBatch
from vitals.catalog import load_catalog
from vitals.config import Settings, load_settings
from vitals.errors import ConfigError
from vitals.sources.base import SourceBatch
from vitals.stream.partition_check import PartitionChecker
from vitals.units import NS_PER_S

CATALOG = load_catalog(streets_total=76)
RECEIVED_NS = 1_772_409_600 * NS_PER_S  # 2026-03-02T00:00:00Z
AHEAD_S = 1000  # a reading this far ahead of its arrival: rejected at the default 300 s, accepted at 3600 s


def _coded(ahead_s: int) -> ReadingBatch:
    water = CATALOG.indicator_index["water_pressure"]
    return ReadingBatch(ts_ns=np.array([RECEIVED_NS - 60 * NS_PER_S, RECEIVED_NS + ahead_s * NS_PER_S]),
                        indicator=np.full(2, water, dtype=np.int16), street=np.zeros(2, dtype=np.int32),
                        value=np.array([0.5, 0.5]), received_ns=RECEIVED_NS, partition="p0", seq=0)


def _line(ahead_s: int) -> bytes:
    from vitals.readings.timestamps import format_ns

    record = {"ts": format_ns(RECEIVED_NS + ahead_s * NS_PER_S), "indicator": "water_pressure",
              "area": CATALOG.streets[0].id, "value": 0.5}
    return (json.dumps(record) + "\n").encode()


def test_the_parser_of_a_run_applies_the_runs_max_future() -> None:
    lenient = parser_factory(CATALOG, Settings(max_future_s=3600.0))()
    strict = parser_factory(CATALOG, Settings())()
    assert len(lenient.parse_jsonl(_line(AHEAD_S), received_ns=RECEIVED_NS).batch) == 1
    assert [r.reason for r in strict.parse_jsonl(_line(AHEAD_S), received_ns=RECEIVED_NS).rejections] == [
        "future_timestamp"]


def test_the_partition_check_validates_in_process_batches_once_and_parsed_ones_not_again() -> None:
    checker = PartitionChecker(CATALOG, allowed_lateness_s=300.0, max_future_s=300.0)
    state = checker.initial_state()
    made = checker.check(state, SourceBatch(_coded(AHEAD_S)))
    assert len(made.batch) == 1 and [r.reason for r in made.rejections] == ["future_timestamp"]
    parsed = parser_factory(CATALOG, Settings(max_future_s=3600.0))().parse_jsonl(
        _line(AHEAD_S), partition="p0", seq=1, received_ns=RECEIVED_NS)
    passed = checker.check(state, SourceBatch(parsed.batch, list(parsed.rejections), validated=True))
    assert len(passed.batch) == 1 and passed.rejections == []  # the run's 3600 s held, not the checker's own
    assert passed.inputs == 3 and passed.rejected["future_timestamp"] == 1


def test_the_minimum_timestamp_is_a_setting() -> None:
    old = 946_684_800 - 86_400 * 365  # 1999-01-01: before the default minimum (2000-01-01)
    line = _line(old - RECEIVED_NS // NS_PER_S)
    default = parser_factory(CATALOG, Settings())().parse_jsonl(line, received_ns=RECEIVED_NS)
    assert [r.reason for r in default.rejections] == ["bad_timestamp"]
    earlier = Settings(min_time="1990-01-01T00:00:00Z")
    assert len(parser_factory(CATALOG, earlier)().parse_jsonl(line, received_ns=RECEIVED_NS).batch) == 1
    # the partition check (in-process sources) holds the same minimum
    batch = _coded(0)
    batch.ts_ns[:] = old * NS_PER_S
    strict = PartitionChecker(CATALOG, allowed_lateness_s=300.0, max_future_s=300.0)
    lenient = PartitionChecker(CATALOG, allowed_lateness_s=300.0, max_future_s=300.0,
                               min_time=datetime(1990, 1, 1, tzinfo=UTC))
    assert strict.check(strict.initial_state(), SourceBatch(batch)).rejected["bad_timestamp"] == 2
    assert len(lenient.check(lenient.initial_state(), SourceBatch(batch)).batch) == 2
    with pytest.raises(ConfigError, match="min_time"):
        load_settings(None, {"VITALS_MIN_TIME": "1990-01-01T00:00:00"})  # no time zone: its instant is unknown
