"""Shared helpers of the Grafana tests (a plain module: a second conftest.py would shadow tests/conftest.py,
whose ``need_binary`` the tests import)."""

from __future__ import annotations

import functools
from typing import Any

from vitals.catalog import load_catalog
from vitals.grafana import GrafanaBundle, build_bundle

# Concrete values for the dashboard variables: an indicator, a district and one of its streets.
SAMPLE_VALUES = {"district": "yuzhong", "indicator": "water_pressure", "area": "yuzhong_s001"}


@functools.cache
def default_bundle() -> GrafanaBundle:
    """The dashboards and provisioning files of the shipped catalog, built once per test session."""
    return build_bundle(load_catalog())


def dashboards_by_uid() -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in default_bundle().dashboards}
