"""Helpers for the simulator tests: a real MQTT subscriber that records what lands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus_twin.servers import Mosquitto


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

    def wait_for(self, pred: Callable[[list[tuple[str, bytes]]], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if pred(list(self.messages)):
                    return
            time.sleep(0.02)
        with self.lock:
            got = [(t, len(p)) for t, p in self.messages[:20]]
        raise AssertionError(f"condition not met within {timeout}s; got {len(self.messages)} messages: {got}")

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p in self.messages if t == topic]


@pytest.fixture
def recorder(mosquitto: Mosquitto) -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(*filters: str) -> Recorder:
        r = Recorder(mosquitto.host, mosquitto.port)
        r.start(*filters)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()
