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
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.device_names import DeviceNameError, device_id
from contract.quantities import catalogue
from contract.telemetry import ID_PATTERN, Quality
from contract.timestamps import DEFAULT_MAX_SKEW_S, check_device_time, iso
from device_profiles.mqtt_format import KeyPoint, MqttFormatSpec, formats_for, has_path, json_path
from edge_agent.config import PointMapping, Subscription, TimestampMapping
from edge_agent.samples import Sample
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
    fresh: bool = True  # False: a retained message of unknown age (readings uncertain, health unchanged)

    def extend(self, other: Decoded, where: str) -> None:
        """Merge the decoding of one item of a JSON array batch (`where`: `[i]`)."""
        self.samples += other.samples
        self.problems += [f"{where}: {p}" for p in other.problems]
        self.skipped += other.skipped
        self.unknown_keys += [k for k in other.unknown_keys if k not in self.unknown_keys]
        self.device_name = self.device_name or other.device_name
        self.fresh = self.fresh and other.fresh


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
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(
            f"binary payload ({len(payload)} bytes, not UTF-8 text): CBOR, protobuf or a raw LoRaWAN "
            "frame? a JSON format or the network server's codec is needed; kept as bytes"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
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


def parse_time(value: Any, fmt: str, tz: ZoneInfo | None, name: str) -> int:
    """A payload timestamp as ns UTC; naive ISO times are in `tz` (Tasmota sends local time)."""
    try:
        if fmt == "iso8601_or_epoch_ms":  # Zigbee2MQTT last_seen: ISO_8601(_local) or epoch (ms)
            fmt = "epoch_ms" if isinstance(value, int | float) and not isinstance(value, bool) else "iso8601"
        if fmt in ("iso8601", "iso8601_local"):
            if not isinstance(value, str):
                raise ValueError("expected an ISO 8601 string")
            # The Things Stack and ChirpStack send nanoseconds: datetime keeps microseconds
            text = _FRACTION_RE.sub(lambda m: m.group(1)[:7], value.replace("Z", "+00:00"))
            dt = datetime.fromisoformat(text)
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


_FRACTION_RE = re.compile(r"(\.\d+)")


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

    def decode(
        self, sub: Subscription, topic: str, payload: bytes, received_ns: int, retained: bool = False
    ) -> Decoded:
        """Dispatch on the subscription's format. Raises PayloadError for an unusable payload.

        `retained`: the broker replayed a stored message on subscribing. With a payload time
        (Zigbee2MQTT `last_seen`) its age decides; without one its readings are uncertain and it
        does not count as the device being alive (`Decoded.fresh`)."""
        out = (
            decode_custom(sub, topic, payload, received_ns, self.tz)
            if sub.format == "custom"
            else self._builtin(sub, topic, payload, received_ns)
        )
        if retained and out.samples and not out.ignored:
            _mark_retained(out)
        self.stats.record(out)
        return out

    # ------------------------------------------------------------ built-in formats

    def _builtin(self, sub: Subscription, topic: str, payload: bytes, received_ns: int) -> Decoded:
        specs = formats_for(sub.format)
        first = specs[0]
        if first.discovery_topic and topic == _rebase(first.discovery_topic, first, sub):
            return self._discover(first, payload)
        if first.payload == "number":
            return self._bare_number(first, sub, topic, payload, received_ns)
        name: str | None = None
        if first.device_path is None:
            name_or_rule = _name_from_topic(first, sub, topic)
            if name_or_rule[1] is not None:
                return Decoded(ignored=name_or_rule[1])
            name = name_or_rule[0]
        doc = parse_json(payload)
        if isinstance(doc, list):  # a JSON array batch: each item is one message
            return _each_item(doc, lambda item: self._document(specs, sub, topic, name, item, received_ns))
        return self._document(specs, sub, topic, name, doc, received_ns)

    def _document(
        self,
        specs: list[MqttFormatSpec],
        sub: Subscription,
        topic: str,
        name: str | None,
        doc: Any,
        received_ns: int,
    ) -> Decoded:
        if not isinstance(doc, dict):
            raise PayloadError(f"expected a JSON object, got {type(doc).__name__}")
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
        stamp = self._stamp(spec, doc, received_ns, sub.silent_after_s)
        if isinstance(stamp, str):
            return Decoded(ignored=stamp, device_name=original)
        obj = _keys_object(spec, doc)
        out = Decoded(device_name=original)
        units = {u.quantity: str(json_path(doc, u.path)) for u in spec.unit_fields if has_path(doc, u.path)}
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

    def _bare_number(
        self, spec: MqttFormatSpec, sub: Subscription, topic: str, payload: bytes, received_ns: int
    ) -> Decoded:
        """One value per topic (ESPHome `<node>/sensor/<object id>/state` → `22.64`): the device
        and the key are topic levels, the payload is the number as text."""
        assert spec.topic_levels is not None
        levels = topic.split("/")
        need = max(spec.topic_levels.device, spec.topic_levels.key)
        if len(levels) <= need:
            raise PayloadError(f"topic {topic!r} has no level {need} ({spec.title}: {spec.topic})")
        dev, original = _device(levels[spec.topic_levels.device], f"topic {topic!r}")
        key = levels[spec.topic_levels.key]
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            parse_json(payload)  # raises the binary payload's reason
            raise
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a state word ("ON", "unknown"): _group names the problem
        if value is None or text in ("nan", "NaN", "unknown", "unavailable"):
            return Decoded(ignored=f"no telemetry values: no value: {key} ({text!r})", device_name=original)
        out = Decoded(device_name=original)
        self._group(spec, dev, None, {key: value}, _Stamp(received_ns, None), {}, None, {}, out)
        if not out.samples and not out.problems:
            if out.skipped:
                out.ignored = f"no telemetry values: {'; '.join(out.skipped)}"
            else:
                raise PayloadError(
                    f"topic {topic!r}: no point for key {key!r} (known: {', '.join(sorted(_by_key(spec)))}); "
                    "map it with a custom subscription"
                )
        return out

    def _discover(self, spec: MqttFormatSpec, payload: bytes) -> Decoded:
        devices = parse_bridge_devices(payload)
        self.exposes = devices
        return Decoded(ignored=f"{spec.title} device list: learnt {len(devices)} devices")

    def _stamp(
        self, spec: MqttFormatSpec, doc: dict[str, Any], received_ns: int, max_age_s: float
    ) -> _Stamp | str:
        """The readings' time, or the skip reason of a stale state (a `last_seen` too old)."""
        if spec.time is None:
            return _Stamp(received_ns, None)
        try:
            value = json_path(doc, spec.time.path)
        except KeyError:
            return _Stamp(received_ns, None)  # no device time: stamped at receipt, nothing to doubt
        tz = self.tz if spec.time.format in ("iso8601_local", "iso8601_or_epoch_ms") else None
        ts = parse_time(value, spec.time.format, tz, spec.time.path)
        if spec.time.last_seen:
            age_s = (received_ns - ts) / 1e9
            if age_s > max_age_s:
                return (
                    f"stale reading: {spec.time.path} {iso(ts)} is {_age(age_s)} old (silence limit "
                    f"{_age(max_age_s)}): a retained or cached state, not a fresh reading"
                )
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
        refused = _refused(spec)
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
            if key in refused:
                if value is not None:
                    out.skipped.append(f"unit unknown: {where}{key} ({refused[key]})")
            elif key in spec.ignore:
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
        if kp.states is not None and isinstance(value, str):
            if value not in kp.states:
                out.problems.append(f"field {label!r}: {value!r} is none of {sorted(kp.states)}")
                return False
            value = kp.states[value]
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
                resolution=json_step(value, kp.scale),
            )
        )
        return True


