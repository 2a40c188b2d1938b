"""Sensor payloads → Samples, driven by the MQTT format files (device_profiles/mqtt/*.yaml).

Built in: Zigbee2MQTT (with discovery from the retained `zigbee2mqtt/bridge/devices`), Tasmota,
ChirpStack v3 (`objectJSON` string) and v4 (`object`), generic JSON; `custom` maps JSON paths to
points from the agent config. Every message ends as exactly one of:
- forwarded: `samples` (plus `problems` for bad fields, which the caller quarantines);
- skipped by rule: `ignored` names the rule (bridge message, /set topic, only battery keys…);
- quarantined: `PayloadError` with the reason.
Fields are never dropped silently either: nulls, superseded firmware aliases and known
non-telemetry keys are counted in `skipped`, unknown keys are listed in `unknown_keys`.

A device clock that is not set or runs ahead (contract/timestamps.py) gives the receive time
and quality uncertain with the reason. Pure apart from `MqttDecoder`'s memory of discovered
devices and its counters.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.device_names import DeviceNameError, device_id
from contract.quantities import catalogue
from contract.telemetry import ID_PATTERN, Quality
from contract.timestamps import DEFAULT_MAX_SKEW_S, check_device_time
from device_profiles.mqtt_format import KeyPoint, MqttFormatSpec, formats_for
from edge_agent.samples import Sample
from edge_agent.sources.mqtt.config import PointMapping, Subscription, TimestampMapping
from edge_agent.sources.mqtt.discovery import DeviceExposes, parse_bridge_devices
from edge_agent.units import UnitError, default_converter

_ID_RE = re.compile(ID_PATTERN)
MAX_LISTED = 500  # devices (and keys per device) listed in the health report: bounded memory
_RAW_UNITS = {"", "raw"}


class PayloadError(ValueError):
    """The whole payload is unusable; the message is the quarantine reason."""


@dataclass
class Decoded:
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: str | None = None  # why a message on a subscribed topic is not telemetry (not an error)
    skipped: list[str] = field(default_factory=list)  # fields skipped by rule, with the rule
    unknown_keys: list[str] = field(default_factory=list)
    device_name: str | None = None  # the friendly name, when the id had to be escaped


@dataclass
class DecodeStats:
    """What the decoder did, for health, metrics and `agent check`: nothing is silent."""

    forwarded_total: int = 0
    skipped_messages: Counter[str] = field(default_factory=Counter)  # rule → messages
    skipped_fields: Counter[str] = field(default_factory=Counter)  # rule → fields
    unknown_keys: dict[str, set[str]] = field(default_factory=dict)  # device → keys
    names: dict[str, str] = field(default_factory=dict)  # device id → friendly name

    def summary(self) -> dict[str, Any]:
        """JSON for the health report: operators see what was skipped and which keys are unknown."""
        return {
            "forwarded_total": self.forwarded_total,
            "skipped_messages": dict(self.skipped_messages),
            "skipped_fields": dict(self.skipped_fields),
            "unknown_keys": {dev: sorted(keys) for dev, keys in sorted(self.unknown_keys.items())},
            "names": dict(sorted(self.names.items())),
        }

    def record(self, d: Decoded) -> None:
        if d.ignored:
            self.skipped_messages[d.ignored.split(":")[0]] += 1
        if d.samples:
            self.forwarded_total += 1
        for s in d.skipped:
            self.skipped_fields[s.split(":")[0]] += 1
        if d.unknown_keys and d.samples:
            dev = d.samples[0].device
            if dev in self.unknown_keys or len(self.unknown_keys) < MAX_LISTED:
                keys = self.unknown_keys.setdefault(dev, set())
                keys.update(d.unknown_keys[: max(0, MAX_LISTED - len(keys))])
        if d.device_name and d.samples and len(self.names) < MAX_LISTED:
            self.names[d.samples[0].device] = d.device_name


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


def _device(name: Any, where: str) -> tuple[str, str | None]:
    """(device id, friendly name if it differs) for a name from a topic or payload."""
    if not isinstance(name, str):
        raise PayloadError(f"device name {name!r} from {where} is not a string")
    try:
        dev = device_id(name)
    except DeviceNameError:
        raise PayloadError(f"empty device name from {where}") from None
    return dev, (name if dev != name else None)


def _point_id(name: str) -> str:
    p = re.sub(r"[^A-Za-z0-9_.:-]", "_", name).strip("_") or "value"
    return p if _ID_RE.match(p) else f"p_{p}"[:128]


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
        if fmt in ("iso8601", "iso8601_local"):
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


def _number(key: str, value: Any, quantity: str) -> float:
    """A JSON value as a float; booleans only for boolean quantities. ValueError is a problem."""
    if isinstance(value, bool):
        if catalogue().spec(quantity).kind == "boolean":
            return 1.0 if value else 0.0
        raise ValueError(f"field {key!r}: expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    raise ValueError(f"field {key!r}: expected a number, got {value!r}")


@dataclass(frozen=True, slots=True)
class _Stamp:
    ts: int
    reason: str | None


class MqttDecoder:
    """Decodes subscribed messages; remembers Zigbee2MQTT devices learnt from bridge/devices."""

    def __init__(self, tz: ZoneInfo, max_skew_s: float = DEFAULT_MAX_SKEW_S) -> None:
        self.tz = tz
        self.max_skew_s = max_skew_s
        self.exposes: dict[str, DeviceExposes] = {}  # friendly name → what it exposes
        self.stats = DecodeStats()

    def decode(self, sub: Subscription, topic: str, payload: bytes, received_ns: int) -> Decoded:
        """Dispatch on the subscription's format. Raises PayloadError for an unusable payload."""
        out = (
            decode_custom(sub, topic, payload, received_ns, self.tz)
            if sub.format == "custom"
            else self._builtin(sub, topic, payload, received_ns)
        )
        self.stats.record(out)
        return out

    # ------------------------------------------------------------ built-in formats

    def _builtin(self, sub: Subscription, topic: str, payload: bytes, received_ns: int) -> Decoded:
        specs = formats_for(sub.format)
        first = specs[0]
        if first.discovery_topic and topic == _rebase(first.discovery_topic, first, sub):
            return self._discover(first, payload)
        name: str | None = None
        if first.device_path is None:
            name_or_rule = _name_from_topic(first, sub, topic)
            if name_or_rule[1] is not None:
                return Decoded(ignored=name_or_rule[1])
            name = name_or_rule[0]
        doc = _object(payload)
        spec = _pick(specs, doc)
        if spec.device_path is not None:
            try:
                raw_name = json_path(doc, spec.device_path)
            except KeyError:
                raise PayloadError(f"missing field {spec.device_path!r}") from None
            dev, original = _device(raw_name, f"field {spec.device_path!r}")
        else:
            assert name is not None
            dev, original = _device(name, f"topic {topic!r}")
        stamp = self._stamp(spec, doc, received_ns)
        obj = _keys_object(spec, doc)
        out = Decoded(device_name=original)
        units = {u.quantity: str(doc[u.path]) for u in spec.unit_fields if u.path in doc}
        exposes = self.exposes.get(original or dev) if spec.discovery_topic else None
        groups: list[tuple[str | None, dict[str, Any]]] = (
            [(s, v) for s, v in obj.items() if isinstance(v, dict)] if spec.nested else [(None, obj)]
        )
        if spec.nested:
            _nested_scalars(obj, spec, units, out)
        naming = _nested_names(spec, groups)
        for sensor, values in groups:
            self._group(spec, dev, sensor, values, stamp, units, exposes, naming, out)
        if not out.samples and not out.problems:
            if out.skipped:
                out.ignored = f"no telemetry values: {'; '.join(out.skipped)}"
            else:
                known = sorted(_by_key(spec))
                unknown = ", ".join(out.unknown_keys) or "none"
                raise PayloadError(
                    f"no known measurement keys (unknown: {unknown}; known: {', '.join(known)})"
                )
        return out

    def _discover(self, spec: MqttFormatSpec, payload: bytes) -> Decoded:
        devices = parse_bridge_devices(payload)
        self.exposes = devices
        return Decoded(ignored=f"{spec.title} device list: learnt {len(devices)} devices")

    def _stamp(self, spec: MqttFormatSpec, doc: dict[str, Any], received_ns: int) -> _Stamp:
        if spec.time is None:
            return _Stamp(received_ns, None)
        try:
            value = json_path(doc, spec.time.path)
        except KeyError:
            return _Stamp(received_ns, None)  # no device time: stamped at receipt, nothing to doubt
        tz = self.tz if spec.time.format == "iso8601_local" else None
        ts = parse_time(value, spec.time.format, tz, spec.time.path)
        stamped, reason = check_device_time(ts, received_ns, self.max_skew_s)
        return _Stamp(stamped, reason)

    def _group(
        self,
        spec: MqttFormatSpec,
        dev: str,
        sensor: str | None,
        values: dict[str, Any],
        stamp: _Stamp,
        units: dict[str, str],
        exposes: DeviceExposes | None,
        naming: dict[tuple[str | None, str], str],
        out: Decoded,
    ) -> None:
        by_key = _by_key(spec)
        where = f"{sensor}." if sensor else ""
        taken: dict[str, str] = {}  # point → key used
        for kp in spec.points:
            for key in kp.keys:
                if key not in values:
                    continue
                if values[key] is None:
                    out.skipped.append(f"null field: {where}{key}")
                    continue
                if kp.point in taken:
                    out.skipped.append(
                        f"superseded alias: {where}{key} (point {kp.point} taken from {taken[kp.point]})"
                    )
                    continue
                unit = units.get(kp.quantity, kp.unit)
                if exposes is not None and key in exposes.units:
                    found = exposes.units[key]
                    if found in _RAW_UNITS and catalogue().spec(kp.quantity).kind == "measure":
                        out.skipped.append(f"raw value without unit: {where}{key} (bridge/devices)")
                        continue
                    unit = found or unit
                if self._emit(kp, key, values[key], unit, dev, sensor, stamp, naming, out):
                    taken[kp.point] = key
        for key, value in values.items():
            if key in by_key:
                continue
            if key in spec.ignore:
                out.skipped.append(f"not telemetry: {where}{key}")
            elif value is None:
                out.skipped.append(f"null field: {where}{key}")
            elif not isinstance(value, dict | list):
                out.unknown_keys.append(f"{where}{key}")

    def _emit(
        self,
        kp: KeyPoint,
        key: str,
        value: Any,
        unit: str,
        dev: str,
        sensor: str | None,
        stamp: _Stamp,
        naming: dict[tuple[str | None, str], str],
        out: Decoded,
    ) -> bool:
        label = f"{sensor}.{key}" if sensor else key
        try:
            v = _number(label, value, kp.quantity)
            default_converter().converter(kp.quantity, unit)
        except UnitError as exc:
            out.problems.append(f"field {label!r}: {exc}")
            return False
        except ValueError as exc:
            out.problems.append(str(exc))
            return False
        point = naming.get((sensor, kp.point), kp.point)
        out.samples.append(
            Sample(
                device=dev,
                point=point,
                quantity=kp.quantity,
                value=v * kp.scale + kp.offset,
                unit=unit,
                ts=stamp.ts,
                quality=Quality.UNCERTAIN if stamp.reason else Quality.GOOD,
                reason=stamp.reason,
            )
        )
        return True


