"""Sources and sinks have their own settings sections (vitals.config, vitals.sources.registry): the config file's
``sources:``/``sinks:`` sections, the flat ``<source>_<key>`` spelling of the flags and variables, and one-line
errors for unknown names and keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from vitals.config import load_settings
from vitals.errors import ConfigError
from vitals.sources.kafka import KafkaSettings
from vitals.sources.mqtt import MqttSettings
from vitals.sources.registry import SOURCES
from vitals.stream.sinks import SINKS


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.yaml"
    path.write_text(text)
    return path


def test_a_section_per_source_in_the_config_file(tmp_path: Path) -> None:
    path = _config(tmp_path, "source: mqtt\nsources:\n  mqtt: {host: broker.city, port: 8883, tls: yes}\n"
                             "  kafka: {brokers: 'k1:9092,k2:9092'}\n")
    s = load_settings(path, {})
    assert s.source_settings() == MqttSettings(host="broker.city", port=8883, tls=True)
    assert s.source_settings("kafka") == KafkaSettings(brokers="k1:9092,k2:9092")
    assert s.source_settings("simulator").seed == 42  # a source without a section has its defaults


def test_flags_and_variables_fill_the_sections_in_order(tmp_path: Path) -> None:
    path = _config(tmp_path, "source: mqtt\nmqtt_host: from-file\nsources:\n  mqtt: {topic: 'city/a/#', port: 1}\n")
    env = {"VITALS_MQTT_PORT": "1884", "VITALS_MQTT_PASSWORD": "not a setting", "VITALS_SEED": "7"}
    s = load_settings(path, env, mqtt_topic="city/b/#", path="var/day.parquet")
    assert s.source_settings() == MqttSettings(host="from-file", port=1884, topic="city/b/#")
    assert s.source_settings("simulator").seed == 7 and s.source_settings("file").path == "var/day.parquet"
    assert s.replace(mqtt_port=1999).source_settings() == MqttSettings(host="from-file", port=1999, topic="city/b/#")


@pytest.mark.parametrize(("text", "message"), [
    ("sources:\n  mqtt: {hots: x}\n", r"sources\.mqtt: unknown setting\(s\) hots; known: host, port"),
    ("mqtt_hots: x\n", r"sources\.mqtt: unknown setting\(s\) hots"),
    ("sources:\n  mqq: {host: x}\n", r"unknown source 'mqq'; known: file, kafka, mqtt, simulator"),
    ("sinks:\n  nowhere: {}\n", r"unknown sink 'nowhere'"),
    ("sources: [mqtt]\n", r"sources must map a name"),
    ("sources:\n  mqtt: {port: eighty}\n", r"sources\.mqtt\.port='eighty' is not a valid int"),
    ("colour: blue\n", r"unknown setting\(s\) colour"),
])
def test_unknown_names_and_keys_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(_config(tmp_path, text), {})
    assert "\n" not in str(err.value) and str(_config(tmp_path, text)) in str(err.value)


def test_the_selected_source_is_validated() -> None:
    with pytest.raises(ConfigError, match="mqtt_cert_file and mqtt_key_file go together"):
        load_settings(None, {}, source="mqtt", mqtt_cert_file="c.pem")
    with pytest.raises(ConfigError, match="source='nowhere' must be one of file, kafka, mqtt, simulator"):
        load_settings(None, {}, source="nowhere")
    with pytest.raises(ConfigError, match="unknown setting colour"):
        load_settings(None, {}, colour="blue")


def test_a_registered_source_and_sink_get_sections(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Counter:
        start: int = 0
        step: float = 1.0

        def problems(self) -> list[str]:
            return [] if self.step > 0 else ["step must be > 0"]

    @dataclass(frozen=True)
    class Nothing:
        output: ClassVar[str] = "published"
        label: str | None = None

    SOURCES.register("counter_test", Counter)
    SINKS.register("nothing_test", Nothing)
    try:
        path = _config(tmp_path, "source: counter_test\nsources:\n  counter_test: {start: 5}\n"
                                 "sinks:\n  nothing_test: {label: x}\n")
        s = load_settings(path, {"VITALS_COUNTER_TEST_STEP": "2.5"})
        assert s.source_settings() == Counter(5, 2.5) and s.sinks == {"nothing_test": Nothing("x")}
        with pytest.raises(ConfigError, match="step must be > 0"):
            load_settings(path, {}, counter_test_step=0)
    finally:
        SOURCES.unregister("counter_test")
        SINKS.unregister("nothing_test")
    assert "counter_test" not in SOURCES


def test_the_history_is_a_sink_filled_by_its_flat_keys(tmp_path: Path) -> None:
    from vitals.stream.outputs import HistorySettings

    s = load_settings(None, {"VITALS_HISTORY_DIR": "var/history"}, history_chunk_rows=3000)
    assert s.sinks == {"history": HistorySettings(dir="var/history", chunk_rows=3000)}
    assert load_settings(None, {}).sinks == {}  # no history unless asked
    section = load_settings(_config(tmp_path, "sinks:\n  history: {dir: h}\n"), {})
    assert section.sinks["history"] == HistorySettings(dir="h")
    with pytest.raises(ConfigError, match="sink history: needs a directory"):
        load_settings(None, {}, history_chunk_rows=3000)


def test_pace_from_reaches_the_paced_sources_from_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.connectors import FileReplaySource, SimulatorSource
    from pipelines.runner import RUNNER
    from pipelines.sources import make_source
    from vitals.catalog import load_catalog
    from vitals.cli import main
    from vitals.sources.base import Pacing

    day = tmp_path / "day.csv"
    day.write_text("ts,indicator,area,sensor,value\n")
    flags = ["--speed", "60", "--pace-from", "2025-06-02T08:00+08:00", "--metrics-port", "0", "--dry-run",
             "--dead-letters", str(tmp_path / "dead.jsonl")]
    assert main(["replay", str(day), *flags], runner=RUNNER) == 0
    assert "pace_from='2025-06-02T08:00+08:00'" in capsys.readouterr().out
    catalog = load_catalog(streets_total=40)
    expected = Pacing(60.0, from_ns=1_748_822_400 * 10**9)  # 2025-06-02T00:00Z
    file_run = load_settings(None, {}, source="file", path=str(day), speed=60, pace_from="2025-06-02T08:00+08:00")
    file_source = make_source(catalog, file_run)
    assert isinstance(file_source, FileReplaySource) and file_source.pacing == expected
    sim_source = make_source(catalog, file_run.replace(source="simulator"))
    assert isinstance(sim_source, SimulatorSource) and sim_source.pacing == expected
    assert make_source(catalog, file_run.replace(pace_from="2025-06-02T00:00Z")).pacing == expected
    assert make_source(catalog, load_settings(None, {}, source="file", path=str(day), speed=60)).pacing == Pacing(60.0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"pace_from": "2025-06-02T08:00"}, r"pace_from '2025-06-02T08:00' must be an ISO 8601 time with a time zone"),
    ({"pace_from": "2025-06-02T08:00Z", "speed": 0}, r"pace_from applies to a paced replay"),
    ({"pace_from": "2025-06-02T08:00Z", "source": "mqtt"}, r"pace_from applies to a paced replay"),
])
def test_pace_from_is_validated(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, {}, **{"speed": 60, **changes})


@pytest.mark.parametrize("case", [
    ("speed: 60\npace_from: 2025-06-02T08:00:00+08:00\n", [], {}, 60.0),  # the config's speed, not replay's 0
    ("", [], {}, 0.0),                                                    # nothing set: as fast as possible
    ("", [], {"VITALS_SPEED": "30"}, 30.0),
    ("speed: 60\n", ["--speed", "0"], {}, 0.0),                           # the flag wins
])
def test_replay_takes_the_speed_of_its_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              case: tuple[str, list[str], dict[str, str], float]) -> None:
    """Before, `vitals replay --config` replaced the config's speed by its flag's default 0: a drill ran as fast as
    possible, or a config's pace_from was refused as 'speed > 0' with speed: 60 in the same file."""
    from pipelines.runner import RUNNER
    from vitals.cli import main

    config, flags, environ, speed = case
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    day = tmp_path / "day.csv"
    day.write_text("ts,indicator,area,sensor,value\n")
    (tmp_path / "c.yaml").write_text(config or "{}\n")
    assert main(["replay", str(day), "--config", str(tmp_path / "c.yaml"), *flags, "--metrics-port", "0",
                 "--dry-run", "--dead-letters", str(tmp_path / "dead.jsonl")], runner=RUNNER) == 0
    assert f"speed={speed}," in capsys.readouterr().out


