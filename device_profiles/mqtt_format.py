"""MQTT sensor formats as data (`device_profiles/mqtt/*.yaml`), like the Modbus profiles.

A format file says where a family of sensors publishes (topic prefix/suffix, which topics are
not telemetry), where the device name and the time are in a payload, and which payload key
becomes which point: `keys` lists the spellings across firmware versions of **one stable point
id** (Zigbee2MQTT 1.x `illuminance_lux` and 2.x `illuminance` are the point `illuminance`; the
first key present wins, so 1.x's raw `illuminance` next to `illuminance_lux` is skipped), with
the quantity (from the catalogue), the unit the family sends and an optional linear transform.

Three readers, one file: the agent's decoder (edge_agent/sources/mqtt/), the simulators' encoder
(simulators/mqtt_formats.py) and the twin's points list (twin/sensor_kinds.mqtt_points).
Adding a sensor family is a YAML file here plus a case in tests/cases/mqtt/: the family list
(`families()`, the agent config's `format:` values) and each family's report interval come from
these files, every `*_path` is a dotted path with [i] (`uplink_message.decoded_payload`), a
payload may be a bare number with the point named by a topic level (ESPHome), and a field whose
unit the vendor does not define is `refuse`d with the reason instead of guessed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.quantities import KnownQuantity, catalogue
from contract.sensor_roles import SensorRole
from contract.telemetry import Ident
from contract.yamlio import ConfigError, load_model

FORMATS_DIR = Path(__file__).resolve().parent / "mqtt"

TimeFormat = Literal["iso8601", "iso8601_local", "epoch_s", "epoch_ms", "epoch_ns", "iso8601_or_epoch_ms"]
DEFAULT_INTERVAL_S = 60.0  # a family that says nothing: assume a report a minute

_PATH_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def json_path(doc: Any, path: str) -> Any:
    """`a.b[2].c` → doc['a']['b'][2]['c']; KeyError naming the missing part. The one reader of
    every `*_path` in format files and custom mappings."""
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


def has_path(doc: Any, path: str) -> bool:
    try:
        json_path(doc, path)
    except KeyError:
        return False
    return True


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LppType(_Strict):
    """Cayenne LPP encoding of a point in a LoRaWAN frame (what the device radios)."""

    type: int = Field(ge=0, le=255)
    size: int = Field(ge=1, le=4, description="bytes")
    resolution: float = Field(gt=0)
    signed: bool = False


class KeyPoint(_Strict):
    """One point and the payload keys (firmware aliases, preferred first) that carry it."""

    point: Ident
    keys: tuple[str, ...] = Field(min_length=1)
    quantity: KnownQuantity
    unit: str = Field(description="unit the family sends; discovery (bridge/devices) may override")
    scale: float = 1.0  # transform before unit conversion: value × scale + offset
    offset: float = 0.0
    sensors: tuple[str, ...] = Field(
        default=(), description="nested formats (Tasmota): sensor objects the encoder publishes under"
    )
    publish: str | None = Field(default=None, description="key the simulators publish; default keys[0]")
    lpp: LppType | None = None
    role: SensorRole | None = Field(
        default=None, description="where such a point usually measures (a binding may say otherwise)"
    )
    states: dict[str, float] | None = Field(
        default=None, description="a codec's words for a value (Milesight pir: trigger → 1, idle → 0)"
    )
    note: str | None = None

    @property
    def published_key(self) -> str:
        return self.publish or self.keys[0]

    @model_validator(mode="after")
    def _unit_known(self) -> KeyPoint:
        if self.publish is not None and self.publish not in self.keys:
            raise ValueError(f"publish {self.publish!r} is not one of keys {list(self.keys)}")
        spec = catalogue().spec(self.quantity)
        if self.unit != spec.unit and self.unit not in {a.unit for a in spec.aliases}:
            raise ValueError(
                f"unit {self.unit!r} is not {self.quantity}'s canonical {spec.unit!r} nor one of its "
                "aliases in contract/quantities.yaml"
            )
        return self


class SkipRule(_Strict):
    """Topics under the format's prefix that are not telemetry: skipped and counted by reason."""

    suffix: str | None = None  # topic ends with this ("/set", "/availability")
    prefix: str | None = None  # topic (after the format prefix) starts with this ("bridge/")
    reason: str = Field(min_length=3)

    @model_validator(mode="after")
    def _one(self) -> SkipRule:
        if (self.suffix is None) == (self.prefix is None):
            raise ValueError("give exactly one of 'suffix' or 'prefix'")
        return self


