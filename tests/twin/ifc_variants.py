"""Materialise the IFC regression cases of tests/cases/ifc/<case>/ (see case.yaml there).

A case is one of:
- `model.ifc` kept in the case directory (tiny hand-written text files: non-IFC, header only, …);
- `source:` a file of ../shared/ifc with `mutate:` (truncate to a fraction, cut out a block of
  bytes or of lines between two fractions, drop one entity, replace the schema);
- `build:` a small model described in YAML and written with ifcopenshell.api — the spatial shapes
  real exports take (spaces contained instead of aggregated, nested, under building/site, several
  levels under one storey, storey names with "/", space origins far from the room);
- any of these with `zip: {members: [...]}`: written into a `.ifczip` whose member named `*.ifc`
  is the model (the other members are small text files); `members` without a model: a zip
  that holds no IFC at all;
- `crash: true`: a file the API reads with the CT_CRASH_IFC stand-in set, so its child dies of
  SIGSEGV as ifcopenshell does on some damaged files (tests/twin/test_ifc_api_campuses.py).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.owner
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.unit
import ifcopenshell.guid
import numpy as np

from contract.yamlio import load_yaml, to_plain
from tests.support.cases import CASES_DIR, load_cases

CASES = CASES_DIR / "ifc"
SHARED_IFC = Path(__file__).resolve().parents[2] / ".." / "shared" / "ifc"


def case_dirs() -> list[Path]:
    return [c.dir for c in load_cases("ifc")]


def load_case(case: Path) -> dict[str, Any]:
    doc = to_plain(load_yaml(case / "case.yaml"))
    assert isinstance(doc, dict)
    return doc


def materialise(case: Path, out_dir: Path) -> Path:
    """The case's IFC file (written under out_dir unless it is kept in the case directory)."""
    doc = load_case(case)
    if "zip" in doc:
        return _zipped(case, doc, out_dir)
    return materialise_plain(case, doc, out_dir)


def materialise_plain(case: Path, doc: dict[str, Any], out_dir: Path) -> Path:
    if (case / "model.ifc").is_file():
        return case / "model.ifc"
    out = out_dir / f"{case.name}.ifc"
    if "source" in doc:
        data = (SHARED_IFC / doc["source"]).read_bytes()
        mut = doc.get("mutate", {})
        if "schema" in mut:
            old, new = mut["schema"]
            data = data.replace(f"FILE_SCHEMA(('{old}'))".encode(), f"FILE_SCHEMA(('{new}'))".encode(), 1)
        if "drop" in mut:  # remove one entity, leaving references to it dangling
            data = b"\n".join(line for line in data.split(b"\n") if not line.startswith(mut["drop"].encode()))
        if "truncate" in mut:
            data = data[: int(len(data) * float(mut["truncate"]))]
        if "cut" in mut:  # a block of bytes lost in the middle (mid-line at both ends)
            a, b = (int(len(data) * float(x)) for x in mut["cut"])
            data = data[:a] + data[b:]
        if "cut_lines" in mut:  # whole lines lost in the middle: the syntax stays valid
            lines = data.split(b"\n")
            a, b = (int(len(lines) * float(x)) for x in mut["cut_lines"])
            data = b"\n".join(lines[:a] + lines[b:])
        out.write_bytes(data)
        return out
    build(out, doc["build"])
    return out


def _zipped(case: Path, doc: dict[str, Any], out_dir: Path) -> Path:
    members: list[str] = doc["zip"]["members"]
    model = None
    if "source" in doc or "build" in doc:
        inner = out_dir / "unzipped"
        inner.mkdir(parents=True, exist_ok=True)
        model = materialise_plain(case, {k: v for k, v in doc.items() if k != "zip"}, inner)
    out = out_dir / f"{case.name}.ifczip"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in members:
            if name.lower().endswith(".ifc") and model is not None:
                zf.write(model, name)
            else:
                zf.writestr(name, f"{name}: not a model\n")
    return out


def _box(f: ifcopenshell.file, body: Any, el: Any, spec: dict[str, Any], rel_to: Any | None) -> None:
    """A box room: placement at `origin` (world, m), body offset by `offset` from the placement (as
    Revit does when the space origin is the storey's), extruded `h` high."""
    ox, oy, oz = spec.get("origin", [0, 0, 0])
    m = np.eye(4)
    m[:3, 3] = (ox, oy, oz)
    ifcopenshell.api.geometry.edit_object_placement(f, product=el, matrix=m, is_si=True)
    w, d, h = spec["size"]
    rep = ifcopenshell.api.geometry.add_wall_representation(f, context=body, length=w, height=h, thickness=d)
    dx, dy = spec.get("offset", [0, 0])
    if dx or dy:
        solid = rep.Items[0]
        loc = solid.Position.Location
        solid.Position.Location = f.create_entity(
            "IfcCartesianPoint",
            Coordinates=(loc.Coordinates[0] + dx, loc.Coordinates[1] + dy, loc.Coordinates[2]),
        )
    ifcopenshell.api.geometry.assign_representation(f, product=el, representation=rep)


def build(path: Path, spec: dict[str, Any]) -> None:
    """Write the model `spec` describes: schema, storeys [{name, elevation}], spaces
    [{name, long_name, parent: storey:<name> | space:<name> | building | site | none,
      relation: aggregate | contain, origin, size, offset}]."""
    api = ifcopenshell.api
    schema = spec.get("schema", "IFC4")
    f = api.project.create_file(version=schema)
    if schema == "IFC2X3":
        person = api.owner.add_person(f)
        org = api.owner.add_organisation(f)
        api.owner.add_person_and_organisation(f, person=person, organisation=org)
        api.owner.add_application(f)
    project = api.root.create_entity(f, ifc_class="IfcProject", name=path.stem)
    api.unit.assign_unit(f, length={"is_metric": True, "raw": "METERS"})
    model = api.context.add_context(f, context_type="Model")
    body = api.context.add_context(
        f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model
    )
    site = api.root.create_entity(f, ifc_class="IfcSite", name="site")
    api.aggregate.assign_object(f, products=[site], relating_object=project)
    building = api.root.create_entity(f, ifc_class="IfcBuilding", name="B")
    api.aggregate.assign_object(f, products=[building], relating_object=site)
    parents: dict[str, Any] = {"building": building, "site": site}
    for st in spec.get("storeys", []):
        storey = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name=st["name"])
        storey.Elevation = float(st.get("elevation", 0.0))
        api.aggregate.assign_object(f, products=[storey], relating_object=building)
        m = np.eye(4)
        m[2, 3] = storey.Elevation
        api.geometry.edit_object_placement(f, product=storey, matrix=m, is_si=True)
        parents[f"storey:{st['name']}"] = storey
    for sp in spec.get("spaces", []):
        space = api.root.create_entity(f, ifc_class="IfcSpace", name=sp["name"])
        space.LongName = sp.get("long_name")
        if "global_id" in sp:  # a copied room that kept its id
            space.GlobalId = sp["global_id"]
        parent = parents.get(sp.get("parent", "none"))
        if parent is not None:
            if sp.get("relation", "aggregate") == "contain":  # the api refuses spaces here: write it
                f.create_entity(
                    "IfcRelContainedInSpatialStructure",
                    GlobalId=ifcopenshell.guid.new(),
                    OwnerHistory=api.owner.create_owner_history(f),
                    RelatedElements=[space],
                    RelatingStructure=parent,
                )
            else:
                api.aggregate.assign_object(f, products=[space], relating_object=parent)
        if "size" in sp:
            _box(f, body, space, sp, parent)
        parents[f"space:{sp['name']}"] = space
    f.write(str(path))
