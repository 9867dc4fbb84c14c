"""Labelled incident windows: the one type for "this series had an incident from here to there", used by the
training data (:mod:`vitals.training.data`), the forecaster's walk-forward backtest
(:mod:`vitals.forecasting.evaluate`), the window model's trainer and the city backtest
(:mod:`vitals.backtest.city_measures`, where each is an *event*)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelledWindow:
    """An incident window of one series (global series id), UTC ns, and its first orange crossing (``orange_ns``:
    the simulator's noise-free first orange reading or the first measured orange tick; -1 when unknown or none);
    ``incident`` -1 when unknown."""

    series: int
    start_ns: int
    end_ns: int
    orange_ns: int = -1
    incident: int = -1
