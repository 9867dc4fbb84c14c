"""Shared fixtures. Integration tests call :func:`need_binary`: on a laptop without the service they skip,
in CI (CI set in the environment) a missing service fails the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from vitals.catalog import Catalog, load_catalog
from vitals.services import find_binary

settings.register_profile("ci", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

IN_CI = bool(os.environ.get("CI"))
REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def need_binary(name: str) -> str:
    """Path of a service binary; skip without it on a laptop, fail without it in CI."""
    path = find_binary(name)
    if path is None:
        message = f"{name} not installed (apt-get install prometheus prometheus-alertmanager mosquitto)"
        if IN_CI:
            pytest.fail(f"CI must have {name}: {message}")
        pytest.skip(message)
    return path


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
