"""Every panel expression parses as PromQL (checked by the real promtool), and variables expand correctly."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_testlib import SAMPLE_VALUES, default_bundle
from hypothesis import given
from hypothesis import strategies as st
from vitals_testing import need_binary

from vitals.errors import ExportError
from vitals.grafana import GrafanaBundle, all_panel_queries, expand_variables, variables_in
from vitals.grafana.introspect import dashboard_variables


@pytest.fixture(scope="module")
def bundle() -> GrafanaBundle:
    return default_bundle()


@pytest.fixture
def sample_values() -> dict[str, str]:
    return dict(SAMPLE_VALUES)


def promtool_check(exprs: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on a throwaway file with one recording rule per expression."""
    rules = [{"record": f"dashboard:check:{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp / "panel_queries.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}, allow_unicode=True))
    return subprocess.run([need_binary("promtool"), "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_every_panel_query_parses(bundle: GrafanaBundle, sample_values: dict[str, str], tmp_path: Path) -> None:
    queries = all_panel_queries(bundle.dashboards)
    assert len(queries) > 80
    result = promtool_check([expand_variables(e, sample_values) for _, _, e in queries], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_variable_selectors_parse(bundle: GrafanaBundle, sample_values: dict[str, str], tmp_path: Path) -> None:
    selectors = []
    for d in bundle.dashboards:
        for query in dashboard_variables(d).values():
            inner = query.removeprefix("label_values(").removesuffix(")")
            selector, _, label = inner.rpartition(",")
            assert label.strip() in {"district", "indicator", "street"}
            selectors.append(expand_variables(selector, sample_values))
    assert len(selectors) == 4
    result = promtool_check(selectors, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_rejects_broken_promql(tmp_path: Path) -> None:
    result = promtool_check(["max(vitals_warning_level", 'vitals_health_index{scope="city"}'], tmp_path)
    assert result.returncode != 0


def test_expand_variables_forms() -> None:
    values: dict[str, Any] = {"district": "yuzhong", "area": ["a_s001", "a_s002"]}
    expr = 'x{district="$district",street=~"${area}"}[$__rate_interval] [[district]] ${district:raw}'
    assert expand_variables(expr, values) == 'x{district="yuzhong",street=~"a_s001|a_s002"}[1m] yuzhong yuzhong'
    assert expand_variables("rate(x[$__rate_interval])", {"__rate_interval": "5m"}) == "rate(x[5m])"


def test_expand_variables_names_what_is_missing() -> None:
    with pytest.raises(ExportError, match="indicator"):
        expand_variables('x{indicator="$indicator"}', {})


def test_no_variable_is_left_after_expansion(bundle: GrafanaBundle, sample_values: dict[str, str]) -> None:
    for _, _, expr in all_panel_queries(bundle.dashboards):
        expanded = expand_variables(expr, sample_values)
        assert "$" not in expanded and not variables_in(expanded)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True), st.text("abc_19-.", min_size=0, max_size=10))
def test_expand_variables_replaces_exactly_the_variable(name: str, value: str) -> None:
    expr = f'm{{l="${name}"}} + m{{l="${{{name}}}"}}'
    assert expand_variables(expr, {name: value}) == f'm{{l="{value}"}} + m{{l="{value}"}}'
