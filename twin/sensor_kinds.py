"""What each device of a campus spec publishes, and how a quantity maps onto an IFC sensor type.

The generator writes one IfcSensor per point the edge agent will publish, carrying the exact
point id, so the IFC binds each series at point level:
- Modbus devices: the numeric points of their device profile (`device_profiles/library`), the
  same list the agent's poller publishes (string points carry no quantity and are not sent);
- MQTT devices: the quantities of the campus spec, under the point id the agent's decoder gives
  the payload key the sensor publishes: all three read the format files in device_profiles/mqtt/
  (`MQTT_POINTS` is derived from them); tests/twin/test_twin_generator.py runs every entry through
  the simulators' encoder and the agent's decoder.

The generator and the write-back type each IfcSensor by the quantity it measures
(PredefinedType, from the quantity catalogue's `ifc`), so other IFC tools show a CO2 sensor as a CO2 sensor. Quantities without an
IFC enumeration value use USERDEFINED with the name in ObjectType, as IFC prescribes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from contract.campus import CampusSpec, Device, DeviceTemplate, MqttFormat
from contract.quantities import catalogue
from contract.sensor_roles import SensorRole
from contract.yamlio import ConfigError
from device_profiles.mqtt_format import carried, simulated_format
from device_profiles.schema import DeviceProfile, RawType


def _mqtt_points() -> dict[str, dict[str, tuple[str, str, SensorRole | None]]]:
    """MQTT format → campus-spec quantity → (point id, quantity) as the agent publishes it, from
    the format files (device_profiles/mqtt/) the agent's decoder and the simulators also read.
    A PIR/mmWave `occupancy` is a boolean in zigbee2mqtt and Cayenne LPP, which the agent
    publishes as quantity `presence` (unit bool) under the point `occupancy`."""
    out: dict[str, dict[str, tuple[str, str, SensorRole | None]]] = {}
    for fmt in get_args(MqttFormat):
        out[fmt] = {q: (kp.point, kp.quantity, kp.role) for q, kp in carried(simulated_format(fmt)).items()}
    return out


MQTT_POINTS: dict[str, dict[str, tuple[str, str, SensorRole | None]]] = _mqtt_points()


@dataclass(frozen=True, slots=True)
class SensorPoint:
    """One point a device publishes: what the IfcSensor's CampusTwin_Sensor pset carries."""

    point: str
    quantity: str
    role: SensorRole | None = None  # the profile's default mounting, written as CampusTwin_Sensor.Role

    @property
    def unit(self) -> str:
        """The canonical unit: the agent normalises every reading to it before publishing."""
        return catalogue().spec(self.quantity).unit


def sensor_type(quantity: str | None) -> tuple[str, str | None]:
    """(PredefinedType, ObjectType) for an IfcSensor measuring `quantity`."""
    if quantity is None:
        return "NOTDEFINED", None
    spec = catalogue().quantities.get(quantity)
    known = spec.ifc if spec else None
    if known:
        return known, None
    return "USERDEFINED", quantity.upper()


def profile_points(profile: DeviceProfile) -> tuple[SensorPoint, ...]:
    """The points the agent's Modbus poller publishes for a device of this profile."""
    return tuple(
        SensorPoint(p.name, p.quantity, profile.role_of(p))
        for p in profile.points
        if p.quantity is not None and p.type is not RawType.STRING
    )


def mqtt_points(fmt: str, quantities: tuple[str, ...]) -> tuple[SensorPoint, ...]:
    """The points the agent publishes for an MQTT sensor of `fmt` reporting `quantities`.
    Raises KeyError naming the first quantity the format cannot carry."""
    table = MQTT_POINTS[fmt]
    out: list[SensorPoint] = []
    for q in quantities:
        if q not in table:
            raise KeyError(q)
        point, quantity, role = table[q]
        out.append(SensorPoint(point, quantity, role))
    return tuple(out)


def _template_problem(t: DeviceTemplate, profiles: Mapping[str, DeviceProfile]) -> str | None:
    if t.protocol == "modbus":
        profile = profiles.get(t.profile or "")
        if profile is None:
            return f"unknown device profile {t.profile!r}; known: {', '.join(sorted(profiles))}"
        if not profile_points(profile):
            return f"device profile {t.profile!r} has no numeric point"
        return None
    assert t.format is not None  # DeviceTemplate requires it for mqtt
    bad = [q for q in t.quantities if q not in MQTT_POINTS[t.format]]
    if bad:
        return (
            f"format {t.format} cannot carry {bad} through the agent's built-in decoder; "
            f"supported: {', '.join(sorted(MQTT_POINTS[t.format]))}"
        )
    return None


def check_spec(spec: CampusSpec, profiles: Mapping[str, DeviceProfile]) -> None:
    """Refuse a spec whose devices cannot be turned into points, naming each building, room
    template and device. Raises ConfigError listing every problem."""
    problems = []
    for bi, b in enumerate(spec.buildings):
        for ri, room in enumerate(b.rooms_per_floor):
            for di, t in enumerate(room.devices):
                problem = _template_problem(t, profiles)
                if problem:
                    problems.append(
                        f"campus spec {spec.site}: buildings[{bi}] (building {b.id}) rooms_per_floor[{ri}] "
                        f"(room template {room.type} {room.name_zh}) devices[{di}] (key {t.key!r}): {problem}"
                    )
    if problems:
        raise ConfigError(f"campus spec {spec.site}", problems)


def device_points(device: Device, profiles: Mapping[str, DeviceProfile]) -> tuple[SensorPoint, ...]:
    """What an expanded campus-spec device publishes (check the spec with `check_spec` first).
    Empty for an MQTT device without declared quantities: the generator binds it whole."""
    if device.protocol == "modbus":
        assert device.profile is not None
        return profile_points(profiles[device.profile])
    assert device.format is not None
    return mqtt_points(device.format, device.quantities)
