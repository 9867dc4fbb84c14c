"""Run promtool and amtool (offline) on generated files: rule syntax and lint, rule unit tests, the
Alertmanager configuration, route tests, template rendering. Used by ``vitals alerts check`` and the tests."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vitals.alerting.bundle import ALERTMANAGER_CONFIG, ROUTE_TESTS, RULE_FILES, RULE_TESTS_DIR, TEMPLATES
from vitals.errors import ConfigError, ExportError
from vitals.services import require_binary


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    output: str
    seconds: float


def _run(name: str, argv: Sequence[str], cwd: Path | None = None) -> CheckResult:
    start = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    output = (proc.stdout + proc.stderr).strip()
    return CheckResult(name, proc.returncode == 0, output, time.perf_counter() - start)


def check_rules(files: Sequence[Path]) -> CheckResult:
    return _run("promtool check rules", [require_binary("promtool"), "check", "rules", *map(str, files)])


def run_rule_tests(test_files: Sequence[Path]) -> CheckResult:
    return _run("promtool test rules", [require_binary("promtool"), "test", "rules", *map(str, test_files)])


def check_alertmanager(config: Path) -> CheckResult:
    return _run("amtool check-config", [require_binary("amtool"), "check-config", str(config)])


def routed_receivers(config: Path, labels: Sequence[str]) -> list[str]:
    """The receivers ``amtool config routes test`` resolves for a label set, in tree order."""
    result = _run("amtool config routes test",
                  [require_binary("amtool"), "config", "routes", "test", f"--config.file={config}", *labels])
    lines = [line for line in result.output.splitlines() if line and not line.startswith("Warning:")]
    return lines[-1].split(",") if lines else []


def run_route_tests(config: Path, cases_file: Path) -> list[CheckResult]:
    """Each case of a route test file, verified by amtool (``--verify.receivers``)."""
    cases = yaml.safe_load(cases_file.read_text(encoding="utf-8"))["cases"]
    results = []
    for case in cases:
        labels = [f"{k}={v}" for k, v in case["labels"].items()]
        result = _run(f"route: {case['name']}", [
            require_binary("amtool"), "config", "routes", "test", f"--config.file={config}",
            f"--verify.receivers={','.join(case['receivers'])}", *labels])
        results.append(result)
    return results


def render_template(template_glob: str, text: str, data: dict[str, Any]) -> str:
    """``amtool template render`` of ``text`` with notification ``data`` (Alertmanager's template.Data)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as fh:
        json.dump(data, fh, ensure_ascii=False)
        data_path = fh.name
    try:
        result = _run("amtool template render", [
            require_binary("amtool"), "template", "render", f"--template.glob={template_glob}",
            f"--template.text={text}", f"--template.data={data_path}"])
    finally:
        Path(data_path).unlink(missing_ok=True)
    if not result.ok:
        msg = f"template {text!r} failed to render: {result.output}"
        raise ExportError(msg)
    return result.output


def check_all(out_dir: Path) -> list[CheckResult]:
    """Every offline check of a generated ``dashboards/`` directory; one line when it lacks the generated files."""
    tests = sorted((out_dir / RULE_TESTS_DIR).glob("*.test.yml"))
    config = out_dir / ALERTMANAGER_CONFIG
    missing = [str(rel) for rel in (*RULE_FILES, ALERTMANAGER_CONFIG, ROUTE_TESTS) if not (out_dir / rel).is_file()]
    if missing or not tests:
        what = ", ".join(missing) if missing else f"rule tests ({RULE_TESTS_DIR}/*.test.yml)"
        msg = f"{out_dir} lacks generated alerting files ({what}); run `vitals alerts build --out {out_dir}` first"
        raise ConfigError(msg)
    return [
        check_rules([out_dir / rel for rel in RULE_FILES]),
        run_rule_tests(tests),
        check_alertmanager(config),
        *run_route_tests(config, out_dir / ROUTE_TESTS),
    ]


def template_glob(out_dir: Path) -> str:
    return str((out_dir / TEMPLATES).parent / "*.tmpl")
