"""Explaining MQTT errors to a technician (the clients themselves come from ops/mqtt_client.py)."""

from __future__ import annotations

import re

from edge_agent.os_errors import os_error_reason
from ops.mqtt_client import is_connection_lost

CONNECTION_LOST = "connection lost: the broker closed the socket or the network dropped"


def _reason_label(rc: object) -> str | None:
    name = getattr(rc, "getName", None)
    if callable(name):
        return str(name())
    if isinstance(rc, int):
        import paho.mqtt.client as paho

        return paho.error_string(rc)
    return None


def describe_mqtt_error(exc: BaseException) -> str:
    """An aiomqtt error with its cause: every message of the exception chain, the paho reason
    code's name and number, and the OS errno name (`ECONNREFUSED (Connection refused)`). paho
    reports a socket that simply closed as "Unspecified error" (code 128); that case says what
    it means instead of leaving the name alone."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    os_err = next((x for x in chain if isinstance(x, OSError) and x.errno is not None), None)
    if os_err is not None:
        return os_error_reason(os_err)  # "[Errno 111] Connection refused" → "ECONNREFUSED (…)"
    texts: list[str] = []
    for x in chain:
        t = re.sub(r"^\[code:\d+\]\s*", "", str(x).strip())  # aiomqtt's MqttCodeError prefix
        if t and not any(t in seen for seen in texts):
            texts.append(t)
    text = ": ".join(texts) or type(exc).__name__
    rcs = [getattr(x, "rc", None) for x in chain]
    rc = next((r for r in rcs if r is not None), None)
    if rc is None:
        return text
    label = _reason_label(rc)
    value = getattr(rc, "value", rc)
    text = f"{text} [{label}, code {value}]" if label and label not in text else f"{text} [code {value}]"
    if is_connection_lost(rc) or (label is not None and is_connection_lost(label)):
        text = f"{text}; {CONNECTION_LOST}"
    return text
