"""Sensor payload formats → Samples (pure functions, no I/O).

Built in: Zigbee2MQTT (`zigbee2mqtt/<device>`), Tasmota (`tele/<device>/SENSOR`, local time
without zone → the agent's timezone) and ChirpStack v4 LoRaWAN uplinks (device = deviceInfo.
deviceName, decoded `object`). `custom` maps JSON paths to points from the config.

A payload that cannot be used at all raises `PayloadError`; a payload with some bad fields
yields its good samples plus `problems` (the caller quarantines the payload with them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.telemetry import ID_PATTERN
from edge_agent.config import PointMapping, Subscription, TimestampMapping
from edge_agent.samples import Sample

_ID_RE = re.compile(ID_PATTERN)


class PayloadError(ValueError):
    """The whole payload is unusable; the message is the quarantine reason."""


@dataclass
class Decoded:
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: str | None = None  # why a message on a subscribed topic is not telemetry (not an error)


@dataclass(frozen=True, slots=True)
class KeySpec:
    quantity: str
    unit: str
    valid_min: float | None = None
    valid_max: float | None = None


# Plausible physical ranges of classroom sensors, in the unit given (outside → quality uncertain).
_T = KeySpec("temperature", "°C", -40, 85)
_RH = KeySpec("humidity", "%RH", 0, 100)
_CO2 = KeySpec("co2", "ppm", 0, 10_000)
_LUX = KeySpec("illuminance", "lx", 0, 200_000)
_PM25 = KeySpec("pm25", "µg/m³", 0, 1000)
_PM10 = KeySpec("pm10", "µg/m³", 0, 2000)

# Zigbee2MQTT exposes and ChirpStack codec objects use the same snake_case keys.
SNAKE_KEYS: dict[str, KeySpec] = {
    "temperature": _T,
    "humidity": _RH,
    "co2": _CO2,
    "illuminance": _LUX,
    "illuminance_lux": _LUX,
    "pm25": _PM25,
    "pm10": _PM10,
    "formaldehyd": KeySpec("hcho", "mg/m³", 0, 10),
    "hcho": KeySpec("hcho", "mg/m³", 0, 10),
    "tvoc": KeySpec("tvoc", "mg/m³", 0, 100),
    "voc": KeySpec("tvoc", "mg/m³", 0, 100),
    "noise": KeySpec("noise", "dB(A)", 0, 140),
    "pressure": KeySpec("pressure", "hPa", 300, 1100),
    "power": KeySpec("power", "W"),
    "energy": KeySpec("energy", "kWh"),
    "voltage": KeySpec("voltage", "V", 0, 500),
    "current": KeySpec("current", "A"),
    "power_factor": KeySpec("power_factor", "1", -1, 1),
    "presence": KeySpec("presence", "bool"),
    "occupancy": KeySpec("occupancy", "persons", 0, 2000),  # a bool here means presence
    "people_count": KeySpec("occupancy", "persons", 0, 2000),
}
# Tasmota sensor objects: {"AM2301": {"Temperature": …}, "ENERGY": {"Total": …}}
TASMOTA_KEYS: dict[str, KeySpec] = {
    "Temperature": _T,
    "Humidity": _RH,
    "Illuminance": _LUX,
    "CarbonDioxide": _CO2,
    "eCO2": _CO2,
    "PM2.5": _PM25,
    "PM10": _PM10,
    "Pressure": KeySpec("pressure", "hPa", 300, 1100),
    "Total": KeySpec("energy", "kWh"),
    "Power": KeySpec("power", "W"),
    "Voltage": KeySpec("voltage", "V", 0, 500),
    "Current": KeySpec("current", "A"),
    "Factor": KeySpec("power_factor", "1", -1, 1),
    "Frequency": KeySpec("frequency", "Hz", 40, 70),
}


def parse_json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not valid JSON: {exc}") from None


def _object(payload: bytes) -> dict[str, Any]:
    doc = parse_json(payload)
    if not isinstance(doc, dict):
        raise PayloadError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


def _device_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise PayloadError(f"device id {value!r} from {where} is not a valid id ({ID_PATTERN})")
    return value


def _point_id(name: str) -> str:
    p = re.sub(r"[^A-Za-z0-9_.:-]", "_", name).strip("_") or "value"
    return p if _ID_RE.match(p) else f"p_{p}"[:128]


def _number(key: str, value: Any, spec: KeySpec) -> tuple[KeySpec, float]:
    """A JSON value as a float; bools only for presence-like keys. Raises ValueError (a problem)."""
    if isinstance(value, bool):
        if spec.quantity in ("presence", "occupancy"):
            return KeySpec("presence", "bool"), 1.0 if value else 0.0
        raise ValueError(f"field {key!r}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return spec, float(value)
    raise ValueError(f"field {key!r}: expected a number, got {value!r}")


def _sample(device: str, point: str, spec: KeySpec, value: float, ts: int) -> Sample:
    return Sample(
        device=device,
        point=point,
        quantity=spec.quantity,
        value=value,
        unit=spec.unit,
        ts=ts,
        valid_min=spec.valid_min,
        valid_max=spec.valid_max,
    )


def _wildcard_level(topic_filter: str) -> int | None:
    for i, part in enumerate(topic_filter.split("/")):
        if part == "+":
            return i
    return None


def _device_from_topic(sub: Subscription, topic: str, from_end: int) -> str:
    """The `+` level of the filter names the device; an exact filter (one device per
    subscription) uses the format's fixed position, counted from the end of the topic."""
    level = _wildcard_level(sub.topic_filter)
    parts = topic.split("/")
    if level is None and len(parts) > from_end:
        level = len(parts) - 1 - from_end
    if level is None or level >= len(parts):
        raise PayloadError(f"cannot take the device id from topic {topic!r} (filter {sub.topic_filter!r})")
    return _device_id(parts[level], f"topic {topic!r}")


