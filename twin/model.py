"""The twin's domain: campus → building → storey → space, as loaded from IFC.

Plain dataclasses shared by the loader, room typing, bindings, live state, indicators and
the API, so none of them depends on ifcopenshell objects (those stay inside the loader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contract.bindings import Binding

if TYPE_CHECKING:
    from twin.standards.settings import CampusStandards


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a room got its type: which rule matched which attribute and value."""

    rule: str
    attribute: str
    value: str


@dataclass(slots=True)
class Space:
    global_id: str
    name: str | None  # IFC Name: the room number, e.g. "A-201"
    long_name: str | None  # IFC LongName: e.g. "智慧教室"
    object_type: str | None = None
    description: str | None = None  # IFC Description: COBie handovers keep the room name here
    storey_id: str | None = None
    building_id: str | None = None
    area_m2: float | None = None
    volume_m3: float | None = None
    height_m: float | None = None
    quantity_source: str | None = None  # "Qto_SpaceBaseQuantities", "geometry" or None
    classifications: list[str] = field(default_factory=list)
    psets: dict[str, dict[str, Any]] = field(default_factory=dict)
    equipment: list[str] = field(default_factory=list)  # IFC classes of elements in the space
    sensors: list[dict[str, Any]] = field(default_factory=list)  # IfcSensor found in the space
    room_type: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    footprint: list[tuple[float, float]] | None = None  # 2D outline in storey coordinates (m)
    # equipment with detail for room-type rules: {global_id, ifc_class, predefined_type, object_type, name}
    equipment_info: list[dict[str, Any]] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)  # names of IfcZone groups the space belongs to
    ifc_global_id: str | None = None  # set when `global_id` was qualified (twin.identity)

    @property
    def room_number(self) -> str:
        return self.name or self.ifc_id

    @property
    def ifc_id(self) -> str:
        """The GlobalId in the IFC file (what telemetry, bindings and write-back name)."""
        return self.ifc_global_id or self.global_id


@dataclass(slots=True)
class Storey:
    global_id: str
    name: str | None
    elevation_m: float | None
    building_id: str
    spaces: list[Space] = field(default_factory=list)
    ifc_global_id: str | None = None  # set when `global_id` was qualified (twin.identity)

    @property
    def ifc_id(self) -> str:
        return self.ifc_global_id or self.global_id


@dataclass(slots=True)
class Building:
    global_id: str
    name: str | None
    campus: str
    source_file: str
    storeys: list[Storey] = field(default_factory=list)
    spaces_without_storey: list[Space] = field(default_factory=list)
    ifc_global_id: str | None = None  # set when `global_id` was qualified (twin.identity)

    @property
    def ifc_id(self) -> str:
        return self.ifc_global_id or self.global_id

    def all_spaces(self) -> list[Space]:
        return [s for st in self.storeys for s in st.spaces] + list(self.spaces_without_storey)


@dataclass(slots=True)
class Problem:
    """Something the loader could not interpret; reported, never fatal."""

    file: str
    entity: str | None  # GlobalId or #id
    message: str
    kind: str | None = None  # file-level problems: twin.ifc_open kind ("truncated", "not_ifc", …)
    schema: str | None = None  # file-level problems: the schema the file declares


@dataclass(slots=True)
class Campus:
    id: str  # the site id used in telemetry
    name: str
    schema: str | None = None
    buildings: list[Building] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    source_files: list[str] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)  # sensor↔space bindings (twin.binding)
    standards: CampusStandards | None = None  # the engine's per-campus settings (twin config)

    def spaces(self) -> list[Space]:
        return [s for b in self.buildings for s in b.all_spaces()]
