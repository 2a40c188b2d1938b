"""MQTT sensor formats as data (`device_profiles/mqtt/*.yaml`), like the Modbus profiles.

A format file says where a family of sensors publishes (topic prefix/suffix, which topics are
not telemetry), where the device name and the time are in a payload, and which payload key
becomes which point: `keys` lists the spellings across firmware versions of **one stable point
id** (Zigbee2MQTT 1.x `illuminance_lux` and 2.x `illuminance` are the point `illuminance`; the
first key present wins, so 1.x's raw `illuminance` next to `illuminance_lux` is skipped), with
the quantity (from the catalogue), the unit the family sends and an optional linear transform.

Three readers, one file: the agent's decoder (edge_agent/sources/mqtt/), the simulators' encoder
(simulators/mqtt_formats.py) and the twin's points list (twin/sensor_kinds.mqtt_points).
Adding a sensor family is a YAML file here plus a case in tests/cases/mqtt/.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.quantities import KnownQuantity, catalogue
from contract.sensor_roles import SensorRole
from contract.telemetry import Ident
from contract.yamlio import ConfigError, load_model

FORMATS_DIR = Path(__file__).resolve().parent / "mqtt"

TimeFormat = Literal["iso8601", "iso8601_local", "epoch_s", "epoch_ms", "epoch_ns"]


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


class UnitField(_Strict):
    """A payload field that names the unit of a quantity (Tasmota `TempUnit: F`)."""

    quantity: KnownQuantity
    path: str


class MqttFormatSpec(_Strict):
    name: Ident
    title: str
    subscription: Literal["zigbee2mqtt", "tasmota", "lorawan", "json"] = Field(
        description="the agent config's `format:` value this file decodes"
    )
    source: str = Field(min_length=3, description="where the payload shape is documented")
    topic: str = Field(description="default subscription filter (whole tree)")
    topic_prefix: str = Field(description="topic = prefix + device name + suffix")
    topic_suffix: str = ""
    device_path: str | None = Field(default=None, description="device name from the payload, not the topic")
    detect: str | None = Field(
        default=None, description="payload key that tells this file from another of the same subscription"
    )
    object_path: str | None = Field(default=None, description="where the keys are; None: the whole payload")
    object_is_json_string: bool = False
    nested: bool = Field(default=False, description="values grouped per sensor object (Tasmota)")
    time: TimeField | None = None
    unit_fields: tuple[UnitField, ...] = ()
    skip: tuple[SkipRule, ...] = ()
    discovery_topic: str | None = Field(default=None, description="retained device list (bridge/devices)")
    ignore: tuple[str, ...] = Field(default=(), description="known non-telemetry keys: skipped, counted")
    simulated: bool = Field(default=False, description="the simulators publish this file's shape")
    points: tuple[KeyPoint, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MqttFormatSpec:
        points: set[str] = set()
        keys: dict[str, str] = {}
        for p in self.points:
            if p.point in points:
                raise ValueError(f"point {p.point!r} listed twice")
            points.add(p.point)
            for k in p.keys:
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


def formats_for(subscription: str) -> list[MqttFormatSpec]:
    """The format files an agent subscription format decodes with (ChirpStack v3 and v4 share
    `lorawan` and are told apart by `detect`)."""
    return [f for f in load_formats().values() if f.subscription == subscription]


def default_topic(subscription: str) -> str:
    specs = formats_for(subscription)
    if not specs:
        raise KeyError(subscription)
    return specs[0].topic
