"""Hypothesis (issue 12): a valid stream with bad elements inserted at random keeps every valid reading, in every
input shape (JSON lines, CSV, Arrow tables, MQTT/Kafka payloads): accepted = the valid readings, each bad element
is rejected with its own reason, and accepted + rejected = inputs."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.catalog import load_catalog
from vitals.readings import ReadingParser
from vitals.simulator.fuzz import RECEIVED_NS, SHAPES, make_case, parse_case

CATALOG = load_catalog(streets_total=76)
PARSER = ReadingParser(CATALOG)


@settings(max_examples=25)
@given(st.randoms(use_true_random=False), st.sampled_from(SHAPES), st.integers(0, 150), st.integers(0, 8))
def test_bad_elements_cost_only_themselves(rng: random.Random, shape: str, n_valid: int, n_bad: int) -> None:
    case = make_case(rng, CATALOG, shape, n_valid, n_bad)
    result = parse_case(PARSER, case)
    assert len(result.batch) == case.valid
    assert Counter(r.reason for r in result.rejections) == case.reasons
    assert result.n_input == case.inputs
    assert all(r.raw.encode("utf-8") and r.detail and "\n" not in r.detail for r in result.rejections)


@settings(max_examples=10)
@given(st.randoms(use_true_random=False), st.integers(0, 150), st.integers(0, 8))
def test_payloads_one_at_a_time_equal_payloads_together(rng: random.Random, n_valid: int, n_bad: int) -> None:
    """A message's verdicts do not depend on the messages it is drained with."""
    case = make_case(rng, CATALOG, "payloads", n_valid, n_bad)
    together = PARSER.parse_payloads(case.data, received_ns=RECEIVED_NS)
    alone = [PARSER.parse_payloads([m], received_ns=RECEIVED_NS) for m in case.data]
    assert [(r.reason, r.raw) for r in together.rejections] == [(r.reason, r.raw) for a in alone for r in a.rejections]
    assert together.batch.ts_ns.tolist() == [t for a in alone for t in a.batch.ts_ns.tolist()]
