"""Grafana dashboards as code: the city wall, district drill-down, indicator detail and pipeline health,
built with grafana-foundation-sdk from the catalog and :mod:`vitals.metric_names`, plus provisioning files and
a deploy to a live Grafana with grafana-client (see ``docs/dashboards.md``)."""

from vitals.grafana.bundle import (
    DASHBOARDS,
    FOLDERS,
    Folder,
    GrafanaBundle,
    GrafanaOptions,
    build_bundle,
    build_dashboards,
    differences,
    write_bundle,
)
from vitals.grafana.introspect import (
    GRAFANA_BUILTINS,
    all_panel_queries,
    dashboard_variables,
    expand_variables,
    iter_panels,
    variables_in,
)
from vitals.grafana.panels import DATASOURCE_UID

__all__ = [
    "DASHBOARDS", "DATASOURCE_UID", "FOLDERS", "GRAFANA_BUILTINS", "Folder", "GrafanaBundle", "GrafanaOptions",
    "all_panel_queries", "build_bundle", "build_dashboards", "dashboard_variables", "differences",
    "expand_variables", "iter_panels", "variables_in", "write_bundle",
]