def _snake(device: str, obj: dict[str, Any], ts: int, out: Decoded) -> None:
    for key, value in obj.items():
        spec = SNAKE_KEYS.get(key)
        if spec is None:
            continue  # linkquality, battery, … are not telemetry quantities
        try:
            kind, v = _number(key, value, spec)
        except ValueError as exc:
            out.problems.append(str(exc))
            continue
        out.samples.append(_sample(device, _point_id(key), kind, v, ts))


def decode_zigbee2mqtt(sub: Subscription, topic: str, payload: bytes, received_ns: int) -> Decoded:
    device = _device_from_topic(sub, topic, from_end=0)  # zigbee2mqtt/<device>
    if device == "bridge":
        return Decoded(ignored="zigbee2mqtt bridge message")
    out = Decoded()
    _snake(device, _object(payload), received_ns, out)
    if not out.samples and not out.problems:
        raise PayloadError(f"no known measurement keys (known: {', '.join(sorted(SNAKE_KEYS))})")
    return out


def decode_tasmota(sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo) -> Decoded:
    device = _device_from_topic(sub, topic, from_end=1)  # tele/<device>/SENSOR
    doc = _object(payload)
    ts = received_ns
    if "Time" in doc:
        ts = parse_time(doc["Time"], "iso8601", tz, "Time")
    temp_unit = {"C": "°C", "F": "°F", "K": "K"}.get(str(doc.get("TempUnit", "C")), str(doc.get("TempUnit")))
    pressure_unit = str(doc.get("PressureUnit", "hPa"))
    out = Decoded()
    used: set[str] = set()
    for sensor, values in doc.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            spec = TASMOTA_KEYS.get(key)
            if spec is None:
                continue
            if spec.quantity == "temperature":
                spec = KeySpec(spec.quantity, temp_unit, None, None)
            elif spec.quantity == "pressure":
                spec = KeySpec(spec.quantity, pressure_unit, None, None)
            try:
                kind, v = _number(f"{sensor}.{key}", value, spec)
            except ValueError as exc:
                out.problems.append(str(exc))
                continue
            point = (
                kind.quantity if kind.quantity not in used else _point_id(f"{kind.quantity}_{sensor.lower()}")
            )
            used.add(point)
            out.samples.append(_sample(device, point, kind, v, ts))
    if not out.samples and not out.problems:
        raise PayloadError("no known sensor values (e.g. {'AM2301': {'Temperature': 23.4}})")
    return out


