"""Shared fixtures (helpers such as ``need_binary`` live in ``vitals_testing``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from vitals_testing import SHARED

from vitals.catalog import Catalog, load_catalog

# The files whose tests take the longest wall time (pytest --durations, 2 cores): under pytest-xdist (`make test`
# runs `-n 2 --dist loadgroup`) they are handed out first, so that none of them starts when the other worker has
# nothing left to do. A file missing here only costs time, never a result.
LONG_FIRST = (
    "tests/integration/test_alerting_e2e.py",
    "tests/streaming/test_run_ids.py",
    "tests/streaming/test_kafka_broker.py",
    "tests/streaming/test_batch_snapshots.py",
    "tests/streaming/test_recovery.py",
    "tests/alerting/test_stack_live.py",
    "tests/alerting/test_promtool.py",
    "tests/training/test_cadence.py",
    "tests/checkup/test_checkup_cli.py",
    "tests/catalog/test_your_city.py",
    "tests/test_imports.py",
)

settings.register_profile("ci", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

@pytest.hookimpl(tryfirst=True)  # before pytest-xdist appends the group to each test id (--dist loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``: a test without an ``xdist_group`` mark goes with the other tests of its file
    (one worker runs a file, so its module fixtures run once), and the files of ``LONG_FIRST`` come first."""
    if getattr(config.option, "dist", "no") != "loadgroup":
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
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