_BY_KEY: dict[int, dict[str, KeyPoint]] = {}


def _by_key(spec: MqttFormatSpec) -> dict[str, KeyPoint]:
    """payload key → point, built once per (cached, immutable) format spec."""
    table = _BY_KEY.get(id(spec))
    if table is None:
        table = _BY_KEY[id(spec)] = spec.by_key()
    return table


def _rebase(topic: str, spec: MqttFormatSpec, sub: Subscription) -> str:
    """A format topic under the subscription's base (Zigbee2MQTT's base_topic is configurable)."""
    prefix = _prefix(spec, sub)
    return prefix + topic[len(spec.topic_prefix) :] if topic.startswith(spec.topic_prefix) else topic


def _prefix(spec: MqttFormatSpec, sub: Subscription) -> str:
    """The literal levels of the subscription filter before its first wildcard, or the format's."""
    if sub.topic is None:
        return spec.topic_prefix
    levels: list[str] = []
    for level in sub.topic.split("/"):
        if level in ("+", "#"):
            return "/".join(levels) + "/"
        levels.append(level)
    # an exact filter (one device per subscription): the format's prefix if it applies
    if sub.topic.startswith(spec.topic_prefix):
        return spec.topic_prefix
    return "/".join(levels[:-1]) + "/" if len(levels) > 1 else ""


