"""A real Prometheus scrapes /metrics over TLS with basic auth (``--web-config``); without the password, or
without trusting the certificate, its scrapes fail."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from prometheus_client import CollectorRegistry
from vitals_testing import need_binary, self_signed_cert

from vitals import metric_names as mn
from vitals.catalog import Catalog
from vitals.exporter import ExportHub, MetricsServer
from vitals.exporter.testing import synthetic_view
from vitals.exporter.web_config import load_web_config
from vitals.services import prometheus_config, prometheus_query, running, start_prometheus, wait_for

pytestmark = pytest.mark.integration


def _up(base: str, job: str) -> float | None:
    result = prometheus_query(base, f'up{{job="{job}"}}')
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_over_tls_with_basic_auth(small_catalog: Catalog, tmp_path: Path) -> None:
    need_binary("prometheus")
    crt, _ = self_signed_cert(tmp_path / "tls")
    hashed = bcrypt.hashpw(b"scrape-pass", bcrypt.gensalt(6)).decode()
    web_file = tmp_path / "tls" / "web.yml"
    web_file.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                        f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    hub = ExportHub(small_catalog, registry=CollectorRegistry())
    hub.publish(0, synthetic_view(small_catalog, seed=3))
    (tmp_path / "password").write_text("scrape-pass\n")
    with MetricsServer(hub, port=0, web=load_web_config(web_file)) as server:
        target = f"127.0.0.1:{server.port}"
        tls = {"ca_file": str(crt), "server_name": "localhost"}
        jobs = [
            {"job_name": "wrong-password", "scheme": "https", "tls_config": tls,
             "basic_auth": {"username": "prometheus", "password": "nope"}, "static_configs": [{"targets": [target]}]},
            {"job_name": "untrusted", "scheme": "https",
             "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / "password")},
             "static_configs": [{"targets": [target]}]},
        ]
        config = prometheus_config([target], scrape_interval="1s", extra_scrape_configs=jobs)
        config["scrape_configs"][0].update(scheme="https", tls_config=tls, basic_auth={
            "username": "prometheus", "password_file": str(tmp_path / "password")})
        with running(start_prometheus(config, tmp_path / "prometheus")) as prom:
            wait_for(lambda: _up(prom.url, "city-vitals") == 1, 60, 0.5, "a successful TLS scrape")
            result = prometheus_query(prom.url, f"count({mn.WARNING_LEVEL})")
            assert float(result[0]["value"][1]) == small_catalog.n_series
            wait_for(lambda: _up(prom.url, "wrong-password") == 0 and _up(prom.url, "untrusted") == 0, 30, 0.5,
                     "the refused scrapes")
