"""MQTT test peers on a real broker: a recorder of what lands and a QoS 1 publisher like an agent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto
from tests.support.waiting import wait_until


@dataclass
class Recorder:
    """Subscribes to topic filters on a broker and keeps (topic, payload) of every message."""

    host: str
    port: int
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def start(self, *filters: str) -> None:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        self.client.subscribe([(f, 0) for f in filters])
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, pred: Callable[[list[tuple[str, bytes]]], bool], timeout: float = 15.0) -> None:
        """Wait until `pred(messages so far)` holds; the failure lists the first messages seen."""
        try:
            wait_until(lambda: pred(self.snapshot()), timeout, "recorded messages", every=0.02)
        except AssertionError:
            got = [(t, len(p)) for t, p in self.snapshot()[:20]]
            raise AssertionError(
                f"condition not met within {timeout}s; got {len(self.messages)} messages: {got}"
            ) from None

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.messages if t == topic]


class Publisher:
    """QoS 1 publisher like an agent (waits for every PUBACK)."""

    def __init__(self, broker: Mosquitto, client_id: str = "test-agent") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, topic: str, data: bytes, retain: bool = False) -> None:
        info = self.client.publish(topic, data, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"no PUBACK for {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
