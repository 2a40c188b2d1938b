"""Write the twin back into IFC: bindings as IfcSensor elements in their spaces.

The exported model carries the twin by itself — any IFC viewer shows which sensor is in which
room, what it measures and its latest value. Previous CampusTwin sensors are replaced, so an
export always reflects the current binding table exactly (re-export is idempotent).

Each binding becomes one IfcSensor per measured point. A device-level binding (point None)
whose points are known (from the store, or from the sensors the source model already had) is
written as several sensors with `BindingLevel = "device"`, which the loader reads back as the
same device-level binding — so generated → bind → export → reopen yields the same table.

Sensors are placed as a BIM author would (`twin.sensor_placement`): inside the room's footprint,
at floor + min(2.5 m, room height − 0.3 m), relative to the space's placement, with a small box
body so viewers show them and a PredefinedType from the quantity. The change is recorded under
one owner history naming campus-twin as the application (mandatory in IFC2X3), not the file's
original authoring tool.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.owner.settings as owner_settings
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.type
import ifcopenshell.util.element as ue
import ifcopenshell.util.unit as uu

from contract.bindings import Binding
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import SeriesInfo, Store, StoredPoint
from twin.ifc_open import open_ifc
from twin.sensor_kinds import sensor_type
from twin.sensor_placement import add_box_body, room_shapes, sensor_points, set_relative_placement

log = logging.getLogger(__name__)

SENSOR_PSET = "CampusTwin_Sensor"
APP_NAME = "campus-twin"
APP_VERSION = "1"


@dataclass(frozen=True, slots=True)
class _SensorSpec:
    point: str | None
    quantity: str | None
    unit: str | None
    latest: StoredPoint | None
    device_level: bool


@dataclass(frozen=True, slots=True)
class ExportResult:
    source: Path
    out: Path
    sensors_written: int
    sensors_removed: int
    bindings_written: int
    bindings_skipped: tuple[str, ...]  # bindings whose space is not in this file (other building)
    warnings: tuple[str, ...] = ()  # e.g. a space without floor area: its sensors not written


def _existing_sensors(f: ifcopenshell.file) -> list[tuple[Any, dict[str, Any]]]:
    out = []
    for el in f.by_type("IfcDistributionControlElement"):
        p = ue.get_psets(el, psets_only=True).get(SENSOR_PSET)
        if p is not None:
            out.append((el, p))
    return out


def _ts_iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds")


def _specs(
    b: Binding,
    series: Sequence[SeriesInfo],
    latest: dict[SeriesKey, StoredPoint],
    prior: dict[str, list[dict[str, Any]]],
) -> list[_SensorSpec]:
    """The sensors to write for one binding (see the module docstring)."""
    mine = [s for s in series if s.key.site == b.site and s.key.device == b.device]
    if b.point is not None:
        s = next((s for s in mine if s.key.point == b.point), None)
        if s is not None:
            return [_SensorSpec(b.point, s.quantity, s.unit, latest.get(s.key), False)]
        old = next((p for p in prior.get(b.device, []) if p.get("Point") == b.point), None)
        q = old.get("Quantity") if old else None
        return [_SensorSpec(b.point, q, old.get("Unit") if old else None, None, False)]
    if mine:
        return [_SensorSpec(s.key.point, s.quantity, s.unit, latest.get(s.key), True) for s in mine]
    olds = prior.get(b.device, [])
    if olds:
        return [_SensorSpec(p.get("Point"), p.get("Quantity"), p.get("Unit"), None, True) for p in olds]
    return [_SensorSpec(None, None, None, None, True)]


def export_path(out_dir: str | Path, campus_id: str, source: str | Path) -> Path:
    """Where an export of `source` goes: `<out>/<campus>/<file name>` (`twin export --out`, and
    the API's `ifc_export` on rebinding: one layout)."""
    return Path(out_dir) / campus_id / Path(source).name


def quantity_of(spec_quantity: str | None, point: str | None) -> str | None:
    """The measured quantity: as known, else the point's own name when it is a quantity ("co2")."""
    if spec_quantity:
        return spec_quantity
    return point if point in CANONICAL_UNITS else None


def export_ifc(
    source: str | Path,
    out: str | Path,
    bindings: Iterable[Binding],
    store: Store | None = None,
) -> ExportResult:
    """Copy `source` to `out` with one IfcSensor per bound point inside the bound space.
    Raises `twin.ifc_open.IfcFileError` for a file that cannot be used (truncated included)."""
    src, dst = Path(source), Path(out)
    bindings = list(bindings)
    f = open_ifc(src).file
    spaces = {s.GlobalId: s for s in f.by_type("IfcSpace")}
    mine = [b for b in bindings if b.tags.room in spaces]
    skipped = tuple(
        f"{b.device}{'/' + b.point if b.point else ''}" for b in bindings if b.tags.room not in spaces
    )
    with _Change(f):
        prior: dict[str, list[dict[str, Any]]] = {}
        removed = 0
        for el, p in _existing_sensors(f):
            if p.get("DeviceId"):
                prior.setdefault(str(p["DeviceId"]), []).append(p)
            ifcopenshell.api.root.remove_product(f, product=el)
            removed += 1
        series: list[SeriesInfo] = []
        latest: dict[SeriesKey, StoredPoint] = {}
        if store is not None:
            devices = {(b.site, b.device) for b in mine}
            series = [s for s in store.series() if (s.key.site, s.key.device) in devices]
            latest = store.latest([s.key for s in series]) if series else {}
        scale = uu.calculate_unit_scale(f)
        plan = [(b, spec) for b in mine for spec in _specs(b, series, latest, prior)]
        shapes = room_shapes(f, {spaces[b.tags.room] for b, _ in plan})
        # a space without a floor (no geometry, zero area) has no inside: its placement origin is
        # wherever the tool put it (metres away), so its sensors are refused, not guessed
        refused = sorted({b.tags.room for b, _ in plan if b.tags.room not in shapes})
        warnings = [
            f"space {spaces[gid].Name or gid!r} has no floor area (no usable geometry): its sensors are not "
            "written; bind them to the room they are in"
            for gid in refused
        ]
        plan = [(b, spec) for b, spec in plan if b.tags.room not in refused]
        per_room: dict[str, int] = {}
        for b, _ in plan:
            per_room[b.tags.room] = per_room.get(b.tags.room, 0) + 1
        points = {gid: sensor_points(shapes.get(gid), n) for gid, n in per_room.items()}
        used: dict[str, int] = {}
        for b, spec in plan:
            gid = b.tags.room
            i = used.get(gid, 0)
            used[gid] = i + 1
            _write_sensor(f, spaces[gid], points[gid][i], b, spec, scale)
        written = len(plan)
    dst.parent.mkdir(parents=True, exist_ok=True)
    f.write(str(dst))
    log.info("exported %s → %s: %d sensors (%d replaced)", src, dst, written, removed)
    return ExportResult(src, dst, written, removed, len(mine), skipped, tuple(warnings))


class _Change:
    """One owner history for everything this export creates, naming campus-twin as the
    application. ifcopenshell.api would write one per entity and credit the file's first
    application (e.g. "Autodesk Revit Architecture 2011"), or fail on IFC2X3 files without one."""

    def __init__(self, f: ifcopenshell.file) -> None:
        self.f = f
        self.history: Any | None = None
        self._saved: tuple[Any, Any] | None = None
        self._first_new = 0

    def __enter__(self) -> _Change:
        f = self.f
        if f.schema == "IFC2X3" or f.by_type("IfcOwnerHistory"):
            org = f.create_entity("IfcOrganization", Name=APP_NAME)
            app = f.create_entity(
                "IfcApplication",
                ApplicationDeveloper=org,
                Version=APP_VERSION,
                ApplicationFullName="campus-twin digital twin (数字孪生校园)",
                ApplicationIdentifier=APP_NAME,
            )
            person = f.create_entity("IfcPerson", FamilyName=APP_NAME)
            user = f.create_entity("IfcPersonAndOrganization", ThePerson=person, TheOrganization=org)
            now = int(dt.datetime.now(dt.UTC).timestamp())
            self.history = f.create_entity(
                "IfcOwnerHistory",
                OwningUser=user,
                OwningApplication=app,
                ChangeAction="ADDED",
                LastModifiedDate=now,
                CreationDate=now,
            )
            self._install(user, app)
        else:  # IFC4+ without owner histories: keep it that way
            self._install(None, None)
        self._first_new = (self.history.id() if self.history is not None else _max_id(f)) + 1
        return self

    def _install(self, user: Any | None, app: Any | None) -> None:
        """ifcopenshell.api asks these module-level hooks who makes the change."""

        def get_user(ifc: ifcopenshell.file) -> ifcopenshell.entity_instance | None:
            return user

        def get_application(ifc: ifcopenshell.file) -> ifcopenshell.entity_instance | None:
            return app

        self._saved = (owner_settings.get_user, owner_settings.get_application)
        owner_settings.get_user = get_user
        owner_settings.get_application = get_application

    def __exit__(self, *exc: object) -> None:
        assert self._saved is not None
        owner_settings.get_user, owner_settings.get_application = self._saved
        if self.history is None:
            return
        for oh in list(self.f.by_type("IfcOwnerHistory")):
            if oh.id() < self._first_new or oh == self.history:
                continue
            for ref in self.f.get_inverse(oh):
                if hasattr(ref, "OwnerHistory"):
                    ref.OwnerHistory = self.history
            self.f.remove(oh)


def _max_id(f: ifcopenshell.file) -> int:
    return max((e.id() for e in f), default=0)


def _sensor_type_object(f: ifcopenshell.file, predefined: str, object_type: str | None) -> Any:
    """IFC2X3 has no IfcSensor, only IfcSensorType: one shared type per PredefinedType."""
    name = f"campus-twin {object_type or predefined}"
    for t in f.by_type("IfcSensorType"):
        if t.Name == name:
            return t
    t = ifcopenshell.api.root.create_entity(
        f, ifc_class="IfcSensorType", predefined_type=predefined, name=name
    )
    if object_type:
        t.ElementType = object_type
    return t


def _write_sensor(
    f: ifcopenshell.file,
    space: Any,
    point: tuple[float, float, float] | None,
    b: Binding,
    spec: _SensorSpec,
    scale: float,
) -> None:
    api = ifcopenshell.api
    quantity = quantity_of(spec.quantity, spec.point)
    predefined, object_type = sensor_type(quantity)
    name = " ".join(x for x in (b.device, spec.point or quantity) if x)
    if f.schema == "IFC2X3":  # IfcSensor exists from IFC4 on
        el = api.root.create_entity(f, ifc_class="IfcDistributionControlElement", name=name)
        el.ObjectType = object_type or predefined
        api.type.assign_type(
            f, related_objects=[el], relating_type=_sensor_type_object(f, predefined, object_type)
        )
    else:
        el = api.root.create_entity(f, ifc_class="IfcSensor", predefined_type=predefined, name=name)
        if object_type:
            el.ObjectType = object_type
    el.Tag = b.device
    api.spatial.assign_container(f, products=[el], relating_structure=space)
    set_relative_placement(f, el, space, point, scale)
    add_box_body(f, el, scale)
    props: dict[str, Any] = {"DeviceId": b.device, "Site": b.site}
    if spec.point:
        props["Point"] = spec.point
    if spec.device_level:
        props["BindingLevel"] = "device"
    if b.role:
        props["Role"] = b.role  # where it measures: reopening keeps the binding's role
    if quantity:
        props["Quantity"] = quantity
        props["Unit"] = spec.unit or CANONICAL_UNITS.get(quantity, "")
    if spec.latest is not None and spec.latest.value is not None:
        props["LatestValue"] = float(spec.latest.value)
        props["LatestTime"] = _ts_iso(spec.latest.ts)
    pset = api.pset.add_pset(f, product=el, name=SENSOR_PSET)
    api.pset.edit_pset(f, pset=pset, properties=props)
