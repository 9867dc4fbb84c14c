"""Push folders, the Prometheus datasource and the dashboards to a running Grafana with grafana-client.

Idempotent: folders and the datasource are created when missing and updated otherwise (looked up by their
fixed uids), dashboards are saved with ``overwrite``. The token comes from the environment, never from the
command line. Tested against a local stand-in of Grafana's HTTP API, not against a live Grafana.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from vitals.errors import ExportError
from vitals.grafana.bundle import Folder, GrafanaBundle

log = logging.getLogger(__name__)
DEPLOY_MESSAGE = "city-vitals: vitals dashboards deploy"


@dataclass
class DeployReport:
    """What a deploy did: created/updated folders and datasource, saved dashboards (uid -> URL path)."""

    folders: dict[str, str] = field(default_factory=dict)  # folder uid -> "created" | "updated"
    datasource: str = ""  # "created" | "updated"
    dashboards: dict[str, str] = field(default_factory=dict)


def _missing(exc: GrafanaClientError) -> bool:
    return exc.status_code == 404


def _ensure_folder(api: GrafanaApi, folder: Folder) -> str:
    try:
        api.folder.get_folder(folder.uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.folder.create_folder(folder.title, uid=folder.uid)
        return "created"
    api.folder.update_folder(folder.uid, title=folder.title, overwrite=True)
    return "updated"


def _ensure_datasource(api: GrafanaApi, spec: dict[str, Any]) -> str:
    try:
        api.datasource.get_datasource_by_uid(spec["uid"])
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.datasource.create_datasource(spec)
        return "created"
    api.datasource.update_datasource_by_uid(spec["uid"], spec)
    return "updated"


def deploy(bundle: GrafanaBundle, url: str, token: str, timeout_s: float = 10.0) -> DeployReport:
    """Push ``bundle`` to the Grafana at ``url`` (e.g. ``http://grafana:3000``) with a service-account token."""
    if not token:
        msg = "no Grafana token: create a service account token in Grafana and export it (e.g. GRAFANA_TOKEN)"
        raise ExportError(msg)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    report = DeployReport()
    try:
        for folder in bundle.folders:
            report.folders[folder.uid] = _ensure_folder(api, folder)
        report.datasource = _ensure_datasource(api, bundle.datasource)
        for doc in bundle.dashboards:
            body = {"dashboard": {**doc, "id": None}, "folderUid": bundle.folder_of(doc["uid"]).uid,
                    "overwrite": True, "message": DEPLOY_MESSAGE}
            answer = api.dashboard.update_dashboard(body)
            report.dashboards[doc["uid"]] = str((answer or {}).get("url", f"/d/{doc['uid']}"))
    except GrafanaException as exc:
        msg = f"Grafana at {url} refused the deploy (HTTP {exc.status_code}): {exc.message}"
        raise ExportError(msg) from exc
    except OSError as exc:  # connection refused, DNS, timeouts from the HTTP layer
        msg = f"cannot reach Grafana at {url}: {exc}"
        raise ExportError(msg) from exc
    log.info("deployed %d dashboards to %s", len(report.dashboards), url)
    return report
