"""Generated rule tests of the pipeline families (down, absent, lagging, model not loaded, catalog mismatch) and of
the recording rules (roll-ups computed in Python and compared with Prometheus's)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from vitals import metric_names as m
from vitals.alerting import names
from vitals.alerting.options import LEVEL_VALUE, LEVELS
from vitals.alerting.rule_context import Context
from vitals.alerting.rule_oracle import Oracle
from vitals.alerting.rule_scenarios import Result, RuleSpec, Scenario, labels_key, phases
from vitals.alerting.rule_tests_series import checks, on_off, samples_where
from vitals.catalog import Indicator, Street
from vitals.forecasting.cadence import catalog_cadence

INSTANCES = ("10.0.0.1:9108", "10.0.0.2:9109")


def pipeline_annotations(ctx: Context, summary: str, summary_zh: str, **extra: str
                         ) -> Callable[[dict[str, str], int, float], dict[str, str]]:
    """Annotations of a pipeline alert; ``{instance}`` and ``{value}`` are filled in per alert."""
    link = Oracle(ctx.catalog, ctx.options, Scenario(1, 1)).url(names.DASHBOARD_PIPELINE, {})

    def annotate(labels: dict[str, str], k: int, value: float) -> dict[str, str]:
        fill = {"instance": labels.get("instance", ""), "value": f"{value:.0f}"}
        texts = {"summary": summary.format(**fill), "summary_zh": summary_zh.format(**fill)}
        texts.update({key: text.format(**fill) for key, text in extra.items()})
        return {**texts, "dashboard": link}

    return annotate


def down_case(ctx: Context) -> dict[str, Any]:
    hold, job = ctx.options.hold("pipeline_down"), ctx.options.job
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    scenario = Scenario(ctx.step, 3 * stage + dip + tail)
    one, two = ({"job": job, "instance": i} for i in INSTANCES)
    scenario.add("up", one, on_off(0, 1, stage, dip, tail))
    scenario.add(m.UP, one, [1])
    scenario.add("up", two, [1])
    scenario.add(m.UP, two, phases((1, 2 * stage + dip), (0, stage), (1, tail)))  # flow stopped, server up

    def result(k: int) -> Result:
        down = samples_where(scenario, "up", k, lambda lb, v: lb["job"] == job and v == 0)
        flow = samples_where(scenario, m.UP, k, lambda lb, v: lb["job"] == job and v == 0)
        return {**flow, **down}

    rule = RuleSpec(names.PIPELINE_DOWN, hold, result, {"kind": names.KIND_PIPELINE, "severity": "critical"},
                    pipeline_annotations(ctx, "city-vitals pipeline {instance} is down",
                                         "城市生命体征数据管道 {instance} 已停止"))
    return {"name": "pipeline down: scrape fails or the flow reports down, restart blip does not flap, resolves",
            "scenario": scenario, "rules": [rule], "checks": checks(ctx, hold, stage, dip)}


def absent_case(ctx: Context) -> dict[str, Any]:
    hold, job = ctx.options.hold("pipeline_absent"), ctx.options.job
    stage = ctx.stage(hold)
    scenario = Scenario(ctx.step, 2 * stage)
    scenario.add("up", {"job": job, "instance": INSTANCES[0]}, [1])
    scenario.add(m.UP, {"job": job, "instance": INSTANCES[0]}, phases((None, stage), (1, stage)))

    def result(k: int) -> Result:
        return {} if scenario.select(m.UP, k, job=job) else {labels_key({"job": job}): 1.0}

    rule = RuleSpec(names.PIPELINE_ABSENT, hold, result, {"kind": names.KIND_PIPELINE, "severity": "critical"},
                    pipeline_annotations(ctx, f"no city-vitals pipeline reports to Prometheus (job {job})",
                                         f"没有任何城市生命体征数据管道向 Prometheus 报告（job {job}）"))
    for_steps = ctx.steps(hold.for_s)
    checks_ = sorted({max(for_steps - 1, 0), stage - 1, stage + 1})
    return {"name": "pipeline absent: fires while no flow reports, resolves when one does",
            "scenario": scenario, "rules": [rule], "checks": checks_}


def lagging_case(ctx: Context) -> dict[str, Any]:
    hold, job, lag = ctx.options.hold("lagging"), ctx.options.job, ctx.options.sensitivity.lag_s
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    scenario = Scenario(ctx.step, 3 * stage + dip + tail)
    scenario.add(m.LAG, {"job": job, "instance": INSTANCES[0], "worker": "0"},
                 on_off(lag * 5, lag / 4, stage, dip, tail))
    scenario.add(m.LAG, {"job": job, "instance": INSTANCES[1], "worker": "0"}, [lag / 2])
    rule = RuleSpec(names.PIPELINE_LAGGING, hold,
                    lambda k: samples_where(scenario, m.LAG, k, lambda lb, v: lb["job"] == job and v > lag),
                    {"kind": names.KIND_PIPELINE, "severity": "warning"},
                    pipeline_annotations(ctx, "city-vitals pipeline {instance} lags {value} s behind event time",
                                         "数据管道 {instance} 处理滞后 {value} 秒", lag_s="{value}"))
    return {"name": "pipeline lagging: fires, dip does not flap, resolves", "scenario": scenario, "rules": [rule],
            "checks": checks(ctx, hold, stage, dip)}


def model_case(ctx: Context) -> dict[str, Any]:
    hold, job = ctx.options.hold("model_load"), ctx.options.job
    stage, dip, tail = ctx.stage(hold), ctx.dip(hold), ctx.tail(hold)
    scenario = Scenario(ctx.step, 3 * stage + dip + tail)
    broken = {"job": job, "instance": INSTANCES[0], "family": "forecaster", "version": "v0007"}
    scenario.add(m.MODEL_LOAD_FAILED, broken, on_off(1, 0, stage, dip, tail))
    scenario.add(m.MODEL_LOAD_FAILED, {**broken, "instance": INSTANCES[1], "version": "v0006"}, [0])
    summary = ("city-vitals pipeline {{instance}} cannot load {family} {version} and runs without it (or on the "
               "version before); see its log, then promote a version that loads with `vitals models promote`")
    summary_zh = ("数据管道 {{instance}} 无法加载模型 {family} {version}，正在无此模型（或旧版本）运行；"
                  "请查看日志并用 vitals models promote 发布可加载的版本")
    rule = RuleSpec(names.MODEL_NOT_LOADED, hold,
                    lambda k: samples_where(scenario, m.MODEL_LOAD_FAILED, k,
                                            lambda lb, v: lb["job"] == job and v == 1),
                    {"kind": names.KIND_PIPELINE, "severity": "warning"},
                    lambda lb, k, v: pipeline_annotations(ctx, summary.format(**lb), summary_zh.format(**lb))(lb, k, v))
    return {"name": "model not loaded: fires, dip does not flap, resolves", "scenario": scenario, "rules": [rule],
            "checks": checks(ctx, hold, stage, dip)}


def mismatch_case(ctx: Context) -> dict[str, Any]:
    hold = ctx.options.hold("catalog_mismatch")
    for_steps = ctx.steps(hold.for_s)
    lifetime = for_steps + 4
    scenario = Scenario(ctx.step, lifetime + 4)
    street, ind = ctx.catalog.streets[0], ctx.catalog.indicators[0]
    known = {"indicator": ind.id, "domain": ind.domain, "district": street.district_id, "street": street.id}
    scenario.add(m.WARNING_LEVEL, known, [0])
    scenario.add(m.WARNING_LEVEL, {**known, "indicator": "not_in_catalog", "domain": "water"}, [0] * lifetime,
                 ends=True)
    scenario.add(m.WARNING_LEVEL, {**known, "street": "not_in_catalog_s1"}, [0] * lifetime, ends=True)
    known_streets = set(ctx.catalog.street_index)

    def counted(by: tuple[str, ...], k: int) -> dict[tuple[str, ...], float]:
        counts: dict[tuple[str, ...], float] = defaultdict(float)
        for labels, _ in scenario.select(m.WARNING_LEVEL, k):
            counts[tuple(labels[n] for n in by)] += 1
        return counts

    def unknown_indicators(k: int) -> Result:
        return {labels_key({"indicator": i}): n for (i,), n in counted(("indicator",), k).items()
                if i not in ctx.catalog.indicator_index}

    def unknown_streets(k: int) -> Result:
        return {labels_key({"district": d, "street": s}): n for (d, s), n in counted(("district", "street"), k).items()
                if s not in known_streets}

    rebuild = "rebuild the rules with `vitals alerts build` from the pipeline's catalog"
    labels = {"kind": names.KIND_PIPELINE, "severity": "warning"}
    rules = [
        RuleSpec(names.CATALOG_MISMATCH, hold, unknown_indicators, {**labels, "unknown": "indicator"},
                 lambda lb, k, v: pipeline_annotations(
                     ctx, f"indicator {lb['indicator']} is exported but not in the alerting catalog; {rebuild}",
                     f"指标 {lb['indicator']} 不在告警规则的目录中，请用 vitals alerts build 重新生成规则")(lb, k, v)),
        RuleSpec(names.CATALOG_MISMATCH, hold, unknown_streets, {**labels, "unknown": "street"},
                 lambda lb, k, v: pipeline_annotations(
                     ctx, f"street {lb['street']} is exported but not in the alerting catalog; {rebuild}",
                     f"街道 {lb['street']} 不在告警规则的目录中，请用 vitals alerts build 重新生成规则")(lb, k, v)),
    ]
    return {"name": "catalog mismatch: unknown indicator and street fire after for, resolve when they go",
            "scenario": scenario, "rules": rules, "checks": sorted({max(for_steps - 1, 0), lifetime - 1, lifetime + 1})}


def cases(ctx: Callable[..., Context]) -> dict[str, list[dict[str, Any]]]:
    """Test cases by file (one step per file: the pipeline cases share theirs)."""
    pipeline = ctx("pipeline_down", "pipeline_absent", "lagging", "model_load")
    return {"pipeline.test.yml": [down_case(pipeline), absent_case(pipeline), lagging_case(pipeline),
                                  model_case(pipeline)],
            "catalog_mismatch.test.yml": [mismatch_case(ctx("catalog_mismatch"))]}


# ---- recording rules --------------------------------------------------------------------------------------
def _aggregate(rows: list[tuple[dict[str, str], float]], by: tuple[str, ...], how: str) -> dict[tuple[str, ...], float]:
    groups: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for labels, value in rows:
        groups[tuple(labels[n] for n in by)].append(value)
    return {key: _REDUCERS[how](values) for key, values in groups.items()}


_REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "max": max, "min": min, "count": lambda v: float(len(v)), "avg": lambda v: sum(v) / len(v),
}


def _samples(record: str, by: tuple[str, ...], values: dict[tuple[str, ...], float], **extra: str
             ) -> list[dict[str, Any]]:
    out = []
    for key, value in sorted(values.items()):
        labels = {**dict(zip(by, key, strict=True)), **extra}
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        out.append({"labels": f"{record}{{{inner}}}" if inner else record, "value": value})
    return out


def recording_tests(ctx: Context) -> list[dict[str, Any]]:
    """Two districts of two streets, two indicators: every level and vital roll-up against a Python oracle."""
    pairs = [ctx.catalog.streets_of(d.id)[:2] for d in ctx.catalog.districts if len(ctx.catalog.streets_of(d.id)) > 1]
    streets = [*pairs[0], *pairs[1]] if len(pairs) > 1 else list(ctx.catalog.streets[:4])
    inds = ctx.catalog.indicators[:2]
    levels = {(0, 0): 3, (0, 1): 1, (0, 2): 0, (0, 3): 2, (1, 0): 0, (1, 1): 4, (1, 2): 1, (1, 3): 1}
    scenario = Scenario(ctx.step, 5)
    rows = []
    for (i, j), value in levels.items():
        labels = {"indicator": inds[i].id, "domain": inds[i].domain, "district": streets[j].district_id,
                  "street": streets[j].id}
        rows.append((labels, float(value)))
        scenario.add(m.WARNING_LEVEL, labels, [value])
    expect: list[tuple[str, list[dict[str, Any]]]] = []
    by_ind_district = _aggregate(rows, ("indicator", "domain", "district"), "max")
    expect.append((names.INDICATOR_DISTRICT_LEVEL_MAX,
                   _samples(names.INDICATOR_DISTRICT_LEVEL_MAX, ("indicator", "domain", "district"), by_ind_district)))
    by: tuple[str, ...]
    for record, by in ((names.DOMAIN_DISTRICT_LEVEL_MAX, ("domain", "district")),
                       (names.DISTRICT_LEVEL_MAX, ("district",)), (names.INDICATOR_LEVEL_MAX, ("indicator", "domain")),
                       (names.DOMAIN_LEVEL_MAX, ("domain",)), (names.CITY_LEVEL_MAX, ())):
        expect.append((record, _samples(record, by, _aggregate(rows, by, "max"))))
    for level in LEVELS:
        exact = [(lb, v) for lb, v in rows if v == LEVEL_VALUE[level]]
        per_district = _aggregate(exact, ("district",), "count")
        expect.append((f'{names.DISTRICT_SERIES_AT_LEVEL}{{severity="{level}"}}',
                       _samples(names.DISTRICT_SERIES_AT_LEVEL, ("district",), per_district, severity=level)))
        above = [(lb, v) for lb, v in rows if v >= LEVEL_VALUE[level]]
        per_ind = ("indicator", "domain", "district")
        counts, totals = _aggregate(above, per_ind, "count"), _aggregate(rows, per_ind, "count")
        expect.append((f'{names.STREETS_AT_OR_ABOVE}{{severity="{level}"}}',
                       _samples(names.STREETS_AT_OR_ABOVE, per_ind, counts, severity=level)))
        expect.append((f'{names.STREETS_AT_OR_ABOVE_RATIO}{{severity="{level}"}}',
                       _samples(names.STREETS_AT_OR_ABOVE_RATIO, per_ind,
                                {k: c / totals[k] for k, c in counts.items()}, severity=level)))
    city_counts = {(lv,): float(sum(v == LEVEL_VALUE[lv] for _, v in rows)) for lv in LEVELS}
    expect.append((names.CITY_SERIES_AT_LEVEL, _samples(names.CITY_SERIES_AT_LEVEL, ("severity",),
                                                          {k: v for k, v in city_counts.items() if v})))
    expect += _vital_expectations(ctx, scenario, streets, inds)
    # evaluated a few steps in: rules that read other groups' results may see them one evaluation late
    tests = [{"expr": expr, "eval_time": scenario.time(3), "exp_samples": samples} for expr, samples in expect]
    return [{"name": "roll-ups street -> district -> city against a Python oracle", "interval": f"{ctx.step}s",
             "input_series": scenario.input_series(), "promql_expr_test": tests, "scenario": scenario}]


def _vital_expectations(ctx: Context, scenario: Scenario, streets: Sequence[Street], inds: Sequence[Indicator]
                        ) -> list[tuple[str, list[dict[str, Any]]]]:
    health = [90.0, 70.0, 80.0, 50.0]
    area_levels = [3.0, 1.0, 0.0, 2.0]
    scores = [0.2, 0.7, 0.95, 0.1]
    silent = [ctx.options.sensitivity.stale_cadences * inds[0].cadence_s + 60, 10.0, 10.0, 10.0]
    rows: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    middle, longest = catalog_cadence(ctx.catalog).horizon_labels[1:]  # the catalog's horizons (30m, 1h at 5 min)
    for j, street in enumerate(streets):
        area = {"scope": "street", "district": street.district_id, "street": street.id}
        series = {"indicator": inds[0].id, "district": street.district_id, "street": street.id}
        for metric, labels, value in ((m.HEALTH_INDEX, area, health[j]), (m.AREA_WARNING_LEVEL, area, area_levels[j]),
                                      (m.ANOMALY_SCORE, series, scores[j]),
                                      (m.SECONDS_SINCE_LAST_READING, series, silent[j]),
                                      (m.FORECAST_LEVEL, {**series, "horizon": middle}, float(j % 3)),
                                      (m.FORECAST_LEVEL, {**series, "horizon": longest}, float((j + 1) % 5))):
            scenario.add(metric, labels, [value])
            rows[metric].append((labels, value))
    district_min = _aggregate(rows[m.HEALTH_INDEX], ("district",), "min")
    stale = [({**lb, "domain": inds[0].domain}, v) for lb, v in rows[m.SECONDS_SINCE_LAST_READING]
             if v > ctx.options.sensitivity.stale_cadences * inds[0].cadence_s]
    by_dh = ("district", "horizon")
    plan: list[tuple[str, tuple[str, ...], dict[tuple[str, ...], float]]] = [
        (names.DISTRICT_HEALTH_MIN, ("district",), district_min),
        (names.CITY_HEALTH_MIN, (), {(): min(district_min.values())}),
        (names.DISTRICT_AREA_LEVEL_MAX, ("district",), _aggregate(rows[m.AREA_WARNING_LEVEL], ("district",), "max")),
        (names.CITY_AREA_LEVEL_MAX, (), _aggregate(rows[m.AREA_WARNING_LEVEL], (), "max")),
        (names.INDICATOR_DISTRICT_ANOMALY_MAX, ("indicator", "district"),
         _aggregate(rows[m.ANOMALY_SCORE], ("indicator", "district"), "max")),
        (names.DISTRICT_ANOMALY_MAX, ("district",), _aggregate(rows[m.ANOMALY_SCORE], ("district",), "max")),
        (names.DISTRICT_FORECAST_LEVEL_MAX, by_dh, _aggregate(rows[m.FORECAST_LEVEL], by_dh, "max")),
        (names.CITY_FORECAST_LEVEL_MAX, ("horizon",), _aggregate(rows[m.FORECAST_LEVEL], ("horizon",), "max")),
        (names.INDICATOR_DISTRICT_STALE, ("indicator", "domain", "district"),
         _aggregate(stale, ("indicator", "domain", "district"), "count")),
    ]
    return [(record, _samples(record, by, values)) for record, by, values in plan]
