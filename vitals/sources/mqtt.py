"""MQTT source (paho-mqtt): QoS 1, persistent session, single or batched JSON payloads.

Topic layout (documented in docs/sources.md): ``city/<district>/<street>/<indicator>``; subscribe with a
filter such as ``city/#`` (the default) or ``city/yuzhong/#``. The payload is self-contained: one JSON
reading object, a JSON array of them, or JSON lines; the topic is for routing and access control only.

Delivery: the client connects with a fixed client id and ``clean_session=False``, subscribes with QoS 1
and acknowledges a message only after it has been handed to the flow (``manual_ack``). A broker restart or
a network cut is survived by paho's automatic reconnect: the broker keeps the session and resends every
unacknowledged QoS 1 message, so none is lost (at-least-once; exact duplicates are then dropped and counted
by the series state).
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from vitals.errors import ConfigError, SourceError
from vitals.sources.base import SourceBatch, now_ns

log = logging.getLogger(__name__)


class PayloadParser(Protocol):
    """What the MQTT and Kafka sources need from :class:`vitals.readings.ReadingParser`: each message read as
    one payload (an object, pretty-printed or not, an array of readings, or JSON lines), so a bad message or a
    bad element of an array costs only itself."""

    def parse_payloads(self, payloads: list[bytes], *, partition: str, seq: int, received_ns: int,
                       offsets: Sequence[int] | None = None) -> Any: ...


PASSWORD_ENV = "VITALS_MQTT_PASSWORD"
DEFAULT_MQTT_TOPIC = "city/#"  # every topic under city/ (docs/sources.md)


@dataclass(frozen=True)
class MqttSettings:
    """``source: mqtt``: config section ``sources: {mqtt: {...}}``, flags ``--mqtt-<key>``, variables
    ``VITALS_MQTT_<KEY>``. The password comes from ``password_file`` or ``VITALS_MQTT_PASSWORD``, never from a
    command line or the config file."""

    host: str = "127.0.0.1"
    port: int = 1883
    topic: str = DEFAULT_MQTT_TOPIC
    client_id: str = "city-vitals"
    username: str | None = None
    password_file: str | None = None
    tls: bool = False               # TLS to the broker (port 8883 by convention)
    ca_file: str | None = None      # CA bundle that signed the broker's certificate (default: system CAs)
    cert_file: str | None = None    # client certificate and key, for brokers that require them
    key_file: str | None = None

    def problems(self) -> list[str]:
        out = []
        if not 0 < self.port < 65536:
            out.append(f"mqtt_port must be a TCP port (1-65535), got {self.port}")
        if (self.cert_file is None) != (self.key_file is None):
            out.append("mqtt_cert_file and mqtt_key_file go together (a client certificate and its key)")
        if self.password_file and not self.username:
            out.append("mqtt_password_file needs mqtt_username")
        return out

    def identity(self) -> dict[str, Any]:
        """What a recovery directory of this source is bound to (see :mod:`vitals.recovery`)."""
        return {"kind": "mqtt", "topic": self.topic}


@dataclass(frozen=True)
class MqttSecurity:
    """Login and TLS for the broker connection. The password never appears in a repr or on a command line."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def apply(self, client: mqtt.Client) -> None:
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            try:
                client.tls_set(ca_certs=self.ca_file, certfile=self.cert_file, keyfile=self.key_file,
                               cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            except (OSError, ssl.SSLError, ValueError) as exc:
                msg = f"MQTT TLS: cannot load the CA {self.ca_file} / client certificate {self.cert_file}: {exc}"
                raise ConfigError(msg) from exc


def mqtt_security(settings: MqttSettings, environ: Mapping[str, str] | None = None) -> MqttSecurity:
    """The broker login and TLS from the settings: the password from ``password_file`` (first line) or,
    without one, the ``VITALS_MQTT_PASSWORD`` environment variable. TLS is on when asked or when any
    certificate file is given."""
    env = os.environ if environ is None else environ
    password = None
    if settings.password_file:
        try:
            lines = Path(settings.password_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"--mqtt-password-file {settings.password_file}: cannot read it: {exc}"
            raise ConfigError(msg) from exc
        password = lines[0] if lines else ""
    elif settings.username:
        password = env.get(PASSWORD_ENV)
    tls = bool(settings.tls or settings.ca_file or settings.cert_file)
    security = MqttSecurity(settings.username, password, tls, settings.ca_file,
                            settings.cert_file, settings.key_file)
    if tls:
        security.apply(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2))  # load the files now: fail before the run
    return security


class MqttReceiver:
    """A paho client that queues QoS 1 messages and acks them once drained into a batch."""

    def __init__(
        self, *, host: str, port: int, topic: str, client_id: str, parser: PayloadParser, partition: str,
        keepalive: int = 30, max_batch: int = 10_000, security: MqttSecurity | None = None, clean: bool = False,
        log_level: int = logging.WARNING,
    ) -> None:
        self.host, self.port, self.topic = host, port, topic
        self.parser = parser
        self.partition = partition
        self.max_batch = max_batch
        self.keepalive = keepalive
        self._queue: deque[tuple[int, bytes]] = deque()
        self._lock = threading.Lock()
        self._seq = 0
        self.connected = threading.Event()
        self.refused: str | None = None
        self.subscribe = True
        self.log_level = log_level  # a probe (preflight) reports through its error, not the log (DEBUG)
        self.received = 0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean, manual_ack=True,
        )
        self._session_present: object = "?"
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        (security or MqttSecurity()).apply(self.client)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.log(self.log_level, "MQTT connect to %s:%d refused: %s", self.host, self.port, reason)
            self.refused = str(reason)
            return
        if not self.subscribe:  # a probe: the connection (login, TLS) is all it wanted
            self.connected.set()
            return
        self._session_present = getattr(flags, "session_present", "?")
        client.subscribe(self.topic, qos=1)  # connected once the broker acknowledges it (_on_subscribe)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any = None) -> None:
        """The broker's SUBACK: only from now on does it deliver what is published on the topic (set as connected
        and logged here, not when SUBSCRIBE is sent: a message published in between was lost to a clean session,
        and "subscribed" in the log was not yet true)."""
        failed = [str(r) for r in reasons or [] if getattr(r, "is_failure", False)]
        if failed:
            log.error("MQTT broker %s:%d refused the subscription to %s: %s", self.host, self.port, self.topic,
                      ", ".join(failed))
            self.refused = f"the subscription to {self.topic} ({', '.join(failed)})"
            return
        self.connected.set()
        log.info("MQTT connected to %s:%d, subscribed %s (session present: %s)", self.host, self.port,
                 self.topic, self._session_present)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        self.connected.clear()
        log.log(self.log_level, "MQTT disconnected from %s:%d (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._queue.append((message.mid, bytes(message.payload)))
            self.received += 1

    def start(self, timeout_s: float = 10.0, *, subscribe: bool = True) -> None:
        self.subscribe = subscribe
        try:
            self.client.connect(self.host, self.port, keepalive=self.keepalive)
        except ssl.SSLError as exc:
            msg = (f"TLS to MQTT broker {self.host}:{self.port} failed: {exc}; "
                   "check --mqtt-ca-file and the broker's certificate")
            raise SourceError(msg) from exc
        except OSError as exc:
            msg = f"cannot connect to MQTT broker {self.host}:{self.port}: {exc}; is it running?"
            raise SourceError(msg) from exc
        self.client.loop_start()
        end = time.monotonic() + timeout_s
        while not self.connected.wait(0.05) and self.refused is None and time.monotonic() < end:
            pass
        if not self.connected.is_set():
            self.stop()
            why = f"it refused: {self.refused}; check --mqtt-username and the password" if self.refused else \
                f"it did not accept the connection within {timeout_s:.0f}s"
            msg = f"MQTT broker {self.host}:{self.port}: {why}"
            raise SourceError(msg)

    def drain(self) -> SourceBatch | None:
        """Everything queued so far as one batch (None if nothing), then ack those messages."""
        with self._lock:
            n = min(len(self._queue), self.max_batch)
            taken = [self._queue.popleft() for _ in range(n)]
        if not taken:
            return None
        result = self.parser.parse_payloads(
            [p for _, p in taken], partition=self.partition, seq=self._seq, received_ns=now_ns(),
        )
        self._seq += 1
        for mid, _ in taken:
            self.client.ack(mid, 1)
        return SourceBatch(result.batch, list(result.rejections), validated=True)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def probe_broker(host: str, port: int, client_id: str, security: MqttSecurity, timeout_s: float = 10.0) -> None:
    """Connect once (clean session, nothing subscribed) and disconnect: a refused login, a TLS failure or an
    unreachable broker is a one-line :class:`SourceError` before the run starts."""
    receiver = MqttReceiver(host=host, port=port, topic="", client_id=f"{client_id}-preflight", parser=_NoParser(),
                            partition="preflight", security=security, clean=True, log_level=logging.DEBUG)
    receiver.start(timeout_s, subscribe=False)
    receiver.stop()


class _NoParser:
    def parse_payloads(self, payloads: list[bytes], *, partition: str, seq: int, received_ns: int,
                       offsets: Sequence[int] | None = None) -> Any:
        raise NotImplementedError


class IdleStop:
    """Stop condition for drills and tests: end after ``idle_s`` seconds without messages (None: never)."""

    def __init__(self, idle_s: float | None) -> None:
        self.idle_s = idle_s
        self._last = time.monotonic()

    def seen(self) -> None:
        self._last = time.monotonic()

    def __call__(self) -> bool:
        return self.idle_s is not None and time.monotonic() - self._last > self.idle_s


StopCondition = Callable[[], bool]
