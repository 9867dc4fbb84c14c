"""Everything a deployment may tune when generating rules and routes: timings against flapping, alert
sensitivities, notification intervals and receiver addresses. Defaults suit a production Prometheus that
evaluates every 15 s; :meth:`AlertingOptions.quick` suits an end-to-end test with 1 s evaluation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vitals.catalog.model import LEVELS, Catalog
from vitals.errors import ConfigError
from vitals.forecasting.cadence import catalog_cadence
from vitals.metric_names import ANOMALY_THRESHOLD
from vitals.units import DAY_S, duration_label

LEVEL_VALUE: dict[str, int] = {name: i + 1 for i, name in enumerate(LEVELS)}
OTHER_SEVERITIES: tuple[str, ...] = ("warning", "critical")  # anomalies, data quality, pipeline
CHANNELS: tuple[str, ...] = ("webhook", "email", "wechat")

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """Seconds of a Prometheus duration made of d, h, m and s parts ("1h30m", "45s", "1d", "0s")."""
    match = _DURATION.match(text)
    if not text or match is None:
        msg = f"duration {text!r} is not of the form 1d2h30m15s (days, hours, minutes, seconds)"
        raise ConfigError(msg)
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return days * DAY_S + hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: int) -> str:
    """The shortest Prometheus duration text of a whole number of seconds (0 -> "0s"): :func:`duration_label`."""
    return duration_label(int(seconds))


@dataclass(frozen=True)
class Hold:
    """Anti-flapping of one alert: pending for ``for_`` before firing, firing on for ``keep_firing_for``
    after the condition last held (Prometheus >= 2.42)."""

    for_: str
    keep_firing_for: str

    @property
    def for_s(self) -> int:
        return parse_duration(self.for_)

    @property
    def keep_s(self) -> int:
        return parse_duration(self.keep_firing_for)


def _default_holds() -> dict[str, Hold]:
    return {
        "blue": Hold("5m", "5m"), "yellow": Hold("3m", "5m"), "orange": Hold("1m", "5m"), "red": Hold("30s", "5m"),
        "district": Hold("5m", "10m"), "city": Hold("5m", "10m"),
        "early_warning": Hold("2m", "5m"), "anomaly": Hold("5m", "10m"), "stale": Hold("5m", "5m"),
        "pipeline_down": Hold("1m", "2m"), "pipeline_absent": Hold("2m", "0s"), "lagging": Hold("5m", "5m"),
        "catalog_mismatch": Hold("10m", "0s"), "model_load": Hold("2m", "5m"),
    }


def _default_repeat() -> dict[str, str]:
    return {"red": "30m", "orange": "1h", "yellow": "3h", "blue": "6h", "warning": "4h", "critical": "30m"}


@dataclass(frozen=True)
class Sensitivity:
    """When the non-level alerts fire."""

    anomaly_score: float = ANOMALY_THRESHOLD  # calibrated anomaly score (0..1) at or above which a series is anomalous
    early_warning_level: str = "orange"  # early warning: predicted to reach this level ...
    early_warning_horizon_s: int | None = None  # ... within this many seconds (None: the catalog cadence's, 6 steps)
    stale_cadences: float = 3.0          # no reading for this many cadences of the indicator -> stale
    lag_s: float = 120.0                 # event-time lag of the pipeline above which it is lagging
    district_share: float = 0.5          # a district-wide warning needs this share of the district's streets ...
    district_min_streets: int = 3        # ... and at least this many streets at the level
    city_min_districts: int = 3          # a city-wide warning needs this many districts with a district-wide one


@dataclass(frozen=True)
class NotifyTimings:
    """Alertmanager grouping and repetition; repeat intervals per severity."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat: Mapping[str, str] = field(default_factory=_default_repeat)
    resolve_timeout: str = "5m"


@dataclass(frozen=True)
class ReceiverSettings:
    """Where notifications go. Secrets are never part of the generated files: the SMTP password and the
    webhook bearer token are read by Alertmanager from files in ``secrets_dir``, the WeCom API secret is
    a ``${VITALS_WECOM_API_SECRET}`` placeholder filled in from the environment by :func:`render_config_dir`.
    """

    webhook_url: str = "http://127.0.0.1:9095/alerts"  # each receiver posts to <webhook_url>/<receiver>
    grafana_url: str = "http://localhost:3000"         # dashboard links in annotations
    channels: tuple[str, ...] = CHANNELS
    secrets_dir: str = "/etc/city-vitals/secrets"
    webhook_token: bool = False                        # send a bearer token read from <secrets_dir>/webhook_token
    email_domain: str = "ops.example.cn"
    smtp_smarthost: str = "smtp.example.cn:587"
    smtp_from: str = "city-vitals@ops.example.cn"
    smtp_username: str = "city-vitals"
    wecom_corp_id: str = "ww00000000000000"
    wecom_agent_id: str = "1000002"
    wecom_city_party: str = "1"
    wecom_platform_party: str = "2"
    wecom_parties: Mapping[str, str] = field(default_factory=dict)  # district id -> WeCom department id


