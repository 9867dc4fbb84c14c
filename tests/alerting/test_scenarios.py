"""The rule-test machinery: promtool's series notation and the model of for / keep_firing_for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vitals.alerting.options import Hold, format_duration, parse_duration
from vitals.alerting.rule_scenarios import InputSeries, firing_over_time, labels_key


def expand(notation: str) -> list[float | None]:
    """promtool's reading of a values string (the subset the generator writes): ``vxN`` is N+1 samples of
    v, ``_xN`` is N missing samples, ``stale`` ends the series."""
    out: list[float | None] = []
    for token in notation.split():
        if token == "stale":
            break
        value, _, times = token.partition("x")
        if value == "_":
            out += [None] * (int(times) if times else 1)
        else:
            out += [float(value)] * (int(times) + 1 if times else 1)
    return out


values = st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.0, 0.95, 1200.0, -2.5, 1e-05])), min_size=1,
                  max_size=40)


@given(values, st.booleans())
def test_notation_round_trips(samples: list[float | None], ends: bool) -> None:
    series = InputSeries("m", {"a": "b"}, samples, ends=ends)
    text = series.notation()
    assert expand(text) == samples
    assert text.endswith("stale") == ends


@given(st.integers(min_value=0, max_value=200_000))
def test_durations_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def run(active: list[int], hold: Hold, step: int = 30) -> list[bool]:
    """Firing state at each step of one series that the expression returns where ``active`` is 1."""
    key = labels_key({"s": "1"})
    history = firing_over_time(lambda k: {key: 1.0} if active[k] else {}, hold, step, len(active))
    return [key in h for h in history]


def test_for_delays_firing_and_a_shorter_spike_never_fires() -> None:
    hold = Hold("1m", "0s")
    assert run([1, 1, 1, 1], hold) == [False, False, True, True]
    assert run([1, 0, 1, 0, 1], hold) == [False] * 5


def test_zero_for_fires_at_once() -> None:
    assert run([0, 1, 0], Hold("0s", "0s")) == [False, True, False]


def test_keep_firing_for_bridges_a_dip_and_then_resolves() -> None:
    hold = Hold("30s", "1m30s")
    #         pending fire  dip  dip   back  off   off   off   gone
    active = [1,      1,    0,   0,    1,    0,    0,    0,    0]
    assert run(active, hold) == [False, True, True, True, True, True, True, True, False]


def test_pending_alert_is_not_kept() -> None:
    assert run([1, 0, 0], Hold("1m", "5m")) == [False, False, False]
