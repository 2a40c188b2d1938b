"""Sensor↔space binding: from IfcSensor elements in spaces and/or a binding file, validated.

Output is the contract's `BindingTable` (ingest reads it to tag points with their room) plus
a report a technician can act on: every message names where the problem is — `file:line` in
the binding file, or the IFC file and GlobalId of the element.

Precedence: a binding-file entry is the explicit intent of a person, so it wins over an
IfcSensor that places the same device/point elsewhere; the disagreement is reported.

Sensor role (where a point measures, for the standards engine): the binding file's `role`
(point entry, else device entry) wins over the IfcSensor's CampusTwin_Sensor.Role, which the
generator fills with the device profile's default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.bindings import Binding, BindingTable, RoomTags
from contract.campus import CampusSpec, devices_of, expand
from contract.sensor_roles import SENSOR_ROLES, SensorRole
from contract.telemetry import DeviceIdent, Ident
from contract.yamlio import ConfigError, load_yaml, locate, to_plain, validate_doc
from twin.index import SpacePlace
from twin.model import Building, Campus, Space, Storey

Severity = Literal["error", "warning"]
# room types where a missing sensor is worth a warning (corridors/toilets rarely have one)
MONITORED_ROOM_TYPES_EXCLUDED = frozenset(
    {"corridor", "stairwell", "toilet", "other", "storage", "plant_room"}
)


class BindingEntry(BaseModel):
    # room numbers like 101 arrive from YAML as ints
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    device: DeviceIdent
    point: Ident | None = None
    room: str | None = Field(default=None, description="room number (IfcSpace Name), e.g. A-201")
    space: str | None = Field(default=None, description="IfcSpace GlobalId")
    site: Ident | None = None
    role: SensorRole | None = Field(
        default=None, description="where the point measures (desk, blackboard, wall, ceiling, outdoor)"
    )

    @model_validator(mode="after")
    def _one_target(self) -> BindingEntry:
        if (self.room is None) == (self.space is None):
            raise ValueError("give exactly one of 'room' (room number) or 'space' (GlobalId)")
        return self


class BindingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Ident | None = Field(default=None, description="default site for entries without one")
    bindings: list[BindingEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Issue:
    severity: Severity
    kind: str  # unknown_room, ambiguous_room, conflict, bad_role, unbound_device, unknown_device, room_without_sensor, sensor_without_device
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.severity}: {self.message}"


@dataclass(slots=True)
class BindingReport:
    issues: list[Issue] = field(default_factory=list)
    bound_devices: set[str] = field(default_factory=set)

    def add(self, severity: Severity, kind: str, where: str, message: str) -> None:
        self.issues.append(Issue(severity, kind, where, message))

    def of_kind(self, kind: str) -> list[Issue]:
        return [i for i in self.issues if i.kind == kind]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bound_devices": len(self.bound_devices),
            "errors": len(self.errors),
            "issues": [
                {"severity": i.severity, "kind": i.kind, "where": i.where, "message": i.message}
                for i in self.issues
            ],
        }


@dataclass(frozen=True, slots=True)
class _Place:
    space: Space
    storey: Storey | None
    building: Building


def _places(campus: Campus) -> list[_Place]:
    out: list[_Place] = []
    for b in campus.buildings:
        for st in b.storeys:
            out.extend(_Place(s, st, b) for s in st.spaces)
        out.extend(_Place(s, None, b) for s in b.spaces_without_storey)
    return out


def needs_sensor(space: Space) -> bool:
    """A room worth a sensor: corridors, stairwells, toilets and 'other' rarely have one."""
    return space.room_type not in MONITORED_ROOM_TYPES_EXCLUDED


def room_tags(campus: Campus, place: _Place | SpacePlace) -> RoomTags:
    """Tags ingest puts on a point: building/storey by name (GlobalId when unnamed), room = GlobalId."""
    b, st, s = place.building, place.storey, place.space
    return RoomTags(
        campus=campus.id,
        building=b.name or b.ifc_id,
        storey=(st.name or st.ifc_id) if st else "",
        room=s.ifc_id,
        room_number=s.room_number,
        room_type=s.room_type,
    )


Key = tuple[str, str, str | None]  # (site, device, point)


def _from_ifc(
    campus: Campus, places: list[_Place], report: BindingReport, roles: dict[Key, SensorRole]
) -> dict[Key, tuple[_Place, str]]:
    found: dict[Key, tuple[_Place, str]] = {}
    for pl in places:
        where_file = pl.building.source_file
        for sensor in pl.space.sensors:
            where = f"{where_file}: {sensor['ifc_class']} {sensor['global_id']}"
            device = sensor.get("device_id")
            if not device:
                report.add(
                    "warning",
                    "sensor_without_device",
                    where,
                    f"sensor {sensor.get('name')!r} in room {pl.space.room_number} has no CampusTwin_Sensor.DeviceId; not bound",
                )
                continue
            point = None if sensor.get("binding_level") == "device" else sensor.get("point")
            key: Key = (sensor.get("site") or campus.id, str(device), point)
            prev = found.get(key)
            if prev is not None and prev[0].space.global_id != pl.space.global_id:
                report.add(
                    "error",
                    "conflict",
                    where,
                    f"device {device}{'/' + point if point else ''} is placed in room {pl.space.room_number} "
                    f"and in room {prev[0].space.room_number} ({prev[1]}); keeping the first",
                )
                continue
            found.setdefault(key, (pl, where))
            role = sensor.get("role")
            if role in SENSOR_ROLES:
                roles.setdefault(key, role)
            elif role:
                report.add(
                    "warning",
                    "bad_role",
                    where,
                    f"CampusTwin_Sensor.Role {role!r} is not one of {', '.join(SENSOR_ROLES)}; ignored",
                )
    return found


def load_binding_file(path: str | Path) -> tuple[BindingFile, Any]:
    doc = load_yaml(path)
    if doc is None:
        raise ConfigError(str(path), [f"{path}: file is empty"])
    return validate_doc(BindingFile, doc, str(path)), doc


def _from_file(
    campus: Campus,
    places: list[_Place],
    path: str | Path,
    report: BindingReport,
    roles: dict[Key, SensorRole],
) -> dict[Key, tuple[_Place, str]]:
    bf, doc = load_binding_file(path)
    by_number: dict[str, list[_Place]] = {}
    by_gid: dict[str, list[_Place]] = {}
    for place in places:
        by_number.setdefault(place.space.room_number, []).append(place)
        by_gid.setdefault(place.space.ifc_id, []).append(place)
    found: dict[Key, tuple[_Place, str]] = {}
    for i, e in enumerate(bf.bindings):
        pos = locate(doc, ["bindings", i])
        where = f"{path}:{pos[0]}:{pos[1]}" if pos else str(path)
        label = f"{e.device}{'/' + e.point if e.point else ''}"
        pl: _Place | None
        if e.space is not None:
            same = by_gid.get(e.space, [])
            if not same:
                report.add(
                    "error",
                    "unknown_room",
                    where,
                    f"{label}: no IfcSpace with GlobalId {e.space!r} in campus {campus.id}",
                )
                continue
            if len(same) > 1:  # a copied room kept its id: guessing would put the sensor anywhere
                both = " and ".join(
                    f"{c.space.room_number} {c.space.long_name or ''} ({Path(c.building.source_file).name})".replace(
                        "  ", " "
                    )
                    for c in same
                )
                report.add(
                    "error",
                    "ambiguous_room",
                    where,
                    f"{label}: GlobalId {e.space!r} names {len(same)} spaces: {both}; bind by 'room' number",
                )
                continue
            pl = same[0]
        else:
            cands = by_number.get(str(e.room), [])
            if not cands:
                report.add(
                    "error",
                    "unknown_room",
                    where,
                    f"{label}: no room numbered {e.room!r} in campus {campus.id}",
                )
                continue
            if len(cands) > 1:
                gids = ", ".join(f"{c.space.global_id} ({Path(c.building.source_file).name})" for c in cands)
                report.add(
                    "error",
                    "ambiguous_room",
                    where,
                    f"{label}: room number {e.room!r} names {len(cands)} spaces: {gids}; bind by 'space' GlobalId",
                )
                continue
            pl = cands[0]
        key: Key = (e.site or bf.site or campus.id, e.device, e.point)
        prev = found.get(key)
        if prev is not None:
            report.add(
                "error", "conflict", where, f"{label} is already bound at {prev[1]}; keeping the first"
            )
            continue
        found[key] = (pl, where)
        if e.role:
            roles[key] = e.role
    return found


def load_device_list(path: str | Path) -> list[str]:
    """Device ids from a campus spec (YAML with 'buildings'), a YAML/JSON list, or `{devices: [...]}`
    whose items are ids or objects with 'id'. Raises ConfigError naming the file."""
    doc = to_plain(load_yaml(path))
    if isinstance(doc, dict) and "buildings" in doc:
        spec = validate_doc(CampusSpec, doc, str(path))
        return [d.id for d in devices_of(expand(spec))]
    items = doc.get("devices") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ConfigError(
            str(path), [f"{path}: expected a campus spec, a list of device ids or {{devices: [...]}}"]
        )
    out = []
    for i, it in enumerate(items):
        dev = it.get("id") if isinstance(it, dict) else it
        if not isinstance(dev, str):
            raise ConfigError(
                str(path), [f"{path}: devices[{i}]: expected an id string or an object with 'id'"]
            )
        out.append(dev)
    return out


def bind_campus(
    campus: Campus,
    binding_file: str | Path | None = None,
    devices: Iterable[str] | None = None,
    use_ifc: bool = True,
) -> tuple[list[Binding], BindingReport]:
    """Bindings of one campus and the validation report. The room types should already be set
    (they are copied into the tags). Raises ConfigError only for an unreadable binding file."""
    report = BindingReport()
    places = _places(campus)
    ifc_roles: dict[Key, SensorRole] = {}
    file_roles: dict[Key, SensorRole] = {}
    ifc = _from_ifc(campus, places, report, ifc_roles) if use_ifc else {}
    filed = _from_file(campus, places, binding_file, report, file_roles) if binding_file else {}
    merged: dict[Key, tuple[_Place, str]] = {}
    # A device-level file entry moves the whole device: it also overrides the IfcSensors that
    # bind single points of it (the generator writes one per point), which would otherwise win
    # over it at lookup (a point binding beats a device binding).
    whole = {(k[0], k[1]): (pl, where) for k, (pl, where) in filed.items() if k[2] is None}
    same_room: set[Key] = set()
    moved: set[Key] = set()
    for key, (pl, ifc_where) in ifc.items():
        person = whole.get((key[0], key[1])) if key[2] is not None else None
        if person is None:
            merged[key] = (pl, "ifc")
            continue
        file_key: Key = (key[0], key[1], None)
        if person[0].space.global_id == pl.space.global_id:
            same_room.add(file_key)
        elif file_key not in moved:
            moved.add(file_key)
            report.add(
                "warning",
                "conflict",
                person[1],
                f"binding file puts {key[1]} in room {person[0].space.room_number}, the IFC places its "
                f"points in room {pl.space.room_number} ({ifc_where}); the binding file wins",
            )
    for key, (pl, where) in filed.items():
        if key not in ifc and key in same_room and key not in moved:
            merged[key] = (pl, "ifc+file")
            continue
        if key in ifc:
            ifc_pl, ifc_where = ifc[key]
            if ifc_pl.space.global_id == pl.space.global_id:
                merged[key] = (pl, "ifc+file")
                continue
            report.add(
                "warning",
                "conflict",
                where,
                f"binding file puts {key[1]}{'/' + key[2] if key[2] else ''} in room {pl.space.room_number}, "
                f"the IFC in room {ifc_pl.space.room_number} ({ifc_where}); the binding file wins",
            )
        merged[key] = (pl, "file")
    bindings = [
        Binding(
            site=k[0],
            device=k[1],
            point=k[2],
            tags=room_tags(campus, pl),
            source=src,
            role=_role(k, file_roles, ifc_roles),
        )
        for k, (pl, src) in sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or ""))
    ]
    report.bound_devices = {b.device for b in bindings}
    rooms_with = {b.tags.room for b in bindings}
    for pl in places:
        s = pl.space
        if s.global_id not in rooms_with and needs_sensor(s):
            report.add(
                "warning",
                "room_without_sensor",
                f"{pl.building.source_file}: IfcSpace {s.global_id}",
                f"room {s.room_number} ({s.long_name or '-'}, {s.room_type}) has no bound sensor",
            )
    if devices is not None:
        known = list(dict.fromkeys(devices))
        for d in known:
            if d not in report.bound_devices:
                report.add(
                    "error", "unbound_device", d, f"device {d} is not bound to any room of campus {campus.id}"
                )
        for d in sorted(report.bound_devices - set(known)):
            report.add("warning", "unknown_device", d, f"device {d} is bound but not in the device list")
    return bindings, report


def _role(key: Key, file_roles: dict[Key, SensorRole], ifc_roles: dict[Key, SensorRole]) -> SensorRole | None:
    """A person's role (point entry, else device entry) beats the IFC's (the profile default);
    a device-level binding keeps the role its IFC points agree on (a moved wall monitor is
    still on a wall)."""
    found = file_roles.get(key) or file_roles.get((key[0], key[1], None)) or ifc_roles.get(key)
    if found is None and key[2] is None:
        same = {r for k, r in ifc_roles.items() if k[:2] == key[:2]}
        found = same.pop() if len(same) == 1 else None
    return found


def binding_table(campuses: Iterable[Campus]) -> BindingTable:
    return BindingTable(
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        bindings=[b for c in campuses for b in c.bindings],
    )
