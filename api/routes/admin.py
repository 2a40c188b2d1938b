"""Admin-only endpoints: reload the twin and bindings, rebind a device (with its audit line and
IFC write-back), and what commissioning needs to see: devices reporting but bound to no room,
rooms without a sensor, the binding audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam

from api.auth import Principal
from api.binding_audit import BindingAuditOut
from api.deps import admin, get_state
from api.errors import ERROR_RESPONSES, NOT_FOUND, ApiError, not_found
from api.rebind import export_table, set_binding_entry
from api.schemas import (
    BindingOut,
    ErrorOut,
    FileProblemOut,
    Page,
    RebindIn,
    ReloadOut,
    RoomOut,
    UnboundDeviceOut,
)
from api.state import AppState
from api.twin_loader import file_problems
from api.views import bound_devices, page, room_out
from contract.bindings import Binding, BindingTable
from contract.device_names import DeviceIdent
from contract.telemetry import ID_PATTERN
from store.base import StoredPoint
from twin.binding import needs_sensor, room_tags
from twin.index import SpacePlace

router = APIRouter(prefix="/admin", dependencies=[Depends(admin)], responses=ERROR_RESPONSES, tags=["admin"])
State = Annotated[AppState, Depends(get_state)]
Who = Annotated[Principal, Depends(admin)]
IdPath = Annotated[str, PathParam(pattern=ID_PATTERN, max_length=128)]
DeviceIdPath = Annotated[DeviceIdent, PathParam(max_length=128)]
IdQ = Annotated[str | None, Query(max_length=128)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
NS = 1_000_000_000


@router.post("/reload", operation_id="reloadTwin")
def reload_twin(state: State) -> ReloadOut:
    """Reload the twin config, IFC models and binding table from disk.

    A bad IFC file does not fail the reload (the campus's other files still load); each one is
    listed in `problems` with what is wrong, so the operator sees it without reading the log."""
    state.reload()
    series = state.series_index()
    return ReloadOut(
        campuses=len(state.twin.campuses),
        rooms=len(state.twin.spaces),
        bindings=len(state.loaded.bindings.bindings),
        series=len(series.series),
        problems=[
            FileProblemOut(file=p.file, kind=p.kind or "", ifc_schema=p.schema, message=p.message)
            for p in file_problems(state.loaded)
        ],
    )


@router.put(
    "/bindings/{site}/{device}",
    operation_id="rebindDevice",
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "no writable binding table"}},
)
def rebind_device(state: State, site: IdPath, device: DeviceIdPath, body: RebindIn, who: Who) -> BindingOut:
    """Bind a device (or one of its points) to a room; replaces its previous binding.

    The entry is written atomically to the campus's binding YAML with who and when as its
    comment (the twin reads it on reload), the exported table to `bindings_export` when
    configured (ingest reads it to tag new points), the IFC copies of the rooms' files to
    `ifc_export` when configured; one audit line records who, when, from and to. The API uses
    the new binding at once: no reload, no restart."""
    if site not in state.twin.campuses:
        raise not_found("campus", site)
    place = state.twin.space_by_tags(site, body.room, body.room)  # key, IFC GlobalId or number
    if place is None or place.campus.id != site:
        raise not_found("room", body.room)
    path = state.loaded.binding_files.get(site)
    if path is None:
        raise ApiError(409, "this campus has no binding file configured (twin config 'bindings:')")
    sp = place.space
    old = state.loaded.bindings
    before = _bound_place(state, site, device, body.point)
    # moving a sensor does not change where it measures: keep the role it was bound with (a
    # whole device: the role its bindings agree on)
    was = {
        b.role
        for b in old.bindings
        if b.site == site and b.device == device and (body.point is None or b.point in (body.point, None))
    }
    role = body.role or (was.pop() if len(was) == 1 else None)
    new = Binding(
        site=site,
        device=device,
        point=body.point,
        tags=room_tags(place.campus, place),
        source="api",
        role=role,
    )
    # rebinding a whole device also replaces its per-point bindings (they would win at lookup)
    kept = [
        b
        for b in old.bindings
        if not (b.site == site and b.device == device and (body.point is None or b.point == body.point))
    ]
    table = BindingTable(v=old.v, generated_at=datetime.now(UTC).isoformat(), bindings=[*kept, new])
    at = state.to_dt(state.now_ns())
    note = f"bound by {who.name} at {at.isoformat(timespec='seconds')} (web app)"
    set_binding_entry(path, site, device, body.point, sp.ifc_id, role, note)
    if state.settings.bindings_export is not None:
        export_table(table, state.settings.bindings_export)
    state.set_bindings(table)
    written = _export_ifc(state, site, table, [p for p in (before, place) if p is not None])
    line = state.binding_audit.add(
        BindingAuditOut(
            at=at,
            by=who.name,
            site=site,
            device=device,
            point=body.point,
            room=sp.global_id,
            room_number=sp.room_number,
            previous_room=before.space.global_id if before else None,
            previous_room_number=before.space.room_number if before else None,
            role=role,
            ifc_files=[str(p) for p in written],
        )
    )
    return BindingOut(
        site=site,
        device=device,
        point=body.point,
        room=sp.global_id,
        room_number=sp.room_number,
        source="api",
        role=role,
        audit=line,
    )


def _bound_place(state: AppState, site: str, device: str, point: str | None) -> SpacePlace | None:
    """Where the device (point) is placed now: its binding (a whole device: its device-level
    binding, else any of its points'), else where its series are tagged; None: nowhere."""
    mine = [b for b in state.loaded.bindings.bindings if b.site == site and b.device == device]
    mine.sort(key=lambda b: (b.point != point, b.point is not None))
    for b in mine:
        if point is None or b.point in (point, None):
            return state.twin.space_by_tags(b.tags.campus, b.tags.room, b.tags.room_number)
    ref = state.series_index().devices.get((site, device))
    return state.twin.spaces.get(ref.room) if ref and ref.room else None


def _export_ifc(state: AppState, site: str, table: BindingTable, places: list[SpacePlace]) -> list[Path]:
    """Rewrite the IFC copies of the files holding these rooms (`twin export`'s write-back)."""
    out_dir = state.settings.ifc_export
    if out_dir is None:
        return []
    from twin.ifc_open import IfcFileError
    from twin.writeback import export_ifc, export_path

    bindings = [b for b in table.bindings if b.tags.campus == site]
    written = []
    for src in dict.fromkeys(p.building.source_file for p in places):
        out = export_path(out_dir, site, src)
        try:
            export_ifc(src, out, bindings, state.store)
        except IfcFileError as exc:
            raise ApiError(409, f"binding saved, but the IFC copy was not written: {exc.problem}") from None
        written.append(out)
    return written


@router.get("/devices/unbound", operation_id="listUnboundDevices")
def list_unbound_devices(
    state: State, campus: IdQ = None, limit: Limit = 100, offset: Offset = 0
) -> Page[UnboundDeviceOut]:
    """Devices that report but whose points are in no room (by binding or by their series' room
    tags), newest report first: what commissioning still has to bind."""
    series = state.series_index()
    loose: dict[tuple[str, str], list[str]] = {}
    quantities: dict[tuple[str, str], set[str]] = {}
    for s in series.series:
        k = s.key
        if campus not in (None, k.site) or k in series.room_of:
            continue
        loose.setdefault((k.site, k.device), []).append(k.point)
        quantities.setdefault((k.site, k.device), set()).add(s.quantity)
    latest = state.store.latest() if loose else {}
    newest: dict[tuple[str, str], StoredPoint] = {}
    for k, p in latest.items():
        dk = (k.site, k.device)
        if dk in loose and (dk not in newest or p.ts > newest[dk].ts):
            newest[dk] = p
    now = state.now_ns()
    rows = []
    for dk, points in loose.items():
        last = newest.get(dk)
        age = (now - last.ts) / NS if last else None
        rows.append(
            UnboundDeviceOut(
                site=dk[0],
                id=dk[1],
                points=sorted(points),
                quantities=sorted(quantities[dk]),
                agent=last.agent if last else None,
                last_seen=state.to_dt(last.ts) if last else None,
                age_s=round(age, 3) if age is not None else None,
                stale=age is None or age > state.settings.stale_after_s,
            )
        )
    rows.sort(key=lambda r: (r.stale, -(r.last_seen.timestamp() if r.last_seen else 0.0), r.site, r.id))
    return page(Page[UnboundDeviceOut], rows, limit, offset)


@router.get("/rooms/without-sensors", operation_id="listRoomsWithoutSensors")
def list_rooms_without_sensors(
    state: State,
    campus: IdQ = None,
    building: IdQ = None,
    storey: IdQ = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RoomOut]:
    """Rooms that should have a sensor (not corridors, stairwells, toilets: `twin.binding`) and
    have none: no device bound, none reporting from it, no IfcSensor in the model."""
    series = state.series_index()
    rows = [
        room_out(p, series)
        for p in state.twin.spaces.values()
        if campus in (None, p.campus.id)
        and building in (None, p.building.global_id)
        and storey in (None, p.storey.global_id if p.storey else None)
        and needs_sensor(p.space)
        and not bound_devices(p, series)
    ]
    rows.sort(key=lambda r: (r.campus, r.number))
    return page(Page[RoomOut], rows, limit, offset)


@router.get("/bindings/audit", operation_id="listBindingAudit")
def list_binding_audit(
    state: State,
    campus: IdQ = None,
    device: IdQ = None,
    room: IdQ = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[BindingAuditOut]:
    """Every rebinding, newest first: who, when, the device (point), from which room to which
    (`room`: GlobalId or number, either end)."""
    rows = [
        a
        for a in state.binding_audit.newest_first()
        if campus in (None, a.site)
        and device in (None, a.device)
        and room in (None, a.room, a.previous_room, a.room_number, a.previous_room_number)
    ]
    return page(Page[BindingAuditOut], rows, limit, offset)
