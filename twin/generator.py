"""Sample campus IFC from a campus spec, written through `ifcopenshell.api` only.

The demo, the simulators and the tests all start from the same campus spec
(`contract.campus`), so every simulated device has a real IfcSpace with an IfcSensor in the
generated model: one per point the edge agent will publish (Modbus: the device profile's
points; MQTT: the spec's quantities under the agent's point ids, see `twin.sensor_kinds`), so
the model binds every series at point level. A few spaces deliberately carry no quantity set,
so the loader's geometry fallback runs on every generated campus, not only on rare real exports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.owner
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import numpy as np

from contract.campus import BuildingSpec, CampusSpec, Room, expand
from contract.telemetry import CANONICAL_UNITS
from device_profiles.loader import load_library
from device_profiles.schema import DeviceProfile
from twin.sensor_kinds import SensorPoint, check_spec, device_points, sensor_type
from twin.sensor_placement import add_box_body, mount_z, set_relative_placement

log = logging.getLogger(__name__)

SENSOR_PSET = "CampusTwin_Sensor"
Schema = Literal["IFC4", "IFC4X3", "IFC2X3"]
SUPPORTED_SCHEMAS: tuple[Schema, ...] = ("IFC4", "IFC4X3", "IFC2X3")
# room types whose spaces get a projector and an interactive board (equipment-based rules)
AV_ROOM_TYPES = frozenset({"smart_classroom", "multimedia_classroom", "recording_classroom"})
NO_QTO_EVERY = 4  # every 4th space of a building has no Qto: exercises the geometry fallback


@dataclass(frozen=True, slots=True)
class GeneratedFile:
    path: Path
    buildings: tuple[str, ...]
    spaces: int
    sensors: int
    spaces_without_qto: tuple[str, ...]  # room numbers


def _translation(x: float, y: float, z: float) -> Any:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def _add_owner(f: ifcopenshell.file) -> None:
    """IFC2X3 makes owner history mandatory; the api picks the first user/application it finds."""
    api = ifcopenshell.api
    person = api.owner.add_person(f, identification="campus-twin", family_name="Twin", given_name="Campus")
    org = api.owner.add_organisation(f, identification="campus-twin", name="campus-twin")
    api.owner.add_person_and_organisation(f, person=person, organisation=org)
    api.owner.add_application(
        f,
        application_developer=org,
        version="0.1",
        application_full_name="campus-twin",
        application_identifier="campus-twin",
    )


class _Writer:
    """One IFC file under construction: project, units, contexts, site."""

    def __init__(self, spec: CampusSpec, schema: Schema, profiles: Mapping[str, DeviceProfile]) -> None:
        if schema not in SUPPORTED_SCHEMAS:
            raise ValueError(f"schema {schema!r} not supported; use one of {SUPPORTED_SCHEMAS}")
        self.schema = schema
        self.f = ifcopenshell.api.project.create_file(version=schema)
        api = ifcopenshell.api
        if schema == "IFC2X3":
            _add_owner(self.f)
        self.project = api.root.create_entity(self.f, ifc_class="IfcProject", name=spec.name)
        units = [
            api.unit.add_si_unit(self.f, unit_type=u)
            for u in ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT", "PLANEANGLEUNIT")
        ]
        api.unit.assign_unit(self.f, units=units)  # metres, m², m³, radians
        model = api.context.add_context(self.f, context_type="Model")
        self.body = api.context.add_context(
            self.f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model
        )
        self.site = api.root.create_entity(self.f, ifc_class="IfcSite", name=spec.site)
        self.site.LongName = spec.name
        api.aggregate.assign_object(self.f, products=[self.site], relating_object=self.project)
        api.geometry.edit_object_placement(self.f, product=self.site, matrix=_translation(0, 0, 0))
        self.spec = spec
        self.profiles = profiles
        self.n_spaces = 0
        self.n_sensors = 0
        self.no_qto: list[str] = []

    def add_building(self, b: BuildingSpec, rooms: Sequence[Room]) -> None:
        api = ifcopenshell.api
        building = api.root.create_entity(self.f, ifc_class="IfcBuilding", name=b.id)
        building.LongName = b.name
        api.aggregate.assign_object(self.f, products=[building], relating_object=self.site)
        api.geometry.edit_object_placement(
            self.f, product=building, matrix=_translation(b.origin_m[0], b.origin_m[1], 0)
        )
        storeys = {}
        for floor in range(1, b.floors + 1):
            elevation = (floor - 1) * b.floor_height_m
            st = api.root.create_entity(self.f, ifc_class="IfcBuildingStorey", name=f"{floor}F")
            st.LongName = f"{floor}层"
            st.Elevation = elevation
            api.aggregate.assign_object(self.f, products=[st], relating_object=building)
            api.geometry.edit_object_placement(
                self.f, product=st, matrix=_translation(b.origin_m[0], b.origin_m[1], elevation)
            )
            storeys[floor] = st
        for i, room in enumerate(rooms):
            self._add_space(storeys[room.floor], room, with_qto=(i % NO_QTO_EVERY) != NO_QTO_EVERY - 1)

    def _add_space(self, storey: Any, room: Room, with_qto: bool) -> None:
        api = ifcopenshell.api
        space = api.root.create_entity(self.f, ifc_class="IfcSpace", name=room.number)
        space.LongName = room.name_zh
        space.ObjectType = room.type
        api.aggregate.assign_object(self.f, products=[space], relating_object=storey)
        api.geometry.edit_object_placement(
            self.f, product=space, matrix=_translation(room.x_m, room.y_m, room.elevation_m)
        )
        body = api.geometry.add_wall_representation(
            self.f, context=self.body, length=room.width_m, height=room.height_m, thickness=room.depth_m
        )
        api.geometry.assign_representation(self.f, product=space, representation=body)
        if with_qto:
            qto = api.pset.add_qto(self.f, product=space, name="Qto_SpaceBaseQuantities")
            api.pset.edit_qto(
                self.f,
                qto=qto,
                properties={
                    "NetFloorArea": room.area_m2,
                    "GrossVolume": room.area_m2 * room.height_m,
                    "Height": room.height_m,
                },
            )
        else:
            self.no_qto.append(room.number)
        occ = api.pset.add_pset(self.f, product=space, name="Pset_SpaceOccupancyRequirements")
        api.pset.edit_pset(self.f, pset=occ, properties={"OccupancyNumber": room.capacity})
        if room.type in AV_ROOM_TYPES:
            self._add_equipment(space, room, "PROJECTOR", "投影仪 (projector)")
            self._add_equipment(space, room, "DISPLAY", "交互式电子白板 (interactive board)")
        for device in room.devices:
            for sp in device_points(device, self.profiles) or (None,):
                self._add_sensor(space, room, device.id, sp)
        self.n_spaces += 1

    def _place_inside(self, element: Any, room: Room, dx: float, dy: float) -> None:
        ifcopenshell.api.geometry.edit_object_placement(
            self.f,
            product=element,
            matrix=_translation(room.x_m + dx, room.y_m + dy, room.elevation_m + 2.5),
        )

    def _add_equipment(self, space: Any, room: Room, kind: str, name: str) -> None:
        api = ifcopenshell.api
        if self.schema == "IFC2X3":  # no IfcAudioVisualAppliance before IFC4
            el = api.root.create_entity(self.f, ifc_class="IfcFlowTerminal", name=name)
            el.ObjectType = kind
        else:
            el = api.root.create_entity(
                self.f, ifc_class="IfcAudioVisualAppliance", predefined_type=kind, name=name
            )
        api.spatial.assign_container(self.f, products=[el], relating_structure=space)
        self._place_inside(el, room, room.width_m / 2, 0.3)

    def _add_sensor(self, space: Any, room: Room, device_id: str, sp: SensorPoint | None) -> None:
        """One IfcSensor for one published point (`sp` None: the whole device)."""
        api = ifcopenshell.api
        predefined, object_type = sensor_type(sp.quantity if sp else None)
        name = f"{device_id} {sp.point}" if sp else device_id
        if self.schema == "IFC2X3":  # IfcSensor is IFC4+; IFC2X3 exports use the generic class
            el = api.root.create_entity(self.f, ifc_class="IfcDistributionControlElement", name=name)
            el.ObjectType = object_type or predefined
        else:
            el = api.root.create_entity(self.f, ifc_class="IfcSensor", predefined_type=predefined, name=name)
            if object_type:
                el.ObjectType = object_type
        el.Tag = device_id
        api.spatial.assign_container(self.f, products=[el], relating_structure=space)
        # as write-back places them: relative to the space, at mounting height, with a small body
        dx, dy = 0.5 + 0.3 * (self.n_sensors % 5), room.depth_m - 0.5
        z = mount_z(room.elevation_m, room.elevation_m + room.height_m)
        set_relative_placement(self.f, el, space, (room.x_m + dx, room.y_m + dy, z), 1.0)
        add_box_body(self.f, el, 1.0)
        props: dict[str, Any] = {"DeviceId": device_id, "Site": self.spec.site}
        if sp:
            props["Point"] = sp.point
            props["Quantity"] = sp.quantity
            props["Unit"] = CANONICAL_UNITS[sp.quantity]
            if sp.role:
                props["Role"] = sp.role
        pset = api.pset.add_pset(self.f, product=el, name=SENSOR_PSET)
        api.pset.edit_pset(self.f, pset=pset, properties=props)
        self.n_sensors += 1


def build_campus_model(
    spec: CampusSpec,
    buildings: Sequence[str] | None = None,
    schema: Schema = "IFC4",
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> tuple[ifcopenshell.file, GeneratedFile]:
    """An in-memory IFC of the campus (or of the listed buildings only).

    `profiles` by name (default: the built-in library). Raises ConfigError naming the building,
    room template and device when a device's profile is unknown or its MQTT quantities cannot
    be carried by its format."""
    library = load_library() if profiles is None else profiles
    check_spec(spec, library)
    rooms = expand(spec)
    wanted = set(buildings) if buildings is not None else {b.id for b in spec.buildings}
    w = _Writer(spec, schema, library)
    chosen = [b for b in spec.buildings if b.id in wanted]
    for b in chosen:
        w.add_building(b, [r for r in rooms if r.building == b.id])
    info = GeneratedFile(
        path=Path(),
        buildings=tuple(b.id for b in chosen),
        spaces=w.n_spaces,
        sensors=w.n_sensors,
        spaces_without_qto=tuple(w.no_qto),
    )
    return w.f, info


def generate_campus(
    spec: CampusSpec,
    out_dir: str | Path,
    per_building: bool = True,
    schema: Schema = "IFC4",
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> list[GeneratedFile]:
    """Write `<site>-<building>.ifc` per building (default) or one `<site>.ifc` for the campus."""
    library = load_library() if profiles is None else profiles
    check_spec(spec, library)  # before any file is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = [[b.id] for b in spec.buildings] if per_building else [[b.id for b in spec.buildings]]
    written = []
    for ids in groups:
        model, info = build_campus_model(spec, ids, schema, library)
        name = f"{spec.site}-{ids[0]}.ifc" if per_building else f"{spec.site}.ifc"
        path = out / name
        model.write(str(path))
        log.info("wrote %s: %d spaces, %d sensors", path, info.spaces, info.sensors)
        written.append(
            GeneratedFile(path, info.buildings, info.spaces, info.sensors, info.spaces_without_qto)
        )
    return written
