"""A paho-mqtt 2.x publisher for the simulators: any broker, credentials and TLS by reference.

Broker settings are `contract.broker.BrokerSettings`, like every MQTT client of the project: the
password is a `SecretRef` (env var or file, never the command line, never logged).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ConfigDict

from contract.broker import BrokerSettings
from ops.mqtt_client import ClientOptions, build_client, connect_async

log = logging.getLogger(__name__)


class BrokerOptions(BrokerSettings):
    """`contract.broker.BrokerSettings` plus the client id (empty: the broker assigns one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = ""

    @classmethod
    def parse(cls, host_port: str, **kwargs: Any) -> BrokerOptions:
        host, _, port = host_port.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"broker {host_port!r}: expected host:port")
        return cls(host=host, port=int(port), **kwargs)


class MqttLink:
    """One connected paho client with its network loop in a background thread."""

    def __init__(self, options: BrokerOptions) -> None:
        self.options = options
        self.client = build_client(options, ClientOptions(client_id=options.client_id))
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self._connected = threading.Event()
        self._failure: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.published = 0
        self.subscriptions: list[tuple[str, int]] = []

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        if rc.is_failure:
            self._failure = f"broker refused the connection: {rc}"
            return
        if self.subscriptions:  # again after every reconnect: the session may be new
            client.subscribe(self.subscriptions)
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: ReasonCode, props: object
    ) -> None:
        self._connected.clear()
        if rc.is_failure:
            log.warning(
                "MQTT link to %s:%s lost (%s); paho reconnects", self.options.host, self.options.port, rc
            )

    def connect(self, timeout: float = 10.0) -> None:
        connect_async(self.client, self.options)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.client.loop_stop()
            raise ConnectionError(
                self._failure
                or f"no MQTT connection to {self.options.host}:{self.options.port} in {timeout}s"
            )

    def subscribe(self, topic: str, qos: int = 1) -> None:
        self.subscriptions.append((topic, qos))
        if self.connected:
            self.client.subscribe(topic, qos)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        self.published += 1
        return info

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
