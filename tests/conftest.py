"""Shared fixtures (helpers such as ``need_binary`` live in ``vitals_testing``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from vitals_testing import SHARED

from vitals.catalog import Catalog, load_catalog

settings.register_profile("ci", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

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