def decode_lorawan(sub: Subscription, topic: str, payload: bytes, received_ns: int) -> Decoded:
    del sub, topic
    doc = _object(payload)
    info = doc.get("deviceInfo")
    if not isinstance(info, dict) or "deviceName" not in info:
        raise PayloadError("missing field 'deviceInfo.deviceName'")
    device = _device_id(info["deviceName"], "field 'deviceInfo.deviceName'")
    obj = doc.get("object")
    if not isinstance(obj, dict):
        raise PayloadError("missing decoded field 'object' (configure a payload codec in ChirpStack)")
    ts = parse_time(doc["time"], "iso8601", None, "time") if "time" in doc else received_ns
    out = Decoded()
    _snake(device, obj, ts, out)
    if not out.samples and not out.problems:
        raise PayloadError(f"no known keys in 'object' (known: {', '.join(sorted(SNAKE_KEYS))})")
    return out


_PATH_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def json_path(doc: Any, path: str) -> Any:
    """`a.b[2].c` → doc['a']['b'][2]['c']; KeyError naming the missing part."""
    node = doc
    for m in _PATH_RE.finditer(path):
        key, index = m.group(1), m.group(2)
        if key is not None:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"path {path!r}: no key {key!r}")
            node = node[key]
        else:
            i = int(index)
            if not isinstance(node, list) or i >= len(node):
                raise KeyError(f"path {path!r}: no item [{i}]")
            node = node[i]
    return node


def parse_time(value: Any, fmt: str, tz: ZoneInfo | None, name: str) -> int:
    """A payload timestamp as ns UTC; naive ISO times are in `tz` (Tasmota sends local time)."""
    try:
        if fmt == "iso8601":
            if not isinstance(value, str):
                raise ValueError("expected an ISO 8601 string")
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                if tz is None:
                    raise ValueError("time without zone")
                dt = dt.replace(tzinfo=tz)
            return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        scale = {"epoch_s": 1e9, "epoch_ms": 1e6, "epoch_ns": 1.0}[fmt]
        return int(value * scale)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(f"field {name!r}: bad timestamp {value!r}: {exc}") from None


def decode_custom(sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo) -> Decoded:
    doc = parse_json(payload)
    assert sub.device is not None
    if sub.device.startswith("$"):
        try:
            device = _device_id(json_path(doc, sub.device[1:]), f"path {sub.device!r}")
        except KeyError as exc:
            raise PayloadError(str(exc.args[0])) from None
    else:
        parts = topic.split("/")

        def level(m: re.Match[str]) -> str:
            i = int(m.group(1))
            if i >= len(parts):
                raise PayloadError(f"topic {topic!r} has no level {i} for device {sub.device!r}")
            return parts[i]

        device = _device_id(re.sub(r"\{(\d+)\}", level, sub.device), f"topic {topic!r}")
    ts = received_ns
    if sub.timestamp is not None:
        ts = _custom_ts(doc, sub.timestamp, tz)
    out = Decoded()
    for pm in sub.points:
        _custom_point(doc, pm, device, ts, out)
    if not out.samples and out.problems:
        raise PayloadError("; ".join(out.problems))
    return out


def _custom_ts(doc: Any, m: TimestampMapping, tz: ZoneInfo) -> int:
    try:
        value = json_path(doc, m.path)
    except KeyError as exc:
        raise PayloadError(str(exc.args[0])) from None
    return parse_time(value, m.format, tz, m.path)


def _custom_point(doc: Any, pm: PointMapping, device: str, ts: int, out: Decoded) -> None:
    try:
        value = json_path(doc, pm.path)
        kind, v = _number(pm.path, value, KeySpec(pm.quantity, pm.unit))
    except KeyError as exc:
        out.problems.append(str(exc.args[0]))
        return
    except ValueError as exc:
        out.problems.append(str(exc))
        return
    spec = KeySpec(kind.quantity, kind.unit, pm.valid_min, pm.valid_max)
    out.samples.append(_sample(device, pm.point, spec, v, ts))


def decode(sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo) -> Decoded:
    """Dispatch on the subscription's format. Raises PayloadError for an unusable payload."""
    if sub.format == "zigbee2mqtt":
        return decode_zigbee2mqtt(sub, topic, payload, received_ns)
    if sub.format == "tasmota":
        return decode_tasmota(sub, topic, payload, received_ns, tz)
    if sub.format == "lorawan":
        return decode_lorawan(sub, topic, payload, received_ns)
    return decode_custom(sub, topic, payload, received_ns, tz)
