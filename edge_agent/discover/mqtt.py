"""MQTT discovery: what a sensor broker already announces, as proposed agent sources.

Two announcements are read, both retained: Zigbee2MQTT's `zigbee2mqtt/bridge/devices` (each
device's exposes; mapped to points by the `zigbee2mqtt` format file) and Home Assistant's
discovery configs `homeassistant/<component>/[<node>/]<object>/config` (mapped to quantities
by the catalogue's `home_assistant` device classes). The pure functions turn payloads into
`MqttDevice`s; `collect` is the only I/O: it listens for a bounded time and returns the
retained payloads.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from contract.quantities import catalogue
from device_profiles.mqtt_format import load_formats
from edge_agent.sources.mqtt.discovery import parse_bridge_devices

Z2M_TOPIC = "zigbee2mqtt/bridge/devices"
HA_TOPICS = ("homeassistant/+/+/config", "homeassistant/+/+/+/config")
_VALUE_JSON = re.compile(
    r"^\{\{\s*value_json(?:\.([A-Za-z0-9_]+)|\[['\"]([^'\"]+)['\"]\])\s*(?:\|[^}]*)?\}\}$"
)


@dataclass(frozen=True)
class MqttPoint:
    key: str  # payload key (Zigbee2MQTT property) or Home Assistant object id
    quantity: str | None  # None: not a quantity of the catalogue (listed, not proposed)
    unit: str
    label: str = ""  # catalogue label, Chinese first


@dataclass
class MqttDevice:
    source: str  # zigbee2mqtt | home-assistant
    name: str
    model: str | None
    points: list[MqttPoint] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # where its values arrive


def _label(quantity: str | None) -> str:
    if quantity is None:
        return ""
    lab = catalogue().spec(quantity).label
    return f"{lab.zh} {lab.en}"


def zigbee2mqtt_devices(payload: bytes, base: str = "zigbee2mqtt") -> list[MqttDevice]:
    """Devices of a retained bridge/devices message, their exposes mapped by the format file."""
    spec = load_formats()["zigbee2mqtt"]
    by_key = {k: p for p in spec.points for k in p.keys}
    out = []
    for name, exposes in sorted(parse_bridge_devices(payload).items()):
        dev = MqttDevice("zigbee2mqtt", name, exposes.model, topics=[f"{base}/{name}"])
        for key, unit in sorted(exposes.units.items()):
            if key in spec.ignore:
                continue
            kp = by_key.get(key)
            quantity = kp.quantity if kp is not None else None
            dev.points.append(MqttPoint(key, quantity, unit, _label(quantity)))
        out.append(dev)
    return out


def home_assistant_quantity(component: str, device_class: str | None) -> str | None:
    if not device_class:
        return None
    wanted = f"{component}.{device_class}"
    for name, spec in catalogue().quantities.items():
        if wanted in spec.home_assistant:
            return name
    return None


def home_assistant_devices(configs: dict[str, bytes]) -> list[MqttDevice]:
    """Discovery configs (topic → payload) grouped by the device they announce."""
    devices: dict[str, MqttDevice] = {}
    for topic, payload in sorted(configs.items()):
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != "homeassistant" or parts[-1] != "config" or not payload:
            continue
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(doc, dict):
            continue
        component, object_id = parts[1], parts[-2]
        device = doc.get("device") if isinstance(doc.get("device"), dict) else {}
        assert isinstance(device, dict)
        name = str(device.get("name") or doc.get("name") or object_id)
        dev = devices.setdefault(
            name, MqttDevice("home-assistant", name, str(device["model"]) if device.get("model") else None)
        )
        quantity = home_assistant_quantity(component, doc.get("device_class"))
        unit = str(doc.get("unit_of_measurement") or ("bool" if component == "binary_sensor" else ""))
        state = doc.get("state_topic")
        m = _VALUE_JSON.match(str(doc.get("value_template", "")).strip())
        key = (m.group(1) or m.group(2)) if m else object_id
        dev.points.append(MqttPoint(key, quantity, unit, _label(quantity)))
        if isinstance(state, str) and state not in dev.topics:
            dev.topics.append(state)
    return list(devices.values())


def proposed_subscriptions(devices: list[MqttDevice]) -> list[dict[str, Any]]:
    """Agent `mqtt.subscriptions`: the zigbee2mqtt format for Zigbee2MQTT; a custom JSON
    subscription per Home Assistant state topic whose values are JSON keys."""
    subs: list[dict[str, Any]] = []
    if any(d.source == "zigbee2mqtt" for d in devices):
        subs.append({"format": "zigbee2mqtt"})
    for d in devices:
        if d.source != "home-assistant" or len(d.topics) != 1:
            continue
        points = [
            {"path": p.key, "point": p.key, "quantity": p.quantity, "unit": p.unit}
            for p in d.points
            if p.quantity is not None and p.unit
        ]
        levels = d.topics[0].split("/")
        if points and len(levels) > 1:
            # the device id comes from the topic level that names it (else the second level)
            index = next((i for i, lv in enumerate(levels) if lv in (d.name, d.name.replace(" ", "_"))), 1)
            subs.append(
                {"format": "custom", "topic": d.topics[0], "device": f"{{{index}}}", "points": points}
            )
    return subs


def collect(host: str, port: int, listen_s: float) -> dict[str, bytes]:
    """The retained announcements on the broker, gathered for `listen_s` seconds.
    Raises ConnectionError naming the broker when it does not accept the connection."""
    from contract.broker import BrokerSettings
    from ops.mqtt_client import build_client, connect_async, reason_text

    broker = BrokerSettings(host=host, port=port)
    client = build_client(broker)
    got: dict[str, bytes] = {}
    connected = threading.Event()
    failure: list[str] = []

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            failure.append(reason_text(reason))
        else:
            c.subscribe([(Z2M_TOPIC, 0), *((t, 0) for t in HA_TOPICS)])
        connected.set()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        got[msg.topic] = bytes(msg.payload)

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        connect_async(client, broker)
        client.loop_start()
        if not connected.wait(min(5.0, listen_s + 2)) or failure:
            raise ConnectionError(f"broker mqtt://{host}:{port}: {failure[0] if failure else 'no CONNACK'}")
        time.sleep(listen_s)  # retained messages arrive right after SUBACK; nothing to wait for but time
    finally:
        client.disconnect()
        client.loop_stop()
    return got
