"""promtool on the committed rules: syntax and lint, every generated unit test, and proof that the unit tests
catch a broken rule (a mutated copy must fail)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from vitals_testing import need_binary

from vitals.alerting import ALERT_RULES, RULE_FILES, RULE_TESTS_DIR, build_alerting
from vitals.alerting.tools import check_rules, run_rule_tests
from vitals.catalog import Catalog

pytestmark = pytest.mark.integration
DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
TEST_FILES = sorted(p.name for p in (DASHBOARDS / RULE_TESTS_DIR).glob("*.test.yml"))


def test_committed_rules_pass_promtool_check() -> None:
    need_binary("promtool")
    result = check_rules([DASHBOARDS / rel for rel in RULE_FILES])
    assert result.ok, result.output
    assert "1126 rules found" in result.output or "rules found" in result.output


@pytest.mark.parametrize("name", TEST_FILES)
def test_committed_rule_unit_tests_pass(name: str) -> None:
    need_binary("promtool")
    result = run_rule_tests([DASHBOARDS / RULE_TESTS_DIR / name])
    assert result.ok, result.output


MUTATIONS = [
    # (what breaks, text in alerts.rules.yml, replacement, the test file that must catch it)
    ("orange fires only above the threshold", "vitals_warning_level >= 3", "vitals_warning_level > 3",
     "warning_level.test.yml"),
    ("no keep_firing_for on the blue level (flaps and resolves early)", "for: 5m\n        keep_firing_for: 5m\n",
     "for: 5m\n", "warning_level.test.yml"),
    ("place names in Chinese lost", 'label "place_zh"', 'label "name_zh"', "anomaly.test.yml"),
    ("early warning ignores the reached level", "unless on (indicator, district, street) vitals_warning_level >= 3",
     "unless on (indicator, district, street) vitals_warning_level >= 4", "early_warning.test.yml"),
    ("stale limit doubled", "> on (indicator) group_left (domain) catalog:vitals_stale_after_seconds:static",
     "> on (indicator) group_left (domain) 2 * catalog:vitals_stale_after_seconds:static", "stale_data.test.yml"),
]


@pytest.fixture(scope="module")
def small_build(small_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small catalog's files, whose unit tests pass unmutated."""
    need_binary("promtool")
    out = tmp_path_factory.mktemp("alerting")
    build_alerting(small_catalog).write(out)
    files = sorted({out / RULE_TESTS_DIR / m[3] for m in MUTATIONS})
    result = run_rule_tests(files)
    assert result.ok, result.output
    return out


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_broken_rule_fails_its_unit_test(mutation: tuple[str, str, str, str], small_build: Path,
                                           tmp_path: Path) -> None:
    what, old, new, test_file = mutation
    copy = tmp_path / "copy"
    shutil.copytree(small_build, copy)
    rules = copy / ALERT_RULES
    text = rules.read_text(encoding="utf-8")
    assert old in text, f"mutation target not found: {old!r}"
    rules.write_text(text.replace(old, new), encoding="utf-8")
    assert check_rules([rules]).ok, "the mutation must stay valid PromQL"
    result = run_rule_tests([copy / RULE_TESTS_DIR / test_file])
    assert not result.ok, f"promtool did not notice: {what}"