def json_step(value: Any, scale: float = 1.0) -> float | None:
    """The resolution a device wrote a JSON number with (37.25 → 0.01, 812 → 1), times the
    format's scale: the normaliser never rounds below it (22.64 °C stays 22.64). None for
    booleans and states (nothing to round)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return abs(scale) or None
    if not math.isfinite(value):
        return None
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, _, exp = text.lower().partition("e")
        decimals = len(mantissa.partition(".")[2]) - int(exp)
    else:
        decimals = len(text.partition(".")[2])
    return abs(scale) * 10.0 ** -min(max(decimals, 0), 9) or None


def _each_item(items: list[Any], decode_one: Any) -> Decoded:
    """A JSON array batch (a gateway's backlog, a bulk report): every item decoded as its own
    message; an unusable item is a problem naming its index, never the loss of the others."""
    if not items:
        raise PayloadError("empty JSON array: no readings")
    out = Decoded()
    for i, item in enumerate(items):
        try:
            one: Decoded = decode_one(item)
        except PayloadError as exc:
            out.problems.append(f"[{i}]: {exc}")
            continue
        if one.ignored:
            out.skipped.append(f"[{i}]: {one.ignored}")
            continue
        out.extend(one, f"[{i}]")
    if not out.samples:
        if out.problems:
            raise PayloadError("; ".join(out.problems))
        out.ignored = f"no telemetry values: {'; '.join(out.skipped)}"
    return out


RETAINED_REASON = "retained message of unknown age (published before the agent subscribed)"


def _mark_retained(out: Decoded) -> None:
    """A retained message without a payload time: the broker's last copy, possibly hours old.
    Its readings are kept, uncertain with the reason; it does not show the device UP."""
    out.fresh = False
    for i, smp in enumerate(out.samples):
        if smp.quality is Quality.GOOD:
            text = f"{smp.reason}; {RETAINED_REASON}" if smp.reason else RETAINED_REASON
            out.samples[i] = replace(smp, quality=Quality.UNCERTAIN, reason=text)


def _age(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


_REFUSED: dict[int, dict[str, str]] = {}


def _refused(spec: MqttFormatSpec) -> dict[str, str]:
    table = _REFUSED.get(id(spec))
    if table is None:
        table = _REFUSED[id(spec)] = {r.key: r.reason for r in spec.refuse}
    return table


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
    """The format file whose `detect` rule the payload meets, rules with a value match first
    (Milesight before plain ChirpStack v4), else whose `object_path` it has (ChirpStack v3 vs v4,
    The Things Stack v3). Neither: the file the simulators publish, else the last by name."""
    rules = [(s, s.detect_rule) for s in specs]
    for s, rule in sorted(rules, key=lambda sr: sr[1] is None or sr[1].match is None):
        if rule is not None and rule.matches(doc):
            return s
    for s in specs:
        if s.object_path is not None and has_path(doc, s.object_path):
            return s
    return next((s for s in specs if s.simulated), specs[-1])


def _keys_object(spec: MqttFormatSpec, doc: dict[str, Any]) -> dict[str, Any]:
    if spec.object_path is None:
        return doc
    obj = json_path(doc, spec.object_path) if has_path(doc, spec.object_path) else None
    if spec.object_is_json_string and isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"field {spec.object_path!r}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise PayloadError(
            f"missing decoded field {spec.object_path!r} (configure a payload codec in the network server)"
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
    points = [pm for pm in sub.points if pm.topic is None or topic_matches(pm.topic, topic)]
    if not points:
        return Decoded(ignored=f"no point mapped for topic {topic}")
    if all(pm.path == "." for pm in points):  # one bare value per topic: no JSON document needed
        doc: Any = _bare(payload)
    else:
        doc = parse_json(payload)
    if isinstance(doc, list) and not any(pm.path == "." for pm in points):
        return _each_item(doc, lambda item: _custom_document(sub, points, topic, item, received_ns, tz))
    return _custom_document(sub, points, topic, doc, received_ns, tz)


def _bare(payload: bytes) -> Any:
    """A bare value (`22.64`, `ON`): a number, else the text; binary is refused by name."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        return parse_json(payload)  # raises the binary payload's reason
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def topic_matches(flt: str, topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest), for per-topic points of a mapping."""
    f, t = flt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def _custom_document(
    sub: Subscription, points: list[PointMapping], topic: str, doc: Any, received_ns: int, tz: ZoneInfo
) -> Decoded:
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
    if sub.timestamp is not None and not (sub.timestamp.optional and not has_path(doc, sub.timestamp.path)):
        ts = _custom_ts(doc, sub.timestamp, tz)
        stamp = _Stamp(*check_device_time(ts, received_ns))
    out = Decoded(device_name=original)
    for pm in points:
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
        if pm.path == ".":
            value = doc
        elif pm.optional and not has_path(doc, pm.path):
            out.skipped.append(f"optional point absent: {pm.path}")
            return
        else:
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
            resolution=json_step(value),
        )
    )


def decode(
    sub: Subscription, topic: str, payload: bytes, received_ns: int, tz: ZoneInfo, retained: bool = False
) -> Decoded:
    """Stateless decoding of one message (no discovered devices). Raises PayloadError."""
    return MqttDecoder(tz).decode(sub, topic, payload, received_ns, retained)