@dataclass(frozen=True)
class AlertingOptions:
    """All options of :func:`vitals.alerting.build_alerting`; every field has a production default."""

    holds: Mapping[str, Hold] = field(default_factory=_default_holds)
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    notify: NotifyTimings = field(default_factory=NotifyTimings)
    receivers: ReceiverSettings = field(default_factory=ReceiverSettings)
    job: str = "city-vitals"                 # Prometheus job of the pipeline processes
    catalog_interval: str | None = "1m"      # evaluation interval of the constant catalog rules (None = global)

    @property
    def early_warning_horizon_s(self) -> int:
        """The early-warning horizon in seconds (set by :meth:`for_catalog` when the options leave it open)."""
        horizon = self.sensitivity.early_warning_horizon_s
        if horizon is None:
            msg = "the early-warning horizon follows the catalog: call AlertingOptions.for_catalog(catalog) first"
            raise ConfigError(msg)
        return horizon

    @property
    def early_warning_horizon(self) -> str:
        """The ``horizon`` label of the forecasts the early warning reads (its own horizon)."""
        return duration_label(self.early_warning_horizon_s)

    def for_catalog(self, catalog: Catalog) -> AlertingOptions:
        """These options for ``catalog``: the early-warning horizon defaults to its cadence's (30 minutes on the
        5-minute grid, 6 hours on an hourly one) and must be one of its forecast horizons (those on /metrics)."""
        cadence = catalog_cadence(catalog)
        horizon = self.sensitivity.early_warning_horizon_s
        if horizon is None:
            horizon = cadence.early_warning_horizon_s
        elif horizon not in cadence.horizons_s:
            choices = ", ".join(f"{h} ({duration_label(h)})" for h in cadence.horizons_s)
            msg = (f"early_warning_horizon_s {horizon} is not a forecast horizon of this catalog's cadence "
                   f"({cadence.step_s} s grid): choose one of {choices}")
            raise ConfigError(msg)
        return dataclasses.replace(self, sensitivity=dataclasses.replace(self.sensitivity,
                                                                         early_warning_horizon_s=horizon))

    def hold(self, name: str) -> Hold:
        try:
            return self.holds[name]
        except KeyError:
            msg = f"no anti-flapping timing for {name!r}; known: {', '.join(sorted(self.holds))}"
            raise ConfigError(msg) from None

    def with_receivers(self, **changes: Any) -> AlertingOptions:
        return dataclasses.replace(self, receivers=dataclasses.replace(self.receivers, **changes))

    @classmethod
    def quick(cls, webhook_url: str, **receiver_changes: Any) -> AlertingOptions:
        """Short timings for an end-to-end test against Prometheus evaluating every second: alerts fire
        within seconds, resolve 5 s after the condition ends, and repeat only after an hour (so that any
        repeated notification inside a test is a duplicate). Only the webhook channel is configured."""
        holds = {name: Hold("0s" if name in ("red", "orange") else "2s", "5s") for name in _default_holds()}
        return cls(
            holds=holds,
            notify=NotifyTimings(group_wait="1s", group_interval="2s",
                                 repeat={name: "1h" for name in _default_repeat()}, resolve_timeout="1m"),
            receivers=dataclasses.replace(ReceiverSettings(), webhook_url=webhook_url.rstrip("/"),
                                          channels=("webhook",), **receiver_changes),
            catalog_interval=None,
        )

    def validate(self) -> AlertingOptions:
        problems = [f"anti-flapping timing for {name!r} is missing" for name in _default_holds()
                    if name not in self.holds]
        for name, hold in self.holds.items():
            try:
                hold.for_s, hold.keep_s  # noqa: B018 (parse both durations)
            except ConfigError as exc:
                problems.append(f"holds[{name}]: {exc}")
        unknown = sorted(set(self.receivers.channels) - set(CHANNELS))
        if unknown or not self.receivers.channels:
            problems.append(f"channels {list(self.receivers.channels)} must be a non-empty subset of {CHANNELS}")
        if self.sensitivity.early_warning_level not in LEVELS:
            problems.append(f"early_warning_level must be one of {LEVELS}")
        missing = [s for s in (*LEVELS, *OTHER_SEVERITIES) if s not in self.notify.repeat]
        if missing:
            problems.append(f"repeat intervals missing for severities {missing}")
        if not 0 < self.sensitivity.district_share <= 1:
            problems.append("district_share must be in (0, 1]")
        if problems:
            msg = "invalid alerting options: " + "; ".join(problems)
            raise ConfigError(msg)
        return self