class TimeField(_Strict):
    path: str = Field(min_length=1, description="dotted path with [i]: 'Time', 'rxInfo[0].time'")
    format: TimeFormat = "iso8601"
    last_seen: bool = Field(
        default=False,
        description=(
            "the time is when the bridge last heard the device (Zigbee2MQTT last_seen): a message "
            "older than the subscription's silence limit is a stale state (a retained message at "
            "agent start), skipped, never a fresh reading"
        ),
    )


class Detect(_Strict):
    """How a payload says it is this file's shape: a path that exists, optionally with a value
    matching a regular expression (a ChirpStack device profile named after a Milesight model)."""

    path: str = Field(min_length=1)
    match: str | None = None

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v

    def matches(self, doc: Any) -> bool:
        try:
            value = json_path(doc, self.path)
        except KeyError:
            return False
        return self.match is None or (isinstance(value, str) and re.search(self.match, value) is not None)


class Refused(_Strict):
    """A payload key that is measured but cannot be stored truthfully (no defined unit, a level
    rather than a quantity): skipped and counted under the reason, never guessed."""

    key: str
    reason: str = Field(min_length=10)


class TopicLevels(_Strict):
    """Where the device name and the point key are in the topic (0-based levels), for families
    that publish one value per topic (ESPHome: <node>/sensor/<object id>/state)."""

    device: int = Field(ge=0)
    key: int = Field(ge=0)


class UnitField(_Strict):
    """A payload field that names the unit of a quantity (Tasmota `TempUnit: F`)."""

    quantity: KnownQuantity
    path: str


class MqttFormatSpec(_Strict):
    name: Ident
    title: str
    subscription: Ident = Field(description="the agent config's `format:` value this file decodes")
    source: str = Field(min_length=3, description="where the payload shape is documented")
    topic: str = Field(description="default subscription filter (whole tree)")
    topic_prefix: str = Field(description="topic = prefix + device name + suffix")
    topic_suffix: str = ""
    device_path: str | None = Field(default=None, description="device name from the payload, not the topic")
    detect: str | Detect | None = Field(
        default=None,
        description="payload path (or {path, match}) that tells this file from another of the same subscription",
    )
    object_path: str | None = Field(
        default=None,
        description="dotted path to the keys (uplink_message.decoded_payload); None: the whole payload",
    )
    payload: Literal["json", "number"] = Field(
        default="json", description="number: the payload is one bare value (ESPHome), the key a topic level"
    )
    topic_levels: TopicLevels | None = None
    expected_interval_s: float = Field(
        default=DEFAULT_INTERVAL_S,
        gt=0,
        le=7 * 86400,
        description="how often such a sensor reports when nothing changes (its DOWN after silence × this)",
    )
    object_is_json_string: bool = False
    nested: bool = Field(default=False, description="values grouped per sensor object (Tasmota)")
    time: TimeField | None = None
    unit_fields: tuple[UnitField, ...] = ()
    skip: tuple[SkipRule, ...] = ()
    discovery_topic: str | None = Field(default=None, description="retained device list (bridge/devices)")
    ignore: tuple[str, ...] = Field(default=(), description="known non-telemetry keys: skipped, counted")
    refuse: tuple[Refused, ...] = Field(default=(), description="measured keys without a defined unit")
    simulated: bool = Field(default=False, description="the simulators publish this file's shape")
    points: tuple[KeyPoint, ...] = Field(min_length=1)

    @property
    def detect_rule(self) -> Detect | None:
        return Detect(path=self.detect) if isinstance(self.detect, str) else self.detect

    @model_validator(mode="after")
    def _unique(self) -> MqttFormatSpec:
        if (self.payload == "number") != (self.topic_levels is not None):
            raise ValueError("payload: number needs topic_levels {device, key}, and only it")
        refused = {r.key for r in self.refuse}
        points: set[str] = set()
        keys: dict[str, str] = {}
        for p in self.points:
            if p.point in points:
                raise ValueError(f"point {p.point!r} listed twice")
            points.add(p.point)
            for k in p.keys:
                if k in refused:
                    raise ValueError(f"key {k!r} is both refused and a key of point {p.point!r}")
                if k in keys:
                    raise ValueError(f"key {k!r} maps to both {keys[k]!r} and {p.point!r}")
                keys[k] = p.point
        return self

    def by_key(self) -> dict[str, KeyPoint]:
        return {k: p for p in self.points for k in p.keys}

    def point(self, point: str) -> KeyPoint:
        for p in self.points:
            if p.point == point:
                return p
        raise KeyError(f"format {self.name} has no point {point!r}")


