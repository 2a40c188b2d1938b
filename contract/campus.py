"""The campus spec: one YAML that describes a school's buildings, rooms and devices.

The same spec drives the sample-campus IFC generator (twin) and the simulators, so every
simulated device lands in a real IfcSpace of the generated model. `expand()` turns the
compact spec (room templates per floor) into concrete rooms and devices, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.telemetry import Ident

Orientation = Literal["N", "S", "E", "W"]
Protocol = Literal["modbus", "mqtt"]
MqttFormat = Literal["zigbee2mqtt", "tasmota", "lorawan"]
MAX_UNITS_PER_SERVER = 247


class DeviceTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Ident = Field(description="short suffix of the device id, e.g. 'th' → A-201-th")
    protocol: Protocol = "modbus"
    profile: str | None = Field(default=None, description="device profile name (modbus)")
    format: MqttFormat | None = Field(default=None, description="payload format (mqtt)")
    quantities: list[str] = Field(default_factory=list, description="what an MQTT sensor reports")

    @model_validator(mode="after")
    def _protocol_fields(self) -> DeviceTemplate:
        if self.protocol == "modbus" and not self.profile:
            raise ValueError("a modbus device needs 'profile'")
        if self.protocol == "mqtt" and not self.format:
            raise ValueError("an mqtt device needs 'format'")
        return self


class RoomTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="room type key from twin/rules/room_types.yaml, e.g. smart_classroom")
    name_zh: str = Field(description="LongName written to IFC, e.g. 智慧教室")
    count: int = Field(default=1, ge=1, le=200)
    width_m: float = Field(default=9.0, gt=1, le=100)
    depth_m: float = Field(default=7.5, gt=1, le=100)
    orientation: Orientation = "S"
    capacity: int = Field(default=45, ge=0, le=2000)
    devices: list[DeviceTemplate] = Field(default_factory=list)


class BuildingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Ident
    name: str
    floors: int = Field(ge=1, le=60)
    floor_height_m: float = Field(default=3.9, gt=2, le=10)
    origin_m: tuple[float, float] = (0.0, 0.0)
    rooms_per_floor: list[RoomTemplate] = Field(min_length=1)
    agent: Ident | None = Field(default=None, description="gateway id; default gw-<building id>")


class CampusSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Ident
    name: str
    timezone: str = "Asia/Shanghai"
    school_level: Literal["primary", "junior", "senior", "nine_year", "twelve_year"] = "junior"
    seed: int = 0
    buildings: list[BuildingSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_buildings(self) -> CampusSpec:
        ids = [b.id for b in self.buildings]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate building ids: {sorted(dup)}")
        return self


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    room_number: str
    building: str
    agent: str
    protocol: Protocol
    profile: str | None
    format: MqttFormat | None
    quantities: tuple[str, ...]
    server_index: int  # which Modbus TCP server of the building (modbus only)
    unit_id: int  # Modbus unit id on that server (modbus only), else 0


@dataclass(frozen=True, slots=True)
class Room:
    number: str  # e.g. "A-201": building A, floor 2, room 01
    name_zh: str
    type: str
    building: str
    floor: int
    elevation_m: float
    height_m: float
    x_m: float
    y_m: float
    width_m: float
    depth_m: float
    orientation: Orientation
    capacity: int
    devices: tuple[Device, ...]

    @property
    def area_m2(self) -> float:
        return self.width_m * self.depth_m


CORRIDOR_M = 2.4


def expand(spec: CampusSpec) -> list[Room]:
    """Concrete rooms, laid out along a central corridor: south-facing rooms below it,
    north-facing above; E/W rooms at the ends. Pure and deterministic."""
    rooms: list[Room] = []
    for b in spec.buildings:
        agent = b.agent or f"gw-{b.id}"
        unit_counter = 0
        for floor in range(1, b.floors + 1):
            x_south = x_north = 0.0
            idx = 0
            for tpl in b.rooms_per_floor:
                for _ in range(tpl.count):
                    idx += 1
                    number = f"{b.id}-{floor}{idx:02d}"
                    if tpl.orientation == "N":
                        x, y = x_north, tpl.depth_m + CORRIDOR_M
                        x_north += tpl.width_m
                    else:
                        x, y = x_south, 0.0
                        x_south += tpl.width_m
                    devices = []
                    for d in tpl.devices:
                        server, unit = 0, 0
                        if d.protocol == "modbus":
                            server, unit = divmod(unit_counter, MAX_UNITS_PER_SERVER)
                            unit += 1
                            unit_counter += 1
                        devices.append(
                            Device(
                                id=f"{number}-{d.key}",
                                room_number=number,
                                building=b.id,
                                agent=agent,
                                protocol=d.protocol,
                                profile=d.profile,
                                format=d.format,
                                quantities=tuple(d.quantities),
                                server_index=server,
                                unit_id=unit,
                            )
                        )
                    rooms.append(
                        Room(
                            number=number,
                            name_zh=tpl.name_zh,
                            type=tpl.type,
                            building=b.id,
                            floor=floor,
                            elevation_m=(floor - 1) * b.floor_height_m,
                            height_m=b.floor_height_m,
                            x_m=b.origin_m[0] + x,
                            y_m=b.origin_m[1] + y,
                            width_m=tpl.width_m,
                            depth_m=tpl.depth_m,
                            orientation=tpl.orientation,
                            capacity=tpl.capacity,
                            devices=tuple(devices),
                        )
                    )
    return rooms


def devices_of(rooms: list[Room]) -> list[Device]:
    return [d for r in rooms for d in r.devices]
