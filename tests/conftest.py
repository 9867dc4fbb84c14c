"""Shared fixtures (helpers such as ``need_binary`` live in ``vitals_testing``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from vitals_testing import SHARED

from vitals.catalog import Catalog, load_catalog

# The files whose tests take the longest wall time (pytest --durations, 2 cores): under pytest-xdist (`make test`
# runs `-n 2 --dist loadfile --no-loadscope-reorder`) they are handed out first, so that none of them starts when
# the other worker has nothing left to do. A file missing here only costs time, never a result. (`--dist loadgroup`
# would take xdist_group marks, but pytest-xdist 3.8 cannot rename test ids under pytest 9: it runs as `load`,
# which splits a file's tests and runs its module fixtures once per worker.)
LONG_FIRST = (
    "tests/integration/test_alerting_e2e.py",
    "tests/test_imports.py",
    "tests/streaming/test_recovery.py",
    "tests/streaming/test_run_ids.py",
    "tests/streaming/test_kafka_broker.py",
    "tests/checkup/test_checkup_cli.py",
    "tests/alerting/test_promtool.py",
    "tests/streaming/test_batch_snapshots.py",
    "tests/detectors/test_contract.py",
    "tests/catalog/test_your_city.py",
    "tests/streaming/test_recovery_identity.py",
    "tests/streaming/test_scale_out.py",
    "tests/alerting/test_stack_live.py",
    "tests/training/test_cadence.py",
)

settings.register_profile("ci", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker: the files of ``LONG_FIRST`` first (with ``--dist loadfile
    --no-loadscope-reorder`` the files are handed out in this order, each file whole to one worker)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {path: k for k, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: files stay whole


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The shipped model city at full scale (1,031 streets)."""
    return load_catalog()


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """The shipped catalog with 76 streets (2 per district): fast for flow tests."""
    return load_catalog(streets_total=76)


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    path = SHARED / "data" / "nab"
    if not path.exists():
        pytest.skip("../shared/data/nab is not present")
    return path