def _name_from_topic(spec: MqttFormatSpec, sub: Subscription, topic: str) -> tuple[str, str | None]:
    """(device name, None) or ('', skip rule) for a topic of a topic-named format."""
    prefix = _prefix(spec, sub)
    if not topic.startswith(prefix):
        raise PayloadError(f"cannot take the device name from topic {topic!r} (expected {prefix}…)")
    rest = topic[len(prefix) :]
    for rule in spec.skip:
        if (rule.prefix is not None and rest.startswith(rule.prefix)) or (
            rule.suffix is not None and topic.endswith(rule.suffix)
        ):
            return "", f"{rule.reason}: {topic}"
    if spec.topic_suffix:
        if not rest.endswith(spec.topic_suffix):
            return "", f"not a {spec.title} telemetry topic (…{spec.topic_suffix}): {topic}"
        rest = rest[: -len(spec.topic_suffix)]
    if not rest:
        raise PayloadError(f"topic {topic!r} names no device")
    return rest, None


def _pick(specs: list[MqttFormatSpec], doc: dict[str, Any]) -> MqttFormatSpec:
    """The format file whose `detect` key (else `object_path`) the payload has: ChirpStack v3 vs v4.
    Neither: the last file by name, i.e. the newest version."""
    for s in specs:
        if s.detect is not None and s.detect in doc:
            return s
    for s in specs:
        if s.object_path is not None and s.object_path in doc:
            return s
    return specs[-1]


