"""Hand-built messy IFC files (via ifcopenshell.api) for loader tests: the shapes real exports take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.classification
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.group
import ifcopenshell.api.owner
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.unit
import numpy as np


def _new(schema: Any) -> tuple[ifcopenshell.file, Any, Any]:
    api = ifcopenshell.api
    f = api.project.create_file(version=schema)
    if schema == "IFC2X3":
        person = api.owner.add_person(f)
        org = api.owner.add_organisation(f)
        api.owner.add_person_and_organisation(f, person=person, organisation=org)
        api.owner.add_application(f)
    project = api.root.create_entity(f, ifc_class="IfcProject", name="messy")
    api.unit.assign_unit(f)  # millimetres: exercises unit scaling of elevations
    model = api.context.add_context(f, context_type="Model")
    body = api.context.add_context(
        f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model
    )
    return f, project, body


def _box(
    f: ifcopenshell.file, body: Any, el: Any, x: float, y: float, z: float, w: float, d: float, h: float
) -> None:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    ifcopenshell.api.geometry.edit_object_placement(f, product=el, matrix=m)
    rep = ifcopenshell.api.geometry.add_wall_representation(f, context=body, length=w, height=h, thickness=d)
    ifcopenshell.api.geometry.assign_representation(f, product=el, representation=rep)


def write_messy(path: Path, schema: Any = "IFC4") -> dict[str, Any]:
    """A file with: a normal storey + space; a space without LongName; a space with neither Name
    nor geometry; a space attached to the building directly; a space nested in a space; an orphan
    storey outside any building; a zone; a classification reference; a Pset_SpaceCommon category."""
    api = ifcopenshell.api
    f, project, body = _new(schema)
    site = api.root.create_entity(f, ifc_class="IfcSite", name="messy-site")
    api.aggregate.assign_object(f, products=[site], relating_object=project)
    building = api.root.create_entity(f, ifc_class="IfcBuilding", name="M")
    api.aggregate.assign_object(f, products=[building], relating_object=site)
    storey = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name="EG")
    storey.Elevation = 3000.0  # mm
    api.aggregate.assign_object(f, products=[storey], relating_object=building)
    ids: dict[str, Any] = {}

    def space(name: str | None, long_name: str | None, parent: Any, geo: bool = True) -> Any:
        s = api.root.create_entity(f, ifc_class="IfcSpace", name=name)
        s.LongName = long_name
        api.aggregate.assign_object(f, products=[s], relating_object=parent)
        if geo:
            _box(f, body, s, 0, 0, 3.0, 5, 4, 3)
        return s

    normal = space("M-101", "Physics Lab", storey)
    no_long = space("M-102", None, storey)
    no_name = space(None, "化学实验室", storey, geo=False)
    on_building = space("M-900", "Lobby corridor", building)
    nested = space("M-101a", "储藏", normal)
    orphan_storey = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name="Floating")
    api.aggregate.assign_object(f, products=[orphan_storey], relating_object=site)
    in_orphan = space("X-1", "Staff office", orphan_storey)
    pset = api.pset.add_pset(f, product=no_long, name="Pset_SpaceCommon")
    api.pset.edit_pset(f, pset=pset, properties={"Category": "Classroom"})
    zone = api.root.create_entity(f, ifc_class="IfcZone", name="Science wing")
    api.group.assign_group(f, products=[normal, no_long], group=zone)
    system = api.classification.add_classification(f, classification="Uniclass")
    api.classification.add_reference(
        f, products=[on_building], classification=system, identification="SL_20_15", name="Office spaces"
    )
    ids.update(
        normal=normal.GlobalId,
        no_long=no_long.GlobalId,
        no_name=no_name.GlobalId,
        on_building=on_building.GlobalId,
        nested=nested.GlobalId,
        in_orphan=in_orphan.GlobalId,
    )
    f.write(str(path))
    return ids
