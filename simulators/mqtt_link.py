"""A paho-mqtt 2.x publisher for the simulators: any broker, credentials and TLS by reference.

The password is read from an environment variable or a file (never from the command line,
never logged), like every other credential of the project.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password_env: str | None = None  # name of an environment variable holding the password
    password_file: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False  # skip hostname verification (self-signed lab brokers)
    client_id: str = ""
    keepalive: int = 30

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(f"environment variable {self.password_env} (MQTT password) is not set")
            return value
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip()
        return None

    @classmethod
    def parse(cls, host_port: str, **kwargs: object) -> BrokerOptions:
        host, _, port = host_port.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"broker {host_port!r}: expected host:port")
        return cls(host=host, port=int(port), **kwargs)  # type: ignore[arg-type]


class MqttLink:
    """One connected paho client with its network loop in a background thread."""

    def __init__(self, options: BrokerOptions) -> None:
        self.options = options
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=mqtt.MQTTv311,
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        if options.username:
            self.client.username_pw_set(options.username, options.password())
        if options.tls or options.ca_file:
            self.client.tls_set(
                ca_certs=options.ca_file,
                certfile=options.cert_file,
                keyfile=options.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            self.client.tls_insecure_set(options.tls_insecure)
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
        self.client.connect_async(self.options.host, self.options.port, keepalive=self.options.keepalive)
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
