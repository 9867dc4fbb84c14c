"""Issue 12, finding 7: the MQTT source logs in (user name, password from a file or VITALS_MQTT_PASSWORD, never
the command line) and speaks TLS; a refused login or an untrusted broker certificate is one line before the run."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from streaming_support import REPO, vitals_cmd
from vitals_testing import need_binary, self_signed_cert

from vitals.config import load_settings
from vitals.errors import SourceError
from vitals.services import running, start_mosquitto, wait_for
from vitals.sources.mqtt import PASSWORD_ENV, MqttReceiver, mqtt_security

pytestmark = pytest.mark.integration

USER, PASSWORD = "vitals", "b1g secret"


@pytest.fixture
def secure_broker(tmp_path):
    need_binary("mosquitto")
    crt, key = self_signed_cert(tmp_path / "tls")
    passwd = tmp_path / "passwd"
    subprocess.run([need_binary("mosquitto_passwd"), "-c", "-b", str(passwd), USER, PASSWORD], check=True,
                   capture_output=True, timeout=30)
    conf = f"certfile {crt}\nkeyfile {key}\npassword_file {passwd}\n"
    with running(start_mosquitto(tmp_path / "broker", listener_conf=conf, anonymous=False)) as broker:
        yield broker, crt


def _dry_run(port: int, tmp: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = vitals_cmd("run", "--source", "mqtt", "--mqtt-port", str(port), "--metrics-port", "0", "--dry-run",
                      "--dead-letters", tmp / "dead.jsonl", *extra)
    full_env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env={**full_env, **(env or {})})


def test_login_and_tls_pass_preflight_and_bad_ones_are_one_line(secure_broker, tmp_path):
    broker, crt = secure_broker
    good = _dry_run(broker.port, tmp_path, "--mqtt-username", USER, "--mqtt-ca-file", str(crt),
                    env={PASSWORD_ENV: PASSWORD})
    assert good.returncode == 0, good.stderr
    assert PASSWORD not in good.stdout + good.stderr
    cases = {
        "wrong password": (["--mqtt-username", USER, "--mqtt-ca-file", str(crt)], {PASSWORD_ENV: "nope"}, "refused"),
        "no login": (["--mqtt-ca-file", str(crt)], {}, "refused"),
        "untrusted certificate": (["--mqtt-username", USER, "--mqtt-tls"], {PASSWORD_ENV: PASSWORD},
                                  "certificate verify failed"),
        "missing CA file": (["--mqtt-username", USER, "--mqtt-ca-file", str(tmp_path / "none.crt")], {},
                            "--mqtt-ca-file"),
    }
    for name, (args, env, phrase) in cases.items():
        done = _dry_run(broker.port, tmp_path, *args, env=env)
        assert done.returncode == 1, name
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("vitals run: error:") and phrase in lines[0], (name, lines)


def test_a_password_file_and_tls_deliver_messages(secure_broker, tmp_path):
    broker, crt = secure_broker
    (tmp_path / "mqtt-password").write_text(PASSWORD + "\n")
    settings = load_settings(None, {}, source="mqtt", mqtt_username=USER, mqtt_ca_file=str(crt),
                             mqtt_password_file=str(tmp_path / "mqtt-password"))
    security = mqtt_security(settings.source_settings(), environ={})
    assert security.password == PASSWORD and security.tls and PASSWORD not in repr(security)

    class Collect:
        def __init__(self) -> None:
            self.payloads: list[bytes] = []

        def parse_payloads(self, payloads, **_):
            self.payloads += payloads
            return type("R", (), {"batch": None, "rejections": []})()

    parser = Collect()
    receiver = MqttReceiver(host="127.0.0.1", port=broker.port, topic="city/#", client_id="secure-test",
                            parser=parser, partition="mqtt-0", security=security, clean=True)
    receiver.start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="secure-pub")
        pub.username_pw_set(USER, PASSWORD)
        pub.tls_set(ca_certs=str(crt))
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("city/a/b/c", orjson.dumps({"value": 1}), qos=1).wait_for_publish(10)
        wait_for(lambda: receiver.drain() is not None or parser.payloads, 10, what="the message")
        pub.loop_stop()
    finally:
        receiver.stop()
    assert parser.payloads == [orjson.dumps({"value": 1})]


def test_a_refused_login_fails_fast(secure_broker):
    broker, crt = secure_broker
    settings = load_settings(None, {}, source="mqtt", mqtt_username=USER, mqtt_ca_file=str(crt))
    receiver = MqttReceiver(host="127.0.0.1", port=broker.port, topic="city/#", client_id="refused",
                            parser=None, partition="mqtt-0",  # type: ignore[arg-type]
                            security=mqtt_security(settings.source_settings(), environ={PASSWORD_ENV: "wrong"}),
                            clean=True)
    started = time.monotonic()
    with pytest.raises(SourceError, match="refused"):
        receiver.start(timeout_s=20)
    assert time.monotonic() - started < 10
