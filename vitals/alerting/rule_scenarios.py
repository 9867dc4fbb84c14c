"""The machinery of the generated ``promtool test rules`` files: input series laid out in phases, and an
independent model of how Prometheus turns an expression's result into firing alerts (``for`` and
``keep_firing_for``), which gives the expected alerts at each check time.

Each rule family's scenario (see :mod:`vitals.alerting.rule_tests`) computes the result of its expression
in plain Python from the input values; promtool then checks that Prometheus agrees, labels and expanded
annotations included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vitals.alerting.options import Hold, format_duration

Labels = tuple[tuple[str, str], ...]  # sorted label pairs: hashable
Result = dict[Labels, float]          # an instant vector: labels -> value
STALE = "stale"


def labels_key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def phases(*parts: tuple[float | None, int]) -> list[float | None]:
    """Values of one series: ``(value, steps)`` pairs one after another (None: no sample)."""
    return [value for value, steps in parts for _ in range(steps)]


@dataclass
class InputSeries:
    metric: str
    labels: dict[str, str]
    values: list[float | None]
    ends: bool = False  # a stale marker follows the last value

    def selector(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.metric}{{{inner}}}"

    def at(self, k: int) -> float | None:
        return self.values[k] if k < len(self.values) else None

    def notation(self) -> str:
        """promtool's expanding notation: runs of equal samples, ``_`` for no sample, ``stale`` at the end."""
        tokens = [("_" if v is None else _number(v)) for v in self.values]
        if self.ends:
            tokens.append(STALE)
        runs: list[list[Any]] = []
        for token in tokens:
            if runs and runs[-1][0] == token and token != STALE:
                runs[-1][1] += 1
            else:
                runs.append([token, 1])
        return " ".join(_run(token, n) for token, n in runs)


def _run(token: str, n: int) -> str:
    """``vxN`` stands for N+1 samples of v, but ``_xN`` for N missing samples."""
    if n == 1:
        return token
    return f"_x{n}" if token == "_" else f"{token}x{n - 1}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Scenario:
    """Input series sampled every ``step`` seconds for ``steps`` samples."""

    step: int
    steps: int
    series: list[InputSeries] = field(default_factory=list)

    def add(self, metric: str, labels: dict[str, str], values: Sequence[float | None],
            ends: bool = False) -> InputSeries:
        padded = list(values)[: self.steps]
        if not ends:
            padded += [padded[-1]] * (self.steps - len(padded))
        s = InputSeries(metric, dict(labels), padded, ends)
        self.series.append(s)
        return s

    def select(self, metric: str, k: int, **match: str) -> list[tuple[dict[str, str], float]]:
        """Samples of ``metric`` at step ``k`` whose labels include ``match``."""
        found = []
        for s in self.series:
            value = s.at(k)
            if s.metric == metric and value is not None and all(s.labels.get(n) == v for n, v in match.items()):
                found.append((s.labels, value))
        return found

    def value(self, metric: str, k: int, **match: str) -> float | None:
        found = self.select(metric, k, **match)
        return found[0][1] if found else None

    def input_series(self) -> list[dict[str, str]]:
        return [{"series": s.selector(), "values": s.notation()} for s in self.series]

    def time(self, k: int) -> str:
        return format_duration(k * self.step)


@dataclass
class RuleSpec:
    """One alerting rule as the oracle sees it."""

    alertname: str
    hold: Hold
    result: Callable[[int], Result]                       # the expression's result at step k
    labels: dict[str, str]                                 # the rule's static labels
    annotations: Callable[[dict[str, str], int, float], dict[str, str]]  # (alert labels, step, value)


def firing_over_time(result: Callable[[int], Result], hold: Hold, step: int, steps: int
                     ) -> list[dict[Labels, tuple[int, float]]]:
    """For each step, the firing alerts: labels -> (last step the expression returned them, value then).

    Prometheus 2.42 semantics: a new result is pending from its first step; it fires once it has been
    returned continuously for ``for``; a firing alert that is no longer returned keeps firing while less
    than ``keep_firing_for`` has passed since it was first missing; a pending one is dropped at once.
    Annotations and value stay those of the last evaluation that returned the series."""
    states: dict[Labels, dict[str, Any]] = {}
    history = []
    for k in range(steps):
        t = k * step
        now = result(k)
        for key, value in now.items():
            state = states.setdefault(key, {"active_at": t, "firing": False})
            state.update(keep_since=None, last=k, value=value)
        for key in list(states):
            state = states[key]
            if key in now:
                state["firing"] = state["firing"] or t - state["active_at"] >= hold.for_s
                continue
            keep = False
            if state["firing"] and hold.keep_s > 0:
                if state["keep_since"] is None:
                    state["keep_since"] = t
                keep = t - state["keep_since"] < hold.keep_s
            if not keep:
                del states[key]
        history.append({key: (s["last"], s["value"]) for key, s in states.items() if s["firing"]})
    return history


def expected_alerts(rules: Sequence[RuleSpec], scenario: Scenario, checks: Sequence[int]) -> list[dict[str, Any]]:
    """promtool ``alert_rule_test`` entries: at each check step, every firing alert of each alertname."""
    per_rule = [firing_over_time(r.result, r.hold, scenario.step, scenario.steps) for r in rules]
    entries = []
    for alertname in dict.fromkeys(r.alertname for r in rules):
        for k in checks:
            alerts = []
            for rule, history in zip(rules, per_rule, strict=True):
                if rule.alertname != alertname:
                    continue
                for key, (last, value) in sorted(history[k].items()):
                    labels = {**dict(key), **rule.labels}
                    alerts.append({"exp_labels": labels, "exp_annotations": rule.annotations(labels, last, value)})
            entries.append({"eval_time": scenario.time(k), "alertname": alertname, "exp_alerts": alerts})
    return entries
