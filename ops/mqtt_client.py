"""The one paho-mqtt client builder: every paho client of the project is made here.

Ingest, the API's agent-health listener and the simulators used to repeat the same
username/TLS/client-id lines and drifted (one forgot the protocol, one the session flag). Here a
`contract.broker.BrokerSettings` (host, port, username, password SecretRef, TLS, keepalive) and a
`ClientOptions` (client id, protocol, persistent session, manual acks) give a client; `connect_async`
connects it with the matching clean-start/session-expiry flags for the protocol.
The agent's asyncio clients (aiomqtt, a wrapper around paho) come from `build_async_client` with
the same settings. `tests/test_layering.py` rejects a `mqtt.Client(`/`aiomqtt.Client(` anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from contract.broker import BrokerSettings

if TYPE_CHECKING:
    import aiomqtt

Protocol = Literal["5", "3.1.1"]


@dataclass(frozen=True)
class ClientOptions:
    """What differs between the project's clients (the broker settings are shared).

    `persistent`: the broker keeps the session (subscriptions, queued QoS 1 messages) across
    reconnects, which needs a fixed `client_id`; `session_expiry_s` bounds it on MQTT 5.
    `manual_ack`: the caller acks each message once it is safely handled (ingest).
    """

    client_id: str = ""
    protocol: Protocol = "3.1.1"
    persistent: bool = False
    session_expiry_s: int | None = None
    manual_ack: bool = False

    def __post_init__(self) -> None:
        if self.persistent and not self.client_id:
            raise ValueError("a persistent MQTT session needs a fixed client_id")


def build_client(broker: BrokerSettings, options: ClientOptions | None = None) -> mqtt.Client:
    """A paho 2.x client (callback API v2) with credentials and TLS set, not yet connected.

    The password is read now (SecretRef: env var or file); a missing secret raises
    `contract.secrets.SecretError` naming the reference, never the value.
    """
    opts = options or ClientOptions()
    v5 = opts.protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=opts.client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        # MQTT 5 carries "clean start" in connect(); 3.1.1 carries it here
        clean_session=None if v5 else not opts.persistent,
        manual_ack=opts.manual_ack,
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password_value())
    if broker.tls is not None:
        client.tls_set_context(broker.tls.ssl_context())
    return client


def connect_async(client: mqtt.Client, broker: BrokerSettings, options: ClientOptions | None = None) -> None:
    """Start connecting (paho retries on its own once `loop_start()` runs)."""
    opts = options or ClientOptions()
    if opts.protocol == "5":
        props = None
        if opts.persistent and opts.session_expiry_s is not None:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = opts.session_expiry_s
        client.connect_async(
            broker.host, broker.port, broker.keepalive_s, clean_start=not opts.persistent, properties=props
        )
    else:
        client.connect_async(broker.host, broker.port, broker.keepalive_s)


def build_async_client(broker: BrokerSettings, identifier: str, **kwargs: Any) -> aiomqtt.Client:
    """An aiomqtt client (the agent's uplink and sensor side) from the same broker settings.

    aiomqtt is imported here, lazily: ingest and the API install without it. May raise
    SecretError (naming the reference only) or ssl errors for bad TLS files.
    """
    import aiomqtt

    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=identifier,
        username=broker.username,
        password=broker.password_value(),
        tls_context=broker.tls.ssl_context() if broker.tls else None,
        keepalive=broker.keepalive_s,
        **kwargs,
    )


def reason_text(reason: Any) -> str:
    """A paho reason code as its name and number ("Not authorized (135)"), or as given."""
    value = getattr(reason, "value", None)
    return f"{reason} ({value})" if isinstance(value, int) else str(reason)


def is_connection_lost(reason: Any) -> bool:
    """paho's code for a socket that simply closed: MQTT_ERR_CONN_LOST (7) surfaces as reason
    code 128, "Unspecified error", which says nothing to a reader unless explained."""
    value = getattr(reason, "value", reason)
    return value in (7, 128) or str(reason) in ("Unspecified error", "The connection was lost.")
