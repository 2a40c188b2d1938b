"""Load IFC files (IFC2X3, IFC4, IFC4X3) into the twin's plain model (`twin.model`).

Real exports are messy: storeys missing, spaces hung directly under a building or the site,
spaces without LongName or geometry, spaces nested in spaces. The loader walks each space up
its spatial chain instead of trusting one layout, keeps everything it finds, and records a
`Problem` for whatever it had to guess. Only an unreadable file is a problem at file level.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.util.element as ue
import ifcopenshell.util.unit as uu

from twin.ifc_geometry import space_meshes
from twin.ifc_open import UNREADABLE, IfcFileError, IfcFileProblem, open_ifc
from twin.isolate import heavy, run_isolated
from twin.model import Building, Campus, Problem, Space, Storey

log = logging.getLogger(__name__)

SENSOR_PSET = "CampusTwin_Sensor"
QTO_NAMES = ("Qto_SpaceBaseQuantities", "BaseQuantities")  # IFC4 standard, IFC2X3/exporter habit
AREA_KEYS = ("NetFloorArea", "GrossFloorArea")
VOLUME_KEYS = ("NetVolume", "GrossVolume")
HEIGHT_KEYS = ("Height", "FinishCeilingHeight", "ClearHeight")
# The authoring tool's own figures, read when there is no Qto (before any tessellation): pset name →
# (area keys, volume keys, height keys). Revit writes PSet_Revit_Dimensions, ArchiCAD its quantities
# (English and German UIs), GSA/COBie exports a BIM area; ArchiCAD 9 writes an element quantity
# with no name at all ('horizontal area', 'volume': read under the name UNNAMED_SET).
UNNAMED_SET = "(unnamed quantity set)"
TOOL_QUANTITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    UNNAMED_SET: (
        ("horizontal area", "NetFloorArea", "GrossFloorArea", "Area"),
        ("volume", "Volume"),
        ("height", "Height"),
    ),
    "PSet_Revit_Dimensions": (("Area",), ("Volume",), ("Unbounded Height",)),
    "ArchiCADQuantities": (
        ("Net Area", "Area", "Nettofläche", "Fläche"),
        ("Net Volume", "Volume", "Netto-Volumen", "Volumen"),
        ("Height", "Höhe"),
    ),
    "GSA Space Areas": (("GSA BIM Area",), (), ()),
}
SENSOR_CLASSES = ("IfcSensor",)  # IFC4+; IFC2X3 uses IfcDistributionControlElement + ObjectType

# Progress callback: (file, stage, done, total). Stages: "open", "spaces", "geometry", "done".
Progress = Callable[[str, str, int, int], None]


@dataclass(slots=True)
class LoadedFile:
    """One IFC file as loaded: its buildings (possibly synthetic ones for orphans) and problems."""

    path: str
    schema: str | None
    site_name: str | None = None
    site_long_name: str | None = None
    buildings: list[Building] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    open_s: float = 0.0
    load_s: float = 0.0


def _gid(el: Any) -> str:
    return str(getattr(el, "GlobalId", None) or f"#{el.id()}")


def containers(f: ifcopenshell.file) -> dict[int, Any]:
    """Entity id → spatial container, from the relationships themselves: IFC2X3 allows a space to
    be *contained* in a storey but gives IfcSpace no ContainedInStructure inverse to find it by."""
    out: dict[int, Any] = {}
    for rel in f.by_type("IfcRelContainedInSpatialStructure"):
        for el in rel.RelatedElements or ():
            out.setdefault(el.id(), rel.RelatingStructure)
    return out


def spatial_parent(el: Any, contained: dict[int, Any]) -> Any | None:
    """The spatial parent: aggregate first (normal for spatial elements), else the container."""
    for rel in getattr(el, "Decomposes", None) or ():
        return rel.RelatingObject
    for rel in getattr(el, "ContainedInStructure", None) or ():
        return rel.RelatingStructure
    return contained.get(el.id())


def spatial_chain(el: Any, contained: dict[int, Any]) -> list[Any]:
    """Ancestors of `el`, nearest first, guarding against cyclic (broken) files."""
    out: list[Any] = []
    seen = {el.id()}
    node = spatial_parent(el, contained)
    while node is not None and node.id() not in seen:
        out.append(node)
        seen.add(node.id())
        node = spatial_parent(node, contained)
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "id" and not isinstance(v, ifcopenshell.entity_instance)}


def _classifications(el: Any) -> list[str]:
    """'System:Code:Name' for each classification reference (IFC2X3 ItemReference or IFC4 Identification)."""
    out = []
    for rel in getattr(el, "HasAssociations", None) or ():
        if not rel.is_a("IfcRelAssociatesClassification"):
            continue
        ref = rel.RelatingClassification
        code = getattr(ref, "Identification", None) or getattr(ref, "ItemReference", None) or ""
        system = ""
        src = getattr(ref, "ReferencedSource", None)
        if src is not None:
            system = getattr(src, "Name", None) or ""
        name = getattr(ref, "Name", None) or ""
        out.append(f"{system}:{code}:{name}")
    return out


def _elements_in(space: Any) -> list[Any]:
    els: list[Any] = []
    for rel in getattr(space, "ContainsElements", None) or ():
        els.extend(rel.RelatedElements)
    for rel in getattr(space, "ReferencesElements", None) or ():
        els.extend(rel.RelatedElements)
    return els


def _sensor_psets(el: Any) -> dict[str, Any]:
    """Only the CampusTwin_Sensor pset, read directly: `get_psets` on every sensor of a campus
    (hundreds per building) was most of the load time."""
    for rel in getattr(el, "IsDefinedBy", None) or ():
        if not rel.is_a("IfcRelDefinesByProperties"):
            continue
        d = rel.RelatingPropertyDefinition
        if d.is_a("IfcPropertySet") and d.Name == SENSOR_PSET:
            return {
                SENSOR_PSET: {
                    p.Name: p.NominalValue.wrappedValue
                    for p in d.HasProperties or ()
                    if p.is_a("IfcPropertySingleValue") and p.NominalValue is not None
                }
            }
    return {}


def _is_sensor(el: Any, psets: dict[str, Any]) -> bool:
    return (
        el.is_a("IfcSensor")
        or SENSOR_PSET in psets
        or (el.is_a() == "IfcDistributionControlElement")  # IFC2X3's only control-element class
    )


def _sensor_info(el: Any, psets: dict[str, Any]) -> dict[str, Any]:
    p = psets.get(SENSOR_PSET, {})
    return {
        "global_id": _gid(el),
        "ifc_class": el.is_a(),
        "name": getattr(el, "Name", None),
        "predefined_type": getattr(el, "PredefinedType", None),
        "object_type": getattr(el, "ObjectType", None),
        "tag": getattr(el, "Tag", None),
        "device_id": p.get("DeviceId"),
        "point": p.get("Point"),
        "quantity": p.get("Quantity"),
        "unit": p.get("Unit"),
        "site": p.get("Site"),
        "binding_level": p.get("BindingLevel"),
        "role": p.get("Role"),
    }


MIN_AREA_M2 = 0.01
ZERO_AREA_NOTE = "sensors bound to it are not written back (bind them to the room they are in)"


def _states_zero_area(*sets: dict[str, Any]) -> bool:
    """A Qto or tool property set that gives the floor area as 0 (a room drawn without extent)."""
    keys = {*AREA_KEYS, *(k for a, _, _ in TOOL_QUANTITIES.values() for k in a)}
    return any(
        v == 0 for d in sets for q in d.values() if isinstance(q, dict) for k, v in q.items() if k in keys
    )


def describe(el: Any) -> str:
    """`#12 IfcSpace 'A-101 教室'`: how a user finds the object in a viewer or the file."""
    label = " ".join(str(x) for x in (getattr(el, "Name", None), getattr(el, "LongName", None)) if x)
    return f"#{el.id()} {el.is_a()}" + (f" {label!r}" if label else "")


def _first(d: dict[str, Any], keys: Iterable[str]) -> float | None:
    for k in keys:
        v = d.get(k)
        if isinstance(v, int | float) and v > 0:
            return float(v)
    return None


class _FileLoader:
    def __init__(
        self, f: ifcopenshell.file, path: str, campus: str, progress: Progress | None, geometry: bool
    ) -> None:
        self.f = f
        self.path = path
        self.campus = campus
        self.progress = progress
        self.geometry = geometry
        self.contained = containers(f)
        self.problems: list[Problem] = []
        self.scale = {u: uu.calculate_unit_scale(f, u) for u in ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT")}
        self.buildings: dict[int, Building] = {}
        self.storeys: dict[int, Storey] = {}
        self._orphan: Building | None = None
        self._seen: dict[str, Any] = {}  # GlobalId → the first object loaded with it

    def _unique(self, el: Any) -> None:
        """A GlobalId used by two objects of this file is listed naming both (#id, class, name):
        exporters that copy rooms sometimes copy their ids too; bindings by it are refused."""
        gid = getattr(el, "GlobalId", None)
        if not gid:
            return
        first = self._seen.setdefault(gid, el)
        if first is not el:
            self.problems.append(
                Problem(
                    self.path,
                    gid,
                    f"GlobalId {gid} is used by two objects in this file: {describe(first)} and "
                    f"{describe(el)}; bindings by this GlobalId are refused, bind by room number",
                )
            )

    def problem(self, entity: Any | None, message: str) -> None:
        self.problems.append(Problem(self.path, _gid(entity) if entity is not None else None, message))

    def orphan_building(self) -> Building:
        """A stand-in building for storeys/spaces that hang under no IfcBuilding."""
        if self._orphan is None:
            self._orphan = Building(
                global_id=f"unassigned:{Path(self.path).name}",
                name="(no building)",
                campus=self.campus,
                source_file=self.path,
            )
        return self._orphan

    def load(self) -> list[Building]:
        for b in self.f.by_type("IfcBuilding"):
            self._unique(b)
            self.buildings[b.id()] = Building(
                global_id=_gid(b), name=b.Name or b.LongName, campus=self.campus, source_file=self.path
            )
            if not b.Name:
                self.problem(b, "building has no Name")
        for st in sorted(self.f.by_type("IfcBuildingStorey"), key=lambda s: s.Elevation or 0.0):
            self._add_storey(st)
        spaces = self.f.by_type("IfcSpace")
        loaded: list[tuple[Any, Space]] = []
        for i, sp in enumerate(spaces):
            loaded.append((sp, self._add_space(sp)))
            if self.progress and (i % 200 == 0 or i == len(spaces) - 1):
                self.progress(self.path, "spaces", i + 1, len(spaces))
        self._fill_missing_quantities(loaded)
        self._zones()
        out = list(self.buildings.values())
        if self._orphan is not None:
            out.append(self._orphan)
        if not spaces:
            self.problem(None, "file contains no IfcSpace")
        return out

    def _add_storey(self, st: Any) -> None:
        self._unique(st)
        building = next((a for a in spatial_chain(st, self.contained) if a.is_a("IfcBuilding")), None)
        if building is None:
            self.problem(st, f"storey {st.Name!r} is not part of any IfcBuilding")
            owner = self.orphan_building()
        else:
            owner = self.buildings[building.id()]
        elev = st.Elevation
        storey = Storey(
            global_id=_gid(st),
            name=st.Name,
            elevation_m=float(elev) * self.scale["LENGTHUNIT"] if elev is not None else None,
            building_id=owner.global_id,
        )
        if elev is None:
            self.problem(st, f"storey {st.Name!r} has no Elevation")
        owner.storeys.append(storey)
        self.storeys[st.id()] = storey

    def _add_space(self, sp: Any) -> Space:
        self._unique(sp)
        chain = spatial_chain(sp, self.contained)
        storey_el = next((a for a in chain if a.is_a("IfcBuildingStorey")), None)
        building_el = next((a for a in chain if a.is_a("IfcBuilding")), None)
        parent_space = next((a for a in chain if a.is_a("IfcSpace")), None)
        all_psets = {UNNAMED_SET if k is None else k: v for k, v in ue.get_psets(sp).items()}
        qtos = {k: v for k, v in all_psets.items() if k in QTO_NAMES}
        psets = {k: _clean(v) for k, v in all_psets.items() if k not in QTO_NAMES}
        space = Space(
            global_id=_gid(sp),
            name=sp.Name,
            long_name=sp.LongName,
            object_type=getattr(sp, "ObjectType", None),
            description=getattr(sp, "Description", None),
            classifications=_classifications(sp),
            psets=psets,
        )
        label = sp.Name or sp.LongName or _gid(sp)
        if not sp.Name:
            self.problem(sp, "space has no Name (room number); its GlobalId stands in")
        if parent_space is not None:
            self.problem(
                sp, f"space {label!r} is nested in space {parent_space.Name or _gid(parent_space)!r}"
            )
        for qname in QTO_NAMES:
            q = qtos.get(qname)
            if q:
                self._quantities_from_qto(space, q, qname)
                break
        self._quantities_from_tool(space, psets)
        if space.area_m2 is None and _states_zero_area(qtos, psets):
            self.problem(sp, f"space {label!r} states a floor area of 0 m²: {ZERO_AREA_NOTE}")
        self._elements(sp, space)
        if storey_el is not None and storey_el.id() in self.storeys:
            storey = self.storeys[storey_el.id()]
            space.storey_id = storey.global_id
            space.building_id = storey.building_id
            storey.spaces.append(space)
        else:
            if building_el is not None:
                owner = self.buildings[building_el.id()]
                self.problem(sp, f"space {label!r} is attached to building {owner.name!r} without a storey")
            else:
                owner = self.orphan_building()
                self.problem(sp, f"space {label!r} is in no building (orphan)")
            space.building_id = owner.global_id
            owner.spaces_without_storey.append(space)
        return space

    def _quantities_from_qto(self, space: Space, q: dict[str, Any], qname: str) -> None:
        area = _first(q, AREA_KEYS)
        volume = _first(q, VOLUME_KEYS)
        height = _first(q, HEIGHT_KEYS)
        space.area_m2 = area * self.scale["AREAUNIT"] if area is not None else None
        space.volume_m3 = volume * self.scale["VOLUMEUNIT"] if volume is not None else None
        space.height_m = height * self.scale["LENGTHUNIT"] if height is not None else None
        if area is not None:
            space.quantity_source = qname

    def _quantities_from_tool(self, space: Space, psets: dict[str, Any]) -> None:
        """Fill what the Qto left open from the authoring tool's own properties (TOOL_QUANTITIES)."""
        for pname, (area_keys, volume_keys, height_keys) in TOOL_QUANTITIES.items():
            p = psets.get(pname)
            if not p:
                continue
            key = next((k for k in area_keys if _first(p, (k,)) is not None), None)
            if space.area_m2 is None and key is not None:
                space.area_m2 = float(p[key]) * self.scale["AREAUNIT"]
                space.quantity_source = f"{pname}.{key}"
            if space.volume_m3 is None and (volume := _first(p, volume_keys)) is not None:
                space.volume_m3 = volume * self.scale["VOLUMEUNIT"]
            if space.height_m is None and (height := _first(p, height_keys)) is not None:
                space.height_m = height * self.scale["LENGTHUNIT"]

    def _elements(self, sp: Any, space: Space) -> None:
        for el in _elements_in(sp):
            # psets are the expensive read: only control elements can be (our) sensors
            control = el.is_a("IfcDistributionControlElement")
            psets = _sensor_psets(el) if control else {}
            if control and _is_sensor(el, psets):
                space.sensors.append(_sensor_info(el, psets))
                continue
            space.equipment.append(el.is_a())
            space.equipment_info.append(
                {
                    "global_id": _gid(el),
                    "ifc_class": el.is_a(),
                    "predefined_type": getattr(el, "PredefinedType", None),
                    "object_type": getattr(el, "ObjectType", None),
                    "name": getattr(el, "Name", None),
                }
            )

    def _fill_missing_quantities(self, loaded: list[tuple[Any, Space]]) -> None:
        todo = [(el, s) for el, s in loaded if s.area_m2 is None or s.volume_m3 is None or s.height_m is None]
        if not todo:
            return
        if not self.geometry:  # tessellation is the slow part: only commands that need it ask
            for el, s in todo:
                if s.area_m2 is None and getattr(el, "Representation", None) is None:
                    self.problem(el, f"space {s.room_number!r}: no quantities and no geometry; area unknown")
            return

        def geo_progress(done: int, total: int) -> None:
            if self.progress:
                self.progress(self.path, "geometry", done, total)

        meshes, failed = space_meshes(self.f, [el for el, _ in todo], geo_progress)
        for el, s in todo:
            mesh = meshes.get(el.id())
            if mesh is None:
                reason = failed.get(el.id(), "no geometry")
                if s.area_m2 is None:
                    self.problem(el, f"space {s.room_number!r}: no quantities and {reason}; area unknown")
                continue
            if s.area_m2 is None:
                s.area_m2 = round(mesh.footprint().area, 4)
                s.quantity_source = "geometry"
                if s.area_m2 < MIN_AREA_M2:
                    self.problem(
                        el, f"space {s.room_number!r}: its shape has no floor area: {ZERO_AREA_NOTE}"
                    )
            if s.volume_m3 is None:
                s.volume_m3 = round(mesh.volume, 4)
            if s.height_m is None:
                s.height_m = round(mesh.height, 4)

    def _zones(self) -> None:
        by_gid = {s.global_id: s for b in self.buildings.values() for s in b.all_spaces()}
        if self._orphan is not None:
            by_gid.update({s.global_id: s for s in self._orphan.all_spaces()})
        for zone in self.f.by_type("IfcZone"):
            for rel in getattr(zone, "IsGroupedBy", None) or ():
                for obj in rel.RelatedObjects:
                    s = by_gid.get(_gid(obj))
                    if s is not None:
                        s.zones.append(zone.Name or _gid(zone))


def file_problem(fp: IfcFileProblem, *, partial: bool = False) -> Problem:
    """A file-level `IfcFileProblem` as a campus `Problem` (kind and schema kept); `partial` when
    what the file holds was loaded anyway (a truncated or damaged body)."""
    what = "loaded only in part" if partial else "cannot use IFC file"
    return Problem(fp.file, None, f"{what}: {fp.reason}", kind=fp.kind, schema=fp.schema)


def load_ifc(
    path: str | Path,
    campus: str,
    progress: Progress | None = None,
    *,
    geometry: bool = False,
    isolate: bool | None = None,
) -> LoadedFile:
    """Load one IFC file. Never raises for content problems; an unreadable or unsupported file
    yields one file-level Problem; a truncated or damaged body (references to entities not in the
    file) loads what it has behind a "truncated" or "unresolved_references" Problem naming the line.

    `geometry=True` tessellates spaces that have neither a Qto nor the authoring tool's area
    property (slow: about 2 ms per space); otherwise their area stays unknown until a floor plan
    is computed (`floorplan.attach_footprints`). `isolate` reads the file in a child process
    (`twin.isolate`: a native crash becomes a "crashed" problem); None lets the size decide."""
    p = str(path)
    if isolate is None:
        isolate = heavy(p)
    if not isolate:
        return read_ifc(p, campus, progress, geometry=geometry)
    try:
        return run_isolated(p, partial(read_ifc, geometry=geometry), p, campus, progress)
    except IfcFileError as exc:
        return LoadedFile(p, exc.problem.schema, problems=[file_problem(exc.problem)])


def read_ifc(
    path: str | Path,
    campus: str,
    progress: Progress | None = None,
    *,
    geometry: bool = False,
    then: Callable[[ifcopenshell.file, LoadedFile], None] | None = None,
) -> LoadedFile:
    """`load_ifc` in this process. `then(file, loaded)` runs on the parsed file afterwards (the
    floor plans of a cold load: the file is parsed once), unless the file could not be used."""
    p = str(path)
    t0 = time.perf_counter()
    if progress:
        progress(p, "open", 0, 1)
    try:
        opened = open_ifc(p, allow_partial=True, lazy=then is None)
    except IfcFileError as exc:
        return LoadedFile(p, exc.problem.schema, problems=[file_problem(exc.problem)])
    f = opened.file
    out = LoadedFile(p, f.schema, open_s=opened.open_s)
    fl = _FileLoader(f, p, campus, progress, geometry)
    if opened.partial is not None:
        fl.problems.append(file_problem(opened.partial, partial=True))
    try:
        sites = f.by_type("IfcSite")
        if sites:
            out.site_name, out.site_long_name = sites[0].Name, sites[0].LongName
        out.buildings = fl.load()
    except Exception as exc:  # a malformed entity we did not foresee: the file's problem, listed
        log.debug("unexpected error loading %s", p, exc_info=True)
        out.buildings = []
        fl.problems.append(
            file_problem(
                IfcFileProblem(
                    p,
                    f.schema,
                    UNREADABLE,
                    f"reading the model failed: {type(exc).__name__}: {exc}; the file is damaged "
                    "(entities with colliding ids, or of the wrong type): re-export it",
                )
            )
        )
    if then is not None and opened.partial is None and out.buildings:
        try:
            then(f, out)
        except Exception as exc:  # the model stands; what `then` adds (plans) is missing
            log.debug("after loading %s", p, exc_info=True)
            fl.problem(None, f"floor plans not drawn: {type(exc).__name__}: {exc}")
    out.problems = fl.problems
    out.load_s = time.perf_counter() - t0
    if progress:
        progress(p, "done", 1, 1)
    log.info(
        "loaded %s (%s): %d buildings, %d spaces, %d problems in %.2fs",
        p,
        f.schema,
        len(out.buildings),
        sum(len(b.all_spaces()) for b in out.buildings),
        len(out.problems),
        out.load_s,
    )
    return out


def load_campus(
    campus_id: str,
    name: str,
    paths: Iterable[str | Path],
    progress: Progress | None = None,
    *,
    geometry: bool = False,
    reader: Callable[[str], LoadedFile] | None = None,
) -> Campus:
    """Several IFC files (typically one per building) merged into one campus. `reader` reads one
    file (default `load_ifc`; the twin config passes one that also attaches floor plans)."""
    campus = Campus(id=campus_id, name=name)
    schemas = []
    seen: dict[str, tuple[int, str, Space]] = {}
    for i, path in enumerate(paths):
        lf = reader(str(path)) if reader else load_ifc(path, campus_id, progress, geometry=geometry)
        for b in lf.buildings:
            for s in b.all_spaces():
                first = seen.setdefault(s.ifc_id, (i, lf.path, s))
                if first[0] != i:  # within one file the loader lists it, naming both objects
                    campus.problems.append(
                        Problem(
                            lf.path,
                            s.ifc_id,
                            f"space GlobalId {s.ifc_id} ({_label(s)}) is also in {first[1]} ({_label(first[2])}); "
                            "bindings by this GlobalId are refused, bind by room number",
                        )
                    )
        if lf.schema:
            schemas.append(lf.schema)
        campus.buildings.extend(lf.buildings)
        campus.problems.extend(lf.problems)
        campus.source_files.append(lf.path)
    uniq = sorted(set(schemas))
    campus.schema = ",".join(uniq) if uniq else None
    return campus


def _label(s: Space) -> str:
    return " ".join(x for x in (s.name, s.long_name) if x) or "no name"
