"""The compact live terminal view of ``vitals demo``: city health, counts by warning level, the worst
districts, readings per second, and the latest alert notifications."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import numpy as np

from vitals.alerting.routing import CITY_CENTER, DISTRICT_CENTERS, STREET_CENTERS
from vitals.catalog import LEVEL_NAMES, LEVEL_NAMES_ZH, Catalog
from vitals.exporter import ExportHub
from vitals.health.rollup import HealthView
from vitals.textwidth import cell, pad

_COLOURS = {0: "\033[32m", 1: "\033[34m", 2: "\033[33m", 3: "\033[38;5;208m", 4: "\033[31m"}
_RESET = "\033[0m"


@dataclass(frozen=True)
class Notification:
    """One alert notification as the demo shows it: what (``indicator``), where (``area``), how bad (``level``:
    a colour, or the severity of a non-level alert) and of which ``kind`` (level, early warning, anomaly ...)."""

    received: datetime
    status: str
    name: str
    severity: str
    where: str
    indicator: str = ""
    kind: str = ""
    receivers: tuple[str, ...] = ()  # the centers it reached (an escalated alert: street, district and city)
    key: str = ""                    # the alert (status, fingerprint, start): deliveries to more centers join it

    @property
    def level(self) -> str:
        """The level in Chinese and English (``橙色 orange``), or the severity as it came."""
        if self.severity in LEVEL_NAMES:
            return f"{LEVEL_NAMES_ZH[LEVEL_NAMES.index(self.severity)]} {self.severity}"
        return self.severity


_KINDS = {"level": "level", "early_warning": "forecast", "anomaly": "anomaly", "data_quality": "data",
          "pipeline": "pipeline"}


def describe_alert(alert: dict[str, Any], catalog: Catalog | None = None) -> tuple[str, str]:
    """(indicator, area) of an Alertmanager webhook alert in words: catalog names by the ``indicator``,
    ``district`` and ``street`` labels, else the alert's ``indicator_zh`` / ``place_zh`` annotations, else the ids
    (a city-wide alert names the city; a pipeline alert has no area: ``-``)."""
    labels, notes = alert.get("labels", {}), alert.get("annotations", {})
    ind_id, district, street = labels.get("indicator"), labels.get("district"), labels.get("street")
    names = _CatalogNames(catalog)
    indicator = names.indicator(ind_id) or str(notes.get("indicator_zh") or ind_id or "")
    known = [n for n in (names.district(district), names.street(street)) if n]
    if known:
        return indicator, " ".join(known)
    if district or street:
        return indicator, str(notes.get("place_zh") or "/".join(v for v in (district, street) if v))
    if labels.get("scope") == "city":
        return indicator, catalog.city.name_zh if catalog is not None else "city"
    return indicator, "-"


class _CatalogNames:
    def __init__(self, catalog: Catalog | None) -> None:
        self.catalog = catalog

    def indicator(self, key: str | None) -> str:
        at = self.catalog.indicator_index.get(key) if self.catalog is not None and key else None
        return self.catalog.indicators[at].name_zh if self.catalog is not None and at is not None else ""

    def district(self, key: str | None) -> str:
        at = self.catalog.district_index.get(key) if self.catalog is not None and key else None
        return self.catalog.districts[at].name_zh if self.catalog is not None and at is not None else ""

    def street(self, key: str | None) -> str:
        at = self.catalog.street_index.get(key) if self.catalog is not None and key else None
        return self.catalog.streets[at].name_zh if self.catalog is not None and at is not None else ""


class NotificationLog:
    """Thread-safe ring of the latest notifications (filled by the demo's webhook receiver). With a catalog,
    indicators and areas are named in Chinese."""

    def __init__(self, size: int = 6, catalog: Catalog | None = None) -> None:
        self._items: deque[Notification] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.catalog = catalog
        self.total = 0

    def add_webhook(self, payload: dict[str, Any]) -> None:
        """Record an Alertmanager webhook payload: one line per alert in it. The same alert delivered to another
        receiver (an escalated one reaches the street, district and city centers) adds that receiver to its line
        instead of a line of its own; ``total`` counts deliveries."""
        now = datetime.now(UTC)
        receiver = str(payload.get("receiver", ""))
        with self._lock:
            for alert in payload.get("alerts", []):
                labels = alert.get("labels", {})
                self.total += 1
                key = _alert_key(alert)
                at = next((k for k, n in enumerate(self._items) if key and n.key == key), None)
                if at is not None:
                    seen = self._items[at]
                    if receiver and receiver not in seen.receivers:
                        receivers = tuple(sorted((*seen.receivers, receiver), key=_tier))
                        self._items[at] = dataclasses.replace(seen, receivers=receivers)
                    continue
                indicator, area = describe_alert(alert, self.catalog)
                self._items.append(Notification(now, str(alert.get("status", "?")),
                                                str(labels.get("alertname", "?")),
                                                str(labels.get("severity", "")), area, indicator,
                                                str(labels.get("kind", "")), (receiver,) if receiver else (), key))

    def latest(self) -> list[Notification]:
        with self._lock:
            return list(self._items)


def _tier(receiver: str) -> tuple[int, str]:
    """Receivers in the order of the centers (street, district, city), then the others by name."""
    order = (STREET_CENTERS, DISTRICT_CENTERS, CITY_CENTER)
    return (order.index(receiver) if receiver in order else len(order), receiver)


def _alert_key(alert: dict[str, Any]) -> str:
    """What identifies one notification of one alert across receivers: status, Alertmanager's fingerprint (or
    the labels) and start."""
    who = alert.get("fingerprint") or json.dumps(alert.get("labels", {}), sort_keys=True)
    return f"{alert.get('status', '?')}|{who}|{alert.get('startsAt', '')}"


def notification_line(n: Notification, colour: bool = False) -> str:
    """``time status level kind indicator area [-> centers]`` in columns that line up with Chinese names; the
    centers (``street district city``) when the alert reached more than one."""
    level = n.level
    if colour and n.severity in LEVEL_NAMES:
        level = _COLOURS[LEVEL_NAMES.index(n.severity)] + level + _RESET
    kind = _KINDS.get(n.kind, n.kind or n.name)
    line = (f"  {n.received:%H:%M:%S} {cell(n.status, 8)} {pad(level, 12)} {cell(kind, 8)} "
            f"{cell(n.indicator or '-', 16)} {n.where}")
    if len(n.receivers) > 1:
        line += "  -> " + " ".join(r.split("-")[0] for r in n.receivers)
    return line


def _level_text(level: int, colour: bool) -> str:
    name = LEVEL_NAMES[int(level)]
    return f"{_COLOURS[int(level)]}{name}{_RESET}" if colour else name


def render_view(
    catalog: Catalog, health: HealthView | None, hub: ExportHub, notifications: NotificationLog | None,
    *, metrics_url: str, extra: list[str] | None = None, colour: bool = True, top: int = 8,
) -> str:
    """The whole screen as text."""
    snap = hub.stats.snapshot()
    lines = [f"city-vitals demo: {catalog.city.name_zh} {catalog.city.name_en}   metrics: {metrics_url}"]
    lines.extend(extra or [])
    rate = snap.readings_per_s
    inputs = sum(p.readings_in for p in snap.partitions.values())
    rejected = sum(snap.rejected().values())
    clock = max((s.last_event_s for s in snap.shards.values() if s.last_event_s == s.last_event_s), default=None)
    when = datetime.fromtimestamp(clock, UTC).strftime("%Y-%m-%d %H:%M UTC") if clock else "-"
    lines.append(f"event time {when}   readings/s {rate:,.0f}   readings {inputs:,}   rejected {rejected:,}")
    if health is None:
        lines.append("waiting for the first vitals ...")
        return "\n".join(lines)
    counts = np.bincount(health.street_level.astype(np.int64), minlength=5)
    level_counts = "  ".join(f"{_level_text(i, colour)} {counts[i]}" for i in range(5))
    lines.append(f"city health {health.city_health:5.1f}  level {_level_text(health.city_level, colour)}   "
                 f"streets by level: {level_counts}")
    reporting = int((health.district_series > 0).sum())
    lines.append(f"districts reporting: {reporting}/{len(catalog.districts)}")
    order = np.lexsort((np.nan_to_num(health.district_health, nan=101.0), -health.district_level.astype(int)))
    lines.append(f"{'worst districts':<32} {'health':>6}  level")
    for d in order[:top]:
        district = catalog.districts[int(d)]
        lines.append(f"  {cell(district.name_zh + ' ' + district.id, 30)} {health.district_health[d]:6.1f}  "
                     f"{_level_text(health.district_level[d], colour)}")
    if notifications is not None:
        lines.append(f"notifications ({notifications.total} in all):")
        lines.extend(notification_line(n, colour) for n in notifications.latest()[::-1])
    return "\n".join(lines)


class LiveView:
    """Redraws :func:`render_view` every ``interval_s`` on ``out`` in a daemon thread."""

    def __init__(self, render: Any, out: TextIO, interval_s: float = 1.0, clear: bool = True) -> None:
        self.render = render
        self.out = out
        self.interval_s = interval_s
        self.clear = clear
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vitals-live-view", daemon=True)

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            text = self.render()
            prefix = "\033[H\033[2J" if self.clear else "\n"
            self.out.write(prefix + text + "\n")
            self.out.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
