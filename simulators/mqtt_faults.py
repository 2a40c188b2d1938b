"""MQTT fault injection: the broken payloads a real campus broker carries, on demand.

Each fault takes a well-formed message of a sensor and returns what to publish instead, on
the same topic, so the agent under test sees it exactly where the device would have sent it:
- `malformed`: the JSON is cut mid-way (a radio bridge that lost a frame);
- `oversized`: valid JSON padded past the contract's 4 MiB limit;
- `nan`: the literals NaN / Infinity / -Infinity, which Python emits and JSON forbids;
- `wrong_types`: numbers as strings with units, booleans as "ON", objects where numbers go;
- `missing_fields`: the fields a decoder needs are absent (timestamp, device info, values);
- `burst`: the same reading many times back to back (a gateway flushing its backlog).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from contract.telemetry import MAX_PAYLOAD_BYTES
from simulators.mqtt_formats import Message
from simulators.mqtt_link import MqttLink

MqttFault = Literal["malformed", "oversized", "nan", "wrong_types", "missing_fields", "burst"]
MQTT_FAULTS: tuple[MqttFault, ...] = (
    "malformed",
    "oversized",
    "nan",
    "wrong_types",
    "missing_fields",
    "burst",
)
DEFAULT_OVERSIZE = MAX_PAYLOAD_BYTES + 1024
DEFAULT_BURST = 200

# keys that carry measurements in each format's JSON (top-level or one level down)
_ENVELOPE_KEYS = {"linkquality", "battery", "Time", "TempUnit", "deduplicationId", "time", "fCnt", "fPort"}


def _doc(msg: Message) -> dict[str, Any]:
    doc = json.loads(msg.payload)
    if not isinstance(doc, dict):
        raise ValueError(f"topic {msg.topic!r}: expected a JSON object to corrupt")
    return doc


def _measurements(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(container, key) of every numeric/boolean measurement in a payload."""
    found: list[tuple[dict[str, Any], str]] = []
    if isinstance(doc.get("object"), dict):  # lorawan
        return [(doc["object"], k) for k in doc["object"]]
    for k, v in doc.items():
        if k in _ENVELOPE_KEYS:
            continue
        if isinstance(v, dict):
            found += [(v, kk) for kk, vv in v.items() if isinstance(vv, int | float)]
        elif isinstance(v, int | float):
            found.append((doc, k))
    return found


def malformed(msg: Message) -> list[Message]:
    cut = max(1, len(msg.payload) // 2)
    return [Message(msg.topic, msg.payload[:cut] + b'\x00{"')]


def oversized(msg: Message, size: int = DEFAULT_OVERSIZE) -> list[Message]:
    doc = _doc(msg)
    doc["padding"] = "x" * max(0, size - len(msg.payload))
    return [Message(msg.topic, json.dumps(doc, separators=(",", ":")).encode())]


def nan(msg: Message) -> list[Message]:
    doc = _doc(msg)
    specials = [float("nan"), float("inf"), float("-inf")]
    fields = _measurements(doc)
    if not fields:
        raise ValueError(f"topic {msg.topic!r}: no measurement to replace with NaN")
    for i, (container, key) in enumerate(fields):
        container[key] = specials[i % len(specials)]
    return [Message(msg.topic, json.dumps(doc, separators=(",", ":"), allow_nan=True).encode())]


def wrong_types(msg: Message) -> list[Message]:
    doc = _doc(msg)
    fields = _measurements(doc)
    if not fields:
        raise ValueError(f"topic {msg.topic!r}: no measurement to mistype")
    for i, (container, key) in enumerate(fields):
        v = container[key]
        if isinstance(v, bool):
            container[key] = "ON" if v else "OFF"
        elif i % 3 == 2:
            container[key] = {"value": v}
        elif i % 3 == 1:
            container[key] = [v]
        else:
            container[key] = f"{v} units"
    return [Message(msg.topic, json.dumps(doc, separators=(",", ":")).encode())]


def missing_fields(msg: Message) -> list[Message]:
    doc = _doc(msg)
    if "deviceInfo" in doc:  # lorawan: nothing says which device it is, nor what it measured
        doc.pop("deviceInfo")
        doc.pop("object", None)
        doc.pop("data", None)
    elif "Time" in doc:  # tasmota: no time and no sensor objects
        doc = {"TempUnit": doc.get("TempUnit", "C")}
    else:  # zigbee2mqtt: only radio bookkeeping, no measurement
        doc = {k: v for k, v in doc.items() if k in _ENVELOPE_KEYS}
    return [Message(msg.topic, json.dumps(doc, separators=(",", ":")).encode())]


def burst(msg: Message, count: int = DEFAULT_BURST) -> list[Message]:
    return [msg] * count


BUILDERS: dict[MqttFault, Callable[[Message], list[Message]]] = {
    "malformed": malformed,
    "oversized": oversized,
    "nan": nan,
    "wrong_types": wrong_types,
    "missing_fields": missing_fields,
    "burst": burst,
}


def faulty(
    kind: MqttFault, msg: Message, *, size: int | None = None, count: int | None = None
) -> list[Message]:
    if kind == "oversized" and size is not None:
        return oversized(msg, size)
    if kind == "burst" and count is not None:
        return burst(msg, count)
    return BUILDERS[kind](msg)


def inject(link: MqttLink, messages: list[Message], qos: int = 0) -> int:
    for m in messages:
        link.publish(m.topic, m.payload, qos=qos)
    return len(messages)