def carried(spec: MqttFormatSpec) -> dict[str, KeyPoint]:
    """Campus-spec quantity → the point a sensor of this format reports it under.

    A campus spec lists what a sensor measures by quantity name; a point named like a quantity
    wins (Zigbee2MQTT's boolean `occupancy` point, quantity presence), else the point of that
    quantity (hcho → `formaldehyd`). LoRaWAN sensors carry only points with a Cayenne LPP type."""
    names = catalogue().quantities
    usable = [p for p in spec.points if p.lpp is not None or not any(q.lpp for q in spec.points)]
    out: dict[str, KeyPoint] = {}
    for p in usable:
        out.setdefault(p.quantity, p)
    for p in usable:
        if p.point in names:
            out[p.point] = p
    return out


def simulated_format(subscription: str) -> MqttFormatSpec:
    """The file whose payload shape the simulators publish for an agent subscription format."""
    specs = formats_for(subscription)
    for s in specs:
        if s.simulated:
            return s
    raise KeyError(f"no simulated format file for {subscription!r}")


def load_format(path: str | Path) -> MqttFormatSpec:
    return load_model(MqttFormatSpec, path)


@lru_cache(maxsize=1)
def load_formats() -> dict[str, MqttFormatSpec]:
    """Every format file of the library by name; ConfigError lists every broken file."""
    out: dict[str, MqttFormatSpec] = {}
    problems: list[str] = []
    for path in sorted(FORMATS_DIR.glob("*.yaml")):
        try:
            spec = load_format(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if spec.name in out:
            problems.append(f"{path}: format name {spec.name!r} is defined twice")
        out[spec.name] = spec
    if problems:
        raise ConfigError(str(FORMATS_DIR), problems)
    return out


def families() -> list[str]:
    """The agent config's built-in `format:` values: one per `subscription` in the files."""
    return sorted({f.subscription for f in load_formats().values()})


def expected_interval_s(subscription: str) -> float:
    """How often a sensor of this family reports (the format files'; custom: a minute)."""
    specs = formats_for(subscription)
    return max((s.expected_interval_s for s in specs), default=DEFAULT_INTERVAL_S)


def formats_for(subscription: str) -> list[MqttFormatSpec]:
    """The format files an agent subscription format decodes with (ChirpStack v3 and v4 share
    `lorawan` and are told apart by `detect`)."""
    return [f for f in load_formats().values() if f.subscription == subscription]


def default_topic(subscription: str) -> str:
    specs = formats_for(subscription)
    if not specs:
        raise KeyError(subscription)
    return specs[0].topic