@pytest.mark.parametrize(("text", "message"), [
    ("scoring: ture\n", r"scoring='ture' is not a valid bool \(true/false"),
    ("scoring: 3\n", r"scoring=3 is not a valid bool"),
    ("sources:\n  kafka: {stop_at_end: maybe}\n", r"sources\.kafka\.stop_at_end='maybe' is not a valid bool"),
    ("batch_size: 100\nshards: 2\nbatch_size: 20\n",
     r"not valid YAML: found the key 'batch_size' a second time \(first at line 1\) at line 3, column 1"),
    ("sources:\n  mqtt: {host: a, host: b}\n", r"found the key 'host' a second time"),
    ("batch_size: [1,\n", r"not valid YAML: while parsing a flow node: expected the node content.* at line 2, "
                          r"column 1"),
])
def test_a_mistyped_switch_or_a_key_given_twice_is_an_error_not_a_silent_value(tmp_path: Path, text: str,
                                                                                 message: str) -> None:
    """Before: any text but 1/true/yes/on was off (``scoring: ture`` ran without scoring), the last of two equal
    keys won without a word, and a YAML syntax error printed PyYAML's four-line excerpt."""
    with pytest.raises(ConfigError, match=message) as err:
        load_settings(_config(tmp_path, text), {})
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("environ", "scoring"), [
    ({"VITALS_SCORING": "off"}, False), ({"VITALS_SCORING": "No"}, False), ({"VITALS_SCORING": "0"}, False),
    ({"VITALS_SCORING": ""}, False), ({"VITALS_SCORING": "on"}, True), ({"VITALS_SCORING": "TRUE"}, True),
])
def test_switches_keep_their_spellings(environ: dict[str, str], scoring: bool) -> None:
    assert load_settings(None, environ).scoring is scoring
    with pytest.raises(ConfigError, match=r"scoring='nein' is not a valid bool"):
        load_settings(None, {"VITALS_SCORING": "nein"})


@pytest.mark.parametrize(("cluster", "message"), [
    ({"process_id": 1}, r"process_id 1 needs addresses \(-a H:P;H:P\)"),
    ({"process_id": 0, "addresses": "127.0.0.1:5001;127.0.0.1:5001"}, "addresses name one process twice"),
])
def test_half_a_cluster_is_refused(cluster: dict[str, object], message: str) -> None:
    """Before: a process id without addresses ran alone over every partition (each such process read the whole
    input); a repeated address waited for a peer that could never come. (Addresses without a process id: the
    preflight, tests/pipelines/test_preflight.py: they are fine for a scrape config.)"""
    with pytest.raises(ConfigError, match=message):
        load_settings(None, {}, **cluster)
    load_settings(None, {}, process_id=0, addresses="127.0.0.1:5001")  # a cluster of one is fine
