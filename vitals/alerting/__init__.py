"""Alerting generated from the catalog: Prometheus recording and alerting rules with promtool unit tests,
an Alertmanager configuration (routes by street, district and city centers, escalation, inhibition,
receivers) with route tests, and notification templates in Chinese and English.

>>> from vitals.catalog import load_catalog
>>> bundle = build_alerting(load_catalog(streets_total=76))
>>> bundle.counts()["alert_names"]
10
"""

from vitals.alerting.bundle import (
    ALERT_RULES,
    ALERTMANAGER_CONFIG,
    CATALOG_RULES,
    RECORDING_RULES,
    ROUTE_TESTS,
    RULE_FILES,
    RULE_TESTS_DIR,
    TEMPLATES,
    AlertingBundle,
    RenderedAlerting,
    build_alerting,
    render_config_dir,
)
from vitals.alerting.options import AlertingOptions, Hold, NotifyTimings, ReceiverSettings, Sensitivity
from vitals.alerting.recorder import Notification, WebhookRecorder
from vitals.alerting.route_cases import RouteCase

__all__ = [
    "ALERTMANAGER_CONFIG", "ALERT_RULES", "CATALOG_RULES", "RECORDING_RULES", "ROUTE_TESTS", "RULE_FILES",
    "RULE_TESTS_DIR", "TEMPLATES", "AlertingBundle", "AlertingOptions", "Hold", "Notification", "NotifyTimings",
    "ReceiverSettings", "RenderedAlerting", "RouteCase", "Sensitivity", "WebhookRecorder", "build_alerting",
    "render_config_dir",
]
