"""`vitals dashboards deploy` against a local stand-in of Grafana's HTTP API that records every request.

The stand-in answers like Grafana for the endpoints the deploy uses (folders, datasources by uid, dashboards/db),
keeps state (so a second deploy updates instead of creating) and refuses requests without the bearer token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from grafana_testlib import default_bundle

from vitals.cli import main
from vitals.errors import ExportError
from vitals.grafana import DATASOURCE_UID, GrafanaBundle
from vitals.grafana.deploy import deploy
from vitals.services import free_port

TOKEN = "glsa_test_token_123"


@dataclass
class FakeGrafana:
    token: str
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.removeprefix("/api/").split("/")
        if method == "GET" and parts[0] == "folders" and len(parts) == 2:
            found = self.folders.get(parts[1])
            return (200, found) if found else (404, {"message": "folder not found"})
        if method == "POST" and parts == ["folders"]:
            if body["uid"] in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "version": 1}
            return 200, self.folders[body["uid"]]
        if method == "PUT" and parts[0] == "folders" and parts[1] in self.folders:
            self.folders[parts[1]]["title"] = body["title"]
            return 200, self.folders[parts[1]]
        if parts[:2] == ["datasources", "uid"] and len(parts) == 3:
            return self._datasource(method, parts[2], body)
        if method == "POST" and parts == ["datasources"]:
            self.datasources[body["uid"]] = body
            return 200, {"id": 1, "message": "Datasource added", "datasource": body}
        if method == "POST" and parts == ["dashboards", "db"]:
            return self._dashboard(body)
        return 404, {"message": "Not found"}

    def _datasource(self, method: str, uid: str, body: Any) -> tuple[int, Any]:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        if method == "PUT":
            self.datasources[uid] = body
            return 200, {"message": "Datasource updated", "datasource": body}
        return 200, self.datasources[uid]

    def _dashboard(self, body: Any) -> tuple[int, Any]:
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found"}
        uid = body["dashboard"]["uid"]
        if uid in self.dashboards and not body.get("overwrite"):
            return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
        self.dashboards[uid] = body
        return 200, {"id": len(self.dashboards), "uid": uid, "url": f"/d/{uid}/slug", "status": "success",
                     "version": 1}


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.requests.append((self.command, self.path, body))
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                status, answer = 401, {"message": "Unauthorized"}
            else:
                status, answer = fake.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana(TOKEN)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def bundle() -> GrafanaBundle:
    return default_bundle()


def test_first_deploy_creates_folders_datasource_and_dashboards(grafana: tuple[FakeGrafana, str],
                                                                bundle: GrafanaBundle) -> None:
    fake, url = grafana
    report = deploy(bundle, url, TOKEN)
    assert report.folders == {"vitals-city": "created", "vitals-pipeline": "created"}
    assert report.datasource == "created"
    assert report.dashboards == {d["uid"]: f"/d/{d['uid']}/slug" for d in bundle.dashboards}
    assert fake.datasources[DATASOURCE_UID]["type"] == "prometheus"
    assert {uid: body["folderUid"] for uid, body in fake.dashboards.items()} == {
        "city-wall": "vitals-city", "city-domains": "vitals-city", "district": "vitals-city",
        "indicator-detail": "vitals-city", "pipeline-health": "vitals-pipeline"}
    for doc in bundle.dashboards:
        sent = fake.dashboards[doc["uid"]]
        assert sent["overwrite"] is True
        assert sent["dashboard"] == {**doc, "id": None}
    methods = [(m, p) for m, p, _ in fake.requests]
    assert methods[:4] == [("GET", "/api/folders/vitals-city"), ("POST", "/api/folders"),
                           ("GET", "/api/folders/vitals-pipeline"), ("POST", "/api/folders")]
    assert methods.count(("POST", "/api/dashboards/db")) == 5


def test_second_deploy_updates_in_place(grafana: tuple[FakeGrafana, str], bundle: GrafanaBundle) -> None:
    fake, url = grafana
    deploy(bundle, url, TOKEN)
    fake.requests.clear()
    report = deploy(bundle, url, TOKEN)
    assert set(report.folders.values()) == {"updated"}
    assert report.datasource == "updated"
    assert ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}") in [(m, p) for m, p, _ in fake.requests]
    assert not any(m == "POST" and p in ("/api/folders", "/api/datasources") for m, p, _ in fake.requests)
    assert len(fake.dashboards) == 5


def test_wrong_token_is_an_export_error(grafana: tuple[FakeGrafana, str], bundle: GrafanaBundle) -> None:
    fake, url = grafana
    with pytest.raises(ExportError, match="HTTP 401"):
        deploy(bundle, url, "not-the-token")
    assert not fake.dashboards


def test_unreachable_grafana_is_an_export_error(bundle: GrafanaBundle) -> None:
    with pytest.raises(ExportError, match="cannot reach Grafana"):
        deploy(bundle, f"http://127.0.0.1:{free_port()}", TOKEN, timeout_s=2.0)


def test_cli_deploy_reads_the_token_from_the_environment(grafana: tuple[FakeGrafana, str],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = grafana
    monkeypatch.setenv("MY_GRAFANA_TOKEN", TOKEN)
    assert main(["dashboards", "deploy", "--url", url, "--token-env", "MY_GRAFANA_TOKEN",
                 "--prometheus-url", "http://10.1.2.3:9090"]) == 0
    out = capsys.readouterr().out
    assert f"dashboard city-wall: {url}/d/city-wall/slug" in out
    assert fake.datasources[DATASOURCE_UID]["url"] == "http://10.1.2.3:9090"


def test_cli_deploy_without_token_fails_before_any_request(grafana: tuple[FakeGrafana, str],
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = grafana
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "deploy", "--url", url]) == 1
    assert "GRAFANA_TOKEN" in capsys.readouterr().err
    assert fake.requests == []
