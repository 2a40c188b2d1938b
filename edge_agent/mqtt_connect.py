"""Explaining MQTT errors to a technician (the clients themselves come from ops/mqtt_client.py)."""

from __future__ import annotations


def describe_mqtt_error(exc: BaseException) -> str:
    """An aiomqtt error with its cause: the paho reason code's name or the OS errno name."""
    from edge_agent.os_errors import os_error_reason

    rc = getattr(exc, "rc", None)
    text = str(exc)
    if rc is not None:
        name = getattr(rc, "getName", None)
        label = name() if callable(name) else None
        if label is None and isinstance(rc, int):
            import paho.mqtt.client as paho

            label = paho.error_string(rc)
        value = getattr(rc, "value", rc)
        if label and label not in text:
            text = f"{text} [{label}, code {value}]"
        elif label:
            text = f"{text} [code {value}]"
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.errno is not None:
        return os_error_reason(
            cause
        )  # "[Errno 111] Connection refused" → "ECONNREFUSED (Connection refused)"
    return text
