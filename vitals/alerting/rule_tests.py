"""Generated ``promtool test rules`` files: for every rule family a scenario in phases that checks it fires,
does not fire (below the condition, or for less than ``for``), does not flap (a dip shorter than
``keep_firing_for`` keeps it firing) and resolves (``keep_firing_for`` after the condition ends).

This module holds the warning-level families and the assembly; the per-series and pipeline families are in
:mod:`vitals.alerting.rule_tests_series` and :mod:`vitals.alerting.rule_tests_pipeline`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from vitals import metric_names as m
from vitals.alerting import names, rule_tests_pipeline, rule_tests_series
from vitals.alerting.catalog_rules import area_labels, catalog_groups, indicator_labels
from vitals.alerting.options import LEVEL_VALUE, LEVELS, AlertingOptions
from vitals.alerting.rule_context import Context, district_streets, test_step, value_at_level
from vitals.alerting.rule_scenarios import Result, RuleSpec, Scenario, expected_alerts, labels_key, phases
from vitals.catalog import Catalog, Street
from vitals.errors import ExportError

log = logging.getLogger(__name__)


def level_labels(catalog: Catalog, street: Street, indicator_code: int = 0) -> dict[str, str]:
    ind = catalog.indicators[indicator_code]
    return {"indicator": ind.id, "domain": ind.domain, "district": street.district_id, "street": street.id}


def add_level_series(ctx: Context, scenario: Scenario, street: Street, levels: list[float | None],
                     *, forecast: bool = False, values: bool = True) -> None:
    """The level of one street, and the indicator value that goes with each level (for the annotations)."""
    ind = ctx.catalog.indicators[0]
    labels = level_labels(ctx.catalog, street)
    scenario.add(m.WARNING_LEVEL, labels, levels)
    if not values:
        return
    readings = [None if lv is None else value_at_level(ind, int(lv)) for lv in levels]
    scenario.add(ind.metric, {**labels, "stat": "last", "window": "now"}, readings)
    if forecast:
        scenario.add(m.FORECAST_VALUE, {**labels, "horizon": ctx.options.early_warning_horizon},
                     [None if v is None else v * 1.25 for v in readings])


def at_or_above(scenario: Scenario, level: int, k: int, **match: str) -> Result:
    return {labels_key(lb): v for lb, v in scenario.select(m.WARNING_LEVEL, k, **match) if v >= level}


def street_level_test(ctx: Context) -> dict[str, Any]:
    holds = [ctx.options.hold(level) for level in LEVELS]
    stage, tail, dip = ctx.stage(*holds), ctx.tail(*holds), ctx.dip(*holds)
    ramp, spike, flap = ctx.catalog.streets[:3]
    ramp_levels = phases((0, stage), (1, stage), (2, stage), (3, stage), (4, stage), (0, tail))
    scenario = Scenario(ctx.step, len(ramp_levels))
    add_level_series(ctx, scenario, ramp, ramp_levels, forecast=True)
    blue_for, red_for = ctx.steps(holds[0].for_s), ctx.steps(holds[3].for_s)
    add_level_series(ctx, scenario, spike, phases((0, stage), (1, blue_for - 1), (0, 2), (4, min(red_for, 1) * 1),
                                                  (0, 1)) if blue_for > 1 else phases((0, 1)))
    add_level_series(ctx, scenario, flap, phases((0, stage), (3, stage), (0, dip), (3, stage), (0, 1)))
    oracle = ctx.oracle(scenario)
    rules = [RuleSpec(names.WARNING_LEVEL, hold, partial(at_or_above, scenario, LEVEL_VALUE[level]),
                      {"kind": names.KIND_LEVEL, "scope": "street", "severity": level}, oracle.level)
             for level, hold in zip(LEVELS, holds, strict=True)]
    drop = 5 * stage
    keep_min, keep_max = min(ctx.steps(h.keep_s) for h in holds), max(ctx.steps(h.keep_s) for h in holds)
    checks = [stage - 1, *(i * stage - 1 for i in range(2, 6)), drop + keep_min - 1, drop + keep_max + 1,
              2 * stage + dip // 2, 3 * stage + dip + 1]
    return {"name": "warning level per street: fires per level, spike does not fire, dip does not flap, resolves",
            "scenario": scenario, "rules": rules, "checks": sorted(set(checks))}


def district_rule_result(scenario: Scenario, ctx: Context, level: str, k: int) -> Result:
    """A district-wide level (the oracle of the district rule): share and count of streets at or above."""
    s = ctx.options.sensitivity
    found = scenario.select(m.WARNING_LEVEL, k)
    groups: dict[tuple[str, str, str], list[float]] = {}
    for labels, value in found:
        groups.setdefault((labels["indicator"], labels["domain"], labels["district"]), []).append(value)
    result: Result = {}
    for (indicator, domain, district), values in groups.items():
        hits = sum(v >= LEVEL_VALUE[level] for v in values)
        share = 100 * (hits / len(values))
        if hits and share >= 100 * s.district_share and hits >= s.district_min_streets:
            result[labels_key({"indicator": indicator, "domain": domain, "district": district,
                               "severity": level})] = share
    return result


def area_test(ctx: Context, scope: str) -> dict[str, Any]:
    """District-wide (one district) or city-wide (several districts) warnings, in phases: one street (or
    district) short of the condition, the condition, a dip, the condition again, the end."""
    hold = ctx.options.hold(scope)
    stage, tail, dip = ctx.stage(hold), ctx.tail(hold), ctx.dip(hold)
    n_areas = 1 if scope == "district" else ctx.options.sensitivity.city_min_districts
    areas = district_streets(ctx, n_areas)
    top = 3 if scope == "district" else 4
    steps = 4 * stage + dip + tail
    scenario = Scenario(ctx.step, steps)
    for i, (_, streets, need) in enumerate(areas):
        for j, street in enumerate(streets):
            short = j < need - 1 if scope == "district" else (j < need and i < n_areas - 1)
            full = j < need
            levels = phases((0, stage), (top if short else 0, stage), (top if full else 0, stage), (0, dip),
                            (top if full else 0, stage), (0, tail))
            add_level_series(ctx, scenario, street, levels, values=False)
    # the exported health index of the first district (and the city) the notifications quote
    scenario.add(m.HEALTH_INDEX, {"scope": "district", "district": areas[0][0].id}, [44.0])
    scenario.add(m.HEALTH_INDEX, {"scope": "city"}, [48.0])
    oracle = ctx.oracle(scenario)
    alertname, result_of, annotate = (
        (names.DISTRICT_WARNING_LEVEL, district_rule_result, oracle.district) if scope == "district"
        else (names.CITY_WARNING_LEVEL, city_rule_result, oracle.city))
    rules = [RuleSpec(alertname, hold, partial(result_of, scenario, ctx, level),
                      {"kind": names.KIND_LEVEL, "scope": scope, "severity": level}, annotate) for level in LEVELS]
    end = 4 * stage + dip
    checks = [2 * stage - 1, 3 * stage - 1, 3 * stage + dip // 2, end - 1, end + ctx.steps(hold.keep_s) - 1,
              end + ctx.steps(hold.keep_s) + 1]
    return {"name": f"{scope}-wide warning: short of the condition, fires, dip does not flap, resolves",
            "scenario": scenario, "rules": rules, "checks": sorted(set(checks))}


def city_rule_result(scenario: Scenario, ctx: Context, level: str, k: int) -> Result:
    per_indicator: dict[tuple[str, str], int] = {}
    for key in district_rule_result(scenario, ctx, level, k):
        labels = dict(key)
        pair = (labels["indicator"], labels["domain"])
        per_indicator[pair] = per_indicator.get(pair, 0) + 1
    return {labels_key({"indicator": i, "domain": d}): float(n) for (i, d), n in per_indicator.items()
            if n >= ctx.options.sensitivity.city_min_districts}


def test_item(case: dict[str, Any]) -> dict[str, Any]:
    scenario: Scenario = case["scenario"]
    return {
        "name": case["name"], "interval": scenario.time(1), "input_series": scenario.input_series(),
        "alert_rule_test": expected_alerts(case["rules"], scenario, case["checks"]),
    }


def rule_test_files(catalog: Catalog, options: AlertingOptions, rule_files: list[str], catalog_file: str
                    ) -> dict[str, dict[str, Any]]:
    """Test documents (and the catalog subset they load) by file name. ``rule_files`` are the recording and
    alerting rule files, ``catalog_file`` the catalog rules, as paths relative to the tests."""
    if catalog.n_streets < 3:
        msg = "the rule tests need a catalog with at least 3 streets"
        raise ExportError(msg)

    def ctx(*holds: str) -> Context:
        return Context(catalog, options, test_step(options, *holds))

    cases = {
        "warning_level.test.yml": [street_level_test(ctx(*LEVELS))],
        "district_warning_level.test.yml": _if_possible(lambda: area_test(ctx("district"), "district")),
        "city_warning_level.test.yml": _if_possible(lambda: area_test(ctx("city"), "city")),
        **rule_tests_series.cases(ctx), **rule_tests_pipeline.cases(ctx),
    }
    cases = {name: items for name, items in cases.items() if items}
    every = ctx()
    recording = rule_tests_pipeline.recording_tests(every)
    scenarios = [c["scenario"] for items in cases.values() for c in items] + [r.pop("scenario") for r in recording]
    files: dict[str, dict[str, Any]] = {
        name: {"rule_files": [CATALOG_SUBSET, *rule_files], "evaluation_interval": items[0]["scenario"].time(1),
               "tests": [test_item(c) for c in items]} for name, items in cases.items()}
    files["recording.test.yml"] = {"rule_files": [CATALOG_SUBSET, *rule_files],
                                   "evaluation_interval": f"{every.step}s", "tests": recording}
    files[CATALOG_SUBSET] = {"groups": catalog_subset(every, scenarios)}
    files["catalog.test.yml"] = {"rule_files": [catalog_file], "evaluation_interval": "1m",
                                 "tests": [catalog_constants_test(catalog, options)]}
    return files


CATALOG_SUBSET = "catalog_subset.rules.yml"


def _if_possible(make: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """A case, or none when the catalog is too small for it (e.g. districts with too few streets)."""
    try:
        return [make()]
    except ExportError as exc:
        log.warning("rule test left out: %s", exc)
        return []


def catalog_subset(ctx: Context, scenarios: list[Scenario]) -> list[dict[str, Any]]:
    """The catalog rules restricted to the areas the scenarios use: evaluating 1,000 constant street rules
    at every step would make each test file take seconds; ``catalog.test.yml`` checks the full file."""
    streets = {s.labels["street"] for sc in scenarios for s in sc.series if "street" in s.labels}
    districts = {s.labels["district"] for sc in scenarios for s in sc.series if "district" in s.labels}

    def used(labels: dict[str, str]) -> bool:
        return labels["scope"] == "city" or labels.get("street") in streets or (
            labels["scope"] == "district" and labels["district"] in districts)

    return catalog_groups(ctx.catalog, ctx.options, keep_area=used)


def catalog_constants_test(catalog: Catalog, options: AlertingOptions) -> dict[str, Any]:
    """The full catalog file against the catalog: counts per scope and district, every indicator's facts
    and stale limit, and the first street's names."""
    area, info = names.AREA_INFO, names.INDICATOR_INFO
    per_district = {d.id: len(catalog.streets_of(d.id)) for d in catalog.districts}
    first = area_labels(catalog)[1 + len(catalog.districts)]

    def sample(metric: str, labels: dict[str, str], value: float) -> dict[str, Any]:
        inner = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels.items())
        return {"labels": f"{metric}{{{inner}}}" if inner else metric, "value": value}

    tests = [
        ("count by (scope) (" + area + ")",
         [sample("", {"scope": sc}, n) for sc, n in
          (("city", 1), ("district", len(catalog.districts)), ("street", catalog.n_streets))]),
        ("count by (district) (" + area + '{scope="street"})',
         [sample("", {"district": d}, n) for d, n in per_district.items() if n]),
        (info, [sample(info, indicator_labels(i), 1) for i in catalog.indicators]),
        (names.STALE_AFTER, [sample(names.STALE_AFTER, {"indicator": i.id, "domain": i.domain},
                                    options.sensitivity.stale_cadences * i.cadence_s) for i in catalog.indicators]),
        (f'{area}{{street="{first["street"]}"}}', [sample(area, first, 1)]),
    ]
    return {"name": "catalog constants equal the catalog", "interval": "1m", "input_series": [],
            "promql_expr_test": [{"expr": e, "eval_time": "0s", "exp_samples": s} for e, s in tests]}