def _keys_object(spec: MqttFormatSpec, doc: dict[str, Any]) -> dict[str, Any]:
    if spec.object_path is None:
        return doc
    obj = doc.get(spec.object_path)
    if spec.object_is_json_string and isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"field {spec.object_path!r}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PayloadError(
            f"missing decoded field {spec.object_path!r} (configure a payload codec in ChirpStack)"
        )
    return obj


def _nested_names(
    spec: MqttFormatSpec, groups: list[tuple[str | None, dict[str, Any]]]
) -> dict[tuple[str | None, str], str]:
    """Tasmota point ids: the point when one sensor object carries it, else <point>_<sensor> for
    each (sorted by nothing: the name depends on the sensors present, never on key order)."""
    if not spec.nested:
        return {}
    by_key = _by_key(spec)
    carriers: dict[str, list[str | None]] = {}
    for sensor, values in groups:
        points = {by_key[k].point for k, v in values.items() if v is not None and k in by_key}
        for point in points:
            carriers.setdefault(point, []).append(sensor)
    return {
        (sensor, point): _point_id(f"{point}_{(sensor or '').lower()}")
        for point, sensors in carriers.items()
        if len(sensors) > 1
        for sensor in sensors
    }


def _nested_scalars(obj: dict[str, Any], spec: MqttFormatSpec, units: dict[str, str], out: Decoded) -> None:
    """Top-level fields of a nested payload (Time, TempUnit) are envelope, not unknown keys."""
    envelope = {u.path for u in spec.unit_fields} | ({spec.time.path} if spec.time else set())
    for key, value in obj.items():
        if isinstance(value, dict) or key in envelope:
            continue
        if value is None:
            out.skipped.append(f"null field: {key}")
        else:
            out.unknown_keys.append(key)


# ---------------------------------------------------------------- custom mappings


def decode_custom(sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo) -> Decoded:
    doc = parse_json(payload)
    assert sub.device is not None
    if sub.device.startswith("$"):
        try:
            raw = json_path(doc, sub.device[1:])
        except KeyError as exc:
            raise PayloadError(str(exc.args[0])) from None
        dev, original = _device(raw, f"path {sub.device!r}")
    else:
        parts = topic.split("/")

        def level(m: re.Match[str]) -> str:
            i = int(m.group(1))
            if i >= len(parts):
                raise PayloadError(f"topic {topic!r} has no level {i} for device {sub.device!r}")
            return parts[i]

        dev, original = _device(re.sub(r"\{(\d+)\}", level, sub.device), f"topic {topic!r}")
    stamp = _Stamp(received_ns, None)
    if sub.timestamp is not None:
        ts = _custom_ts(doc, sub.timestamp, tz)
        stamp = _Stamp(*check_device_time(ts, received_ns))
    out = Decoded(device_name=original)
    for pm in sub.points:
        _custom_point(doc, pm, dev, stamp, out)
    if not out.samples and out.problems:
        raise PayloadError("; ".join(out.problems))
    if not out.samples and not out.problems:
        out.ignored = f"no telemetry values: {'; '.join(out.skipped)}"
    return out


def _custom_ts(doc: Any, m: TimestampMapping, tz: ZoneInfo) -> int:
    try:
        value = json_path(doc, m.path)
    except KeyError as exc:
        raise PayloadError(str(exc.args[0])) from None
    return parse_time(value, m.format, tz, m.path)


def _custom_point(doc: Any, pm: PointMapping, device: str, stamp: _Stamp, out: Decoded) -> None:
    try:
        value = json_path(doc, pm.path)
        if value is None:
            out.skipped.append(f"null field: {pm.path}")
            return
        v = _number(pm.path, value, pm.quantity)
    except KeyError as exc:
        out.problems.append(str(exc.args[0]))
        return
    except ValueError as exc:
        out.problems.append(str(exc))
        return
    out.samples.append(
        Sample(
            device=device,
            point=pm.point,
            quantity=pm.quantity,
            value=v,
            unit=pm.unit,
            ts=stamp.ts,
            quality=Quality.UNCERTAIN if stamp.reason else Quality.GOOD,
            reason=stamp.reason,
            valid_min=pm.valid_min,
            valid_max=pm.valid_max,
        )
    )


def decode(sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo) -> Decoded:
    """Stateless decoding of one message (no discovered devices). Raises PayloadError."""
    return MqttDecoder(tz).decode(sub, topic, payload, received_ns)
