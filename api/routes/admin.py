"""Admin-only, state-changing endpoints: reload the twin and bindings, rebind a device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam

from api.deps import admin, get_state
from api.errors import ERROR_RESPONSES, NOT_FOUND, ApiError, not_found
from api.rebind import export_table, set_binding_entry
from api.schemas import BindingOut, ErrorOut, FileProblemOut, RebindIn, ReloadOut
from api.state import AppState
from api.twin_loader import file_problems
from contract.bindings import Binding, BindingTable, RoomTags
from contract.device_names import DeviceIdent
from contract.telemetry import ID_PATTERN

router = APIRouter(prefix="/admin", dependencies=[Depends(admin)], responses=ERROR_RESPONSES, tags=["admin"])
State = Annotated[AppState, Depends(get_state)]
IdPath = Annotated[str, PathParam(pattern=ID_PATTERN, max_length=128)]
DeviceIdPath = Annotated[DeviceIdent, PathParam(max_length=128)]


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
def rebind_device(state: State, site: IdPath, device: DeviceIdPath, body: RebindIn) -> BindingOut:
    """Bind a device (or one of its points) to a room; replaces its previous binding.

    The entry is written atomically to the campus's binding YAML (the twin reads it on reload),
    the exported table to `bindings_export` when configured (ingest reads it to tag new
    points); the API uses the new binding at once."""
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
        tags=RoomTags(
            campus=site,
            building=place.building.global_id,
            storey=place.storey.global_id if place.storey else "",
            room=sp.ifc_id,  # telemetry names the IFC GlobalId (within its campus)
            room_number=sp.room_number,
            room_type=sp.room_type,
        ),
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
    set_binding_entry(path, site, device, body.point, sp.ifc_id, role)
    if state.settings.bindings_export is not None:
        export_table(table, state.settings.bindings_export)
    state.set_bindings(table)
    return BindingOut(
        site=site,
        device=device,
        point=body.point,
        room=sp.global_id,
        room_number=sp.room_number,
        source="api",
        role=role,
    )
