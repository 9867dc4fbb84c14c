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
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from vitals.errors import SourceError
from vitals.sources.base import SourceBatch, now_ns

log = logging.getLogger(__name__)


class PayloadParser(Protocol):
    """What the MQTT and Kafka sources need from :class:`vitals.readings.ReadingParser`: each message read as
    one payload (an object, pretty-printed or not, an array of readings, or JSON lines), so a bad message or a
    bad element of an array costs only itself."""

    def parse_payloads(self, payloads: list[bytes], *, partition: str, seq: int, received_ns: int) -> Any: ...


class MqttReceiver:
    """A paho client that queues QoS 1 messages and acks them once drained into a batch."""

    def __init__(
        self, *, host: str, port: int, topic: str, client_id: str, parser: PayloadParser, partition: str,
        keepalive: int = 30, max_batch: int = 10_000,
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
        self.received = 0
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT connect to %s:%d refused: %s", self.host, self.port, reason)
            return
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info("MQTT connected to %s:%d, subscribed %s (session present: %s)", self.host, self.port,
                 self.topic, getattr(flags, "session_present", "?"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected from %s:%d (%s); reconnecting", self.host, self.port, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._queue.append((message.mid, bytes(message.payload)))
            self.received += 1

    def start(self, timeout_s: float = 10.0) -> None:
        try:
            self.client.connect(self.host, self.port, keepalive=self.keepalive)
        except OSError as exc:
            msg = f"cannot connect to MQTT broker {self.host}:{self.port}: {exc}; is it running?"
            raise SourceError(msg) from exc
        self.client.loop_start()
        if not self.connected.wait(timeout_s):
            self.stop()
            msg = f"MQTT broker {self.host}:{self.port} did not accept the connection within {timeout_s:.0f}s"
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
        return SourceBatch(result.batch, list(result.rejections))

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


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
