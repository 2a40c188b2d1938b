"""Write the twin back into IFC: bindings as IfcSensor elements in their spaces.

The exported model carries the twin by itself — any IFC viewer shows which sensor is in which
room, what it measures and its latest value. Previous CampusTwin sensors are replaced, so an
export always reflects the current binding table exactly (re-export is idempotent).

Each binding becomes one IfcSensor per measured point. A device-level binding (point None)
whose points are known (from the store, or from the sensors the source model already had) is
written as several sensors with `BindingLevel = "device"`, which the loader reads back as the
same device-level binding — so generated → bind → export → reopen yields the same table.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.geometry
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.util.element as ue
import ifcopenshell.util.placement
import ifcopenshell.util.unit as uu

from contract.bindings import Binding
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import SeriesInfo, Store, StoredPoint
from twin.sensor_kinds import sensor_type

log = logging.getLogger(__name__)

SENSOR_PSET = "CampusTwin_Sensor"
SENSOR_HEIGHT_M = 2.5  # mounted above the space origin


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


def export_ifc(
    source: str | Path,
    out: str | Path,
    bindings: Iterable[Binding],
    store: Store | None = None,
) -> ExportResult:
    """Copy `source` to `out` with one IfcSensor per bound point in the bound space."""
    src, dst = Path(source), Path(out)
    f = ifcopenshell.open(str(src))
    spaces = {s.GlobalId: s for s in f.by_type("IfcSpace")}
    mine = [b for b in bindings if b.tags.room in spaces]
    skipped = tuple(
        f"{b.device}{'/' + b.point if b.point else ''}" for b in bindings if b.tags.room not in spaces
    )
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
    written = 0
    for b in mine:
        space = spaces[b.tags.room]
        for spec in _specs(b, series, latest, prior):
            _write_sensor(f, space, b, spec, scale)
            written += 1
    dst.parent.mkdir(parents=True, exist_ok=True)
    f.write(str(dst))
    log.info("exported %s → %s: %d sensors (%d replaced)", src, dst, written, removed)
    return ExportResult(src, dst, written, removed, len(mine), skipped)


def _write_sensor(f: ifcopenshell.file, space: Any, b: Binding, spec: _SensorSpec, scale: float) -> None:
    api = ifcopenshell.api
    predefined, object_type = sensor_type(spec.quantity)
    name = " ".join(x for x in (b.device, spec.point or spec.quantity) if x)
    if f.schema == "IFC2X3":  # IfcSensor exists from IFC4 on
        el = api.root.create_entity(f, ifc_class="IfcDistributionControlElement", name=name)
        el.ObjectType = object_type or predefined
    else:
        el = api.root.create_entity(f, ifc_class="IfcSensor", predefined_type=predefined, name=name)
        if object_type:
            el.ObjectType = object_type
    el.Tag = b.device
    api.spatial.assign_container(f, products=[el], relating_structure=space)
    if space.ObjectPlacement is not None:
        m = ifcopenshell.util.placement.get_local_placement(space.ObjectPlacement).copy()
        m[2, 3] += SENSOR_HEIGHT_M / scale
        api.geometry.edit_object_placement(f, product=el, matrix=m, is_si=False)
    props: dict[str, Any] = {"DeviceId": b.device, "Site": b.site}
    if spec.point:
        props["Point"] = spec.point
    if spec.device_level:
        props["BindingLevel"] = "device"
    if spec.quantity:
        props["Quantity"] = spec.quantity
        props["Unit"] = spec.unit or CANONICAL_UNITS.get(spec.quantity, "")
    if spec.latest is not None and spec.latest.value is not None:
        props["LatestValue"] = float(spec.latest.value)
        props["LatestTime"] = _ts_iso(spec.latest.ts)
    pset = api.pset.add_pset(f, product=el, name=SENSOR_PSET)
    api.pset.edit_pset(f, pset=pset, properties=props)
