"""Docs that match the code (issue 12): every topic the docs and --help publish on is matched by the default
subscription, and `vitals run --help` names that default."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from vitals_testing import documented_topics

from vitals.cli import build_parser
from vitals.sources.mqtt import MqttSettings


def test_the_default_filter_matches_every_documented_topic() -> None:
    default = MqttSettings().topic
    assert all(mqtt.topic_matches_sub(default, topic) for topic in documented_topics())


def test_run_help_names_the_default_filter() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or getattr(a, "choices", None))
    run_help = sub.choices["run"].format_help()  # type: ignore[index]
    assert f"default {MqttSettings().topic}" in " ".join(run_help.split())
