"""Generated rule tests of the per-series families: early warning, anomaly, stale data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vitals import metric_names as m
from vitals.alerting import names
from vitals.alerting.options import LEVEL_VALUE, Hold
from vitals.alerting.rule_context import Context, value_at_level
from vitals.alerting.rule_scenarios import Result, RuleSpec, Scenario, labels_key, phases


def on_off(hit: float, miss: float, stage: int, dip: int, tail: int) -> list[float | None]:
    """Off, on, a dip, on again, off: the phases every per-series family is tested with."""
    return phases((miss, stage), (hit, stage), (miss, dip), (hit, stage), (miss, tail))


def spike(hit: float, miss: float, stage: int, for_steps: int) -> list[float | None]:
    """On for one step less than ``for``: must never fire (constant ``miss`` when ``for`` is one step)."""
    return phases((miss, stage), (hit, for_steps - 1), (miss, 1)) if for_steps > 1 else [miss]


def checks(ctx: Context, hold: Hold, stage: int, dip: int) -> list[int]:
    end = 3 * stage + dip
    keep = ctx.steps(hold.keep_s)
    return sorted({stage - 1, 2 * stage - 1, 2 * stage + dip // 2, end - 1, end + keep - 1, end + keep + 1})


def series_labels(ctx: Context, street_code: int) -> dict[str, str]:
    street, ind = ctx.catalog.streets[street_code], ctx.catalog.indicators[0]
    return {"indicator": ind.id, "district": street.district_id, "street": street.id}


def samples_where(scenario: Scenario, metric: str, k: int, keep: Any, drop: str | None = None) -> Result:
    """Samples of ``metric`` passing ``keep(labels, value)``, label ``drop`` removed, ``domain`` joined from
    the catalog (the ``* on (indicator) group_left (domain)`` of the rules)."""
    result: Result = {}
    for labels, value in scenario.select(metric, k):
        if keep(labels, value):
            out = {n: v for n, v in labels.items() if n != drop}
            result[labels_key(out)] = value
    return result


def _join_domain(ctx: Context, result: Result) -> Result:
    joined: Result = {}
    for key, value in result.items():
        labels = dict(key)
        if labels["indicator"] in ctx.catalog.indicator_index:
            labels["domain"] = ctx.catalog.indicator(labels["indicator"]).domain
            joined[labels_key(labels)] = value
    return joined


def early_warning_case(ctx: Context) -> dict[str, Any]:
    s = ctx.options.sensitivity
    hold = ctx.options.hold("early_warning")
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    level_value, horizon, within = LEVEL_VALUE[s.early_warning_level], ctx.options.early_warning_horizon, \
        ctx.options.early_warning_horizon_s
    a, b = series_labels(ctx, 0), series_labels(ctx, 1)
    ind = ctx.catalog.indicators[0]
    steps = 3 * stage + dip + tail
    scenario = Scenario(ctx.step, steps)
    domain = {"domain": ind.domain}
    scenario.add(m.WARNING_LEVEL, {**a, **domain}, phases((1, 3 * stage + dip), (level_value, tail)))
    scenario.add(m.WARNING_LEVEL, {**b, **domain}, [1])
    scenario.add(ind.metric, {**a, "stat": "last", "window": "now"}, [value_at_level(ind, 1)])
    scenario.add(m.FORECAST_VALUE, {**a, "horizon": horizon}, [value_at_level(ind, level_value)])
    district_only = {"indicator": b["indicator"], "district": b["district"], "horizon": horizon}  # b: no street value
    scenario.add(m.FORECAST_VALUE, district_only, [value_at_level(ind, 1)])
    soon, later = within * 2 / 3, within * 2
    seconds = phases((later, stage), (soon, stage), (later, dip), (soon, stage + tail))  # the level ends it
    scenario.add(m.SECONDS_TO_THRESHOLD, {**a, "level": s.early_warning_level}, seconds)
    scenario.add(m.FORECAST_LEVEL, {**b, "horizon": horizon}, on_off(level_value, 1, stage, dip, tail))

    def result(k: int) -> Result:
        left = samples_where(scenario, m.SECONDS_TO_THRESHOLD, k,
                           lambda lb, v: lb.get("level") == s.early_warning_level and v <= within,
                           drop="level")
        left = {key: v / 60 for key, v in left.items()}
        right = samples_where(scenario, m.FORECAST_LEVEL, k,
                              lambda lb, v: lb["horizon"] == horizon and v >= level_value, drop="horizon")
        merged = {**{key: within / 60 for key in right}, **left}
        reached = {(lb["indicator"], lb["district"], lb["street"])
                   for lb, v in scenario.select(m.WARNING_LEVEL, k) if v >= level_value}
        return {key: v for key, v in _join_domain(ctx, merged).items()
                if (dict(key)["indicator"], dict(key)["district"], dict(key)["street"]) not in reached}

    rule = RuleSpec(names.EARLY_WARNING, hold, result,
                    {"kind": names.KIND_EARLY, "scope": "street", "severity": s.early_warning_level},
                    ctx.oracle(scenario).early)
    return {"name": "early warning: time to threshold and forecast level, dip does not flap, "
                    "resolves once the level is reached",
            "scenario": scenario, "rules": [rule], "checks": checks(ctx, hold, stage, dip)}


def anomaly_case(ctx: Context) -> dict[str, Any]:
    threshold = ctx.options.sensitivity.anomaly_score
    hold = ctx.options.hold("anomaly")
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    a, b = series_labels(ctx, 0), series_labels(ctx, 1)
    ind = ctx.catalog.indicators[0]
    scenario = Scenario(ctx.step, 3 * stage + dip + tail)
    hit, miss = min(1.0, threshold + 0.05), threshold / 2
    scenario.add(m.ANOMALY_SCORE, a, on_off(hit, miss, stage, dip, tail))
    scenario.add(m.ANOMALY_SCORE, b, spike(hit, miss, stage, ctx.steps(hold.for_s)))
    scenario.add(ind.metric, {**a, "stat": "last", "window": "now"}, [value_at_level(ind, 2)])
    # the exporter's default policy exports the expected band per indicator and district only
    scenario.add(m.EXPECTED_VALUE, {"indicator": a["indicator"], "district": a["district"], "bound": "mid"},
                 [ind.seasonality.base])
    scenario.add(m.ANOMALY_EXPLANATION, {**a, "detector": "isolation_forest", "feature": "residual_z"}, [1])
    rule = RuleSpec(names.ANOMALY, hold,
                    lambda k: _join_domain(ctx, samples_where(scenario, m.ANOMALY_SCORE, k,
                                                              lambda lb, v: v >= threshold)),
                    {"kind": names.KIND_ANOMALY, "scope": "street", "severity": "warning"},
                    ctx.oracle(scenario).anomaly)
    return {"name": "anomaly: fires, spike shorter than for does not, dip does not flap, resolves",
            "scenario": scenario, "rules": [rule], "checks": checks(ctx, hold, stage, dip)}


def stale_case(ctx: Context) -> dict[str, Any]:
    hold = ctx.options.hold("stale")
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    a, b = series_labels(ctx, 0), series_labels(ctx, 1)
    ind = ctx.catalog.indicators[0]
    limit = ctx.options.sensitivity.stale_cadences * ind.cadence_s
    scenario = Scenario(ctx.step, 3 * stage + dip + tail)
    silent = limit + 600
    scenario.add(m.SECONDS_SINCE_LAST_READING, a, on_off(silent, 30, stage, dip, tail))
    scenario.add(m.SECONDS_SINCE_LAST_READING, b, spike(silent, 30, stage, ctx.steps(hold.for_s)))

    def result(k: int) -> Result:
        found = samples_where(scenario, m.SECONDS_SINCE_LAST_READING, k, lambda lb, v: True)
        return {key: v for key, v in _join_domain(ctx, found).items()
                if v > ctx.options.sensitivity.stale_cadences * ctx.catalog.indicator(dict(key)["indicator"]).cadence_s}

    rule = RuleSpec(names.STALE_DATA, hold, result,
                    {"kind": names.KIND_DATA_QUALITY, "scope": "street", "severity": "warning"},
                    ctx.oracle(scenario).stale)
    return {"name": "stale data: fires after stale_cadences cadences, brief silence does not, resolves",
            "scenario": scenario, "rules": [rule], "checks": checks(ctx, hold, stage, dip)}


def cases(ctx: Callable[..., Context]) -> dict[str, list[dict[str, Any]]]:
    """Test cases by file; ``ctx(*holds)`` gives a context whose step suits those anti-flapping timings."""
    return {"early_warning.test.yml": [early_warning_case(ctx("early_warning"))],
            "anomaly.test.yml": [anomaly_case(ctx("anomaly"))], "stale_data.test.yml": [stale_case(ctx("stale"))]}
