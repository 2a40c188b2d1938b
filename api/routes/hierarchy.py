"""Campus → building → storey → room, the rooms filter, and the storey floor plan."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import compliance, rollup
from api.conditions import Clause, ConditionError, matches, parse_clause, parse_condition
from api.deps import check_quantity, get_state, viewer
from api.errors import ERROR_RESPONSES, NOT_FOUND, bad_param, known, not_found
from api.labels import quantity_label
from api.rollup import CampusRollupOut
from api.room_types import type_label
from api.schemas import (
    BuildingOut,
    CampusOut,
    FloorplanOut,
    FloorRoom,
    Page,
    PlanLabel,
    RoomItem,
    RoomOut,
    StoreyLiveOut,
    StoreyOut,
)
from api.state import AppState
from api.status import current_values, occupied, pick_latest, value_rows
from api.views import bound_devices, building_out, campus_out, page, room_out, storey_out
from contract.telemetry import CANONICAL_UNITS
from twin.index import SpacePlace
from twin.plan_labels import label_box

router = APIRouter(dependencies=[Depends(viewer)], responses=ERROR_RESPONSES, tags=["campus"])
State = Annotated[AppState, Depends(get_state)]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")]
IdQ = Annotated[str | None, Query(max_length=128)]


@router.get("/campuses", operation_id="listCampuses")
def list_campuses(state: State, limit: Limit = 100, offset: Offset = 0) -> Page[CampusOut]:
    return page(Page[CampusOut], [campus_out(c) for c in state.twin.campuses.values()], limit, offset)


@router.get("/campuses/{campus_id}", operation_id="getCampus", responses=NOT_FOUND)
def get_campus(state: State, campus_id: str) -> CampusOut:
    c = known(state.twin.campuses, "campus", campus_id)
    return campus_out(c)


@router.get("/campuses/{campus_id}/rollup", operation_id="getCampusRollup", responses=NOT_FOUND)
async def get_campus_rollup(state: State, campus_id: str) -> CampusRollupOut:
    """Rooms by status and open alerts for the campus, each building and each storey."""
    if campus_id not in state.twin.campuses:
        raise not_found("campus", campus_id)
    return await state.rollups.get(("rollup", campus_id), lambda: rollup.compute(state, campus_id))


@router.get("/buildings", operation_id="listBuildings")
def list_buildings(
    state: State, campus: IdQ = None, limit: Limit = 100, offset: Offset = 0
) -> Page[BuildingOut]:
    rows = [building_out(c, b) for c, b in state.twin.buildings.values() if campus in (None, c.id)]
    return page(Page[BuildingOut], rows, limit, offset)


@router.get("/buildings/{building_id}", operation_id="getBuilding", responses=NOT_FOUND)
def get_building(state: State, building_id: str) -> BuildingOut:
    found = known(state.twin.buildings, "building", building_id)
    return building_out(*found)


@router.get("/storeys", operation_id="listStoreys")
def list_storeys(
    state: State, campus: IdQ = None, building: IdQ = None, limit: Limit = 100, offset: Offset = 0
) -> Page[StoreyOut]:
    rows = [
        storey_out(c, b, st)
        for c, b, st in state.twin.storeys.values()
        if campus in (None, c.id) and building in (None, b.global_id)
    ]
    rows.sort(key=lambda s: (s.campus, s.building, s.elevation_m or 0.0))
    return page(Page[StoreyOut], rows, limit, offset)


@router.get("/storeys/{storey_id}", operation_id="getStorey", responses=NOT_FOUND)
def get_storey(state: State, storey_id: str) -> StoreyOut:
    found = known(state.twin.storeys, "storey", storey_id)
    return storey_out(*found)


def _clauses(
    condition: str | None, quantity: str | None, op: str | None, value: float | None
) -> list[Clause]:
    clauses: list[Clause] = []
    try:
        if condition:
            clauses += parse_condition(condition)
        if quantity is not None or op is not None or value is not None:
            if quantity is None or op is None or value is None:
                raise bad_param("quantity", "quantity, op and value go together")
            clauses.append(parse_clause(quantity, op, value))
    except ConditionError as exc:
        raise bad_param("condition" if condition else "quantity", str(exc)) from None
    return clauses


@router.get("/rooms", operation_id="listRooms")
def list_rooms(
    state: State,
    campus: IdQ = None,
    building: IdQ = None,
    storey: IdQ = None,
    type: Annotated[str | None, Query(max_length=64, description="room type key")] = None,
    condition: Annotated[
        str | None,
        Query(max_length=300, description="e.g. `co2>1000` or `illuminance<300,occupancy>0` (latest values)"),
    ] = None,
    quantity: Annotated[
        str | None, Query(max_length=32, description="structured condition: quantity")
    ] = None,
    op: Annotated[str | None, Query(max_length=2, description="gt ge lt le eq ne")] = None,
    value: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    occupied_only: Annotated[
        bool | None, Query(alias="occupied", description="only rooms (not) occupied now")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RoomItem]:
    clauses = _clauses(condition, quantity, op, value)
    places = [
        p
        for p in state.twin.spaces.values()
        if campus in (None, p.campus.id)
        and building in (None, p.building.global_id)
        and storey in (None, p.storey.global_id if p.storey else None)
        and type in (None, p.space.room_type)
    ]
    series = state.series_index()
    live = bool(clauses) or occupied_only is not None
    rows: list[RoomItem] = []
    if live:
        latest = state.store.latest()
        now = state.now_ns()
        in_class = state.live.in_class(now)
        for p in places:
            picked = pick_latest(series.by_room.get(p.space.global_id, []), latest)
            values = current_values(value_rows(picked, now, state.settings.stale_after_s, state.to_dt))
            occ = occupied(values)
            if occupied_only is not None and (in_class if occ is None else occ) is not occupied_only:
                continue
            hit = matches(clauses, values) if clauses else {}
            if hit is None:
                continue
            rows.append(room_out(p, series, RoomItem, matched=hit or None))  # type: ignore[arg-type]
    else:
        rows = [room_out(p, series, RoomItem) for p in places]  # type: ignore[misc]
    rows.sort(key=lambda r: (r.campus, r.number))
    return page(Page[RoomItem], rows, limit, offset)


def place_of(state: AppState, room_id: str) -> SpacePlace:
    place = known(state.twin.spaces, "room", room_id)
    return place


@router.get("/rooms/{room_id}", operation_id="getRoom", responses=NOT_FOUND)
def get_room(state: State, room_id: str) -> RoomOut:
    return room_out(place_of(state, room_id), state.series_index())


@lru_cache(maxsize=50_000)
def _label(poly: tuple[tuple[float, float], ...]) -> PlanLabel | None:
    box = label_box(poly)
    return None if box is None else PlanLabel(x=box.x, y=box.y, w=box.w, h=box.h)


@router.get("/storeys/{storey_id}/floorplan", operation_id="getFloorplan", responses=NOT_FOUND)
def get_floorplan(state: State, storey_id: str) -> FloorplanOut:
    found = known(state.twin.storeys, "storey", storey_id)
    c, b, st = found
    rooms = []
    series = state.series_index()
    xs: list[float] = []
    ys: list[float] = []
    for sp in st.spaces:
        if not sp.footprint or len(sp.footprint) < 3:
            continue
        poly = [(round(x, 3), round(y, 3)) for x, y in sp.footprint]
        xs += [x for x, _ in poly]
        ys += [y for _, y in poly]
        rooms.append(
            FloorRoom(
                id=sp.global_id,
                number=sp.room_number,
                name=sp.long_name,
                type=sp.room_type,
                type_label=type_label(sp.room_type, sp.long_name),
                polygon=poly,
                devices=bound_devices(state.twin.spaces[sp.global_id], series),
                label=_label(tuple(poly)),
            )
        )
    bounds = (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 1.0, 1.0)
    return FloorplanOut(
        storey=st.global_id, building=b.global_id, campus=c.id, name=st.name, bounds=bounds, rooms=rooms
    )


@router.get("/storeys/{storey_id}/live", operation_id="getStoreyLive", responses=NOT_FOUND)
def get_storey_live(
    state: State,
    storey_id: str,
    quantity: Annotated[
        str | None, Query(max_length=32, description="colour by this quantity; absent = by compliance")
    ] = None,
) -> StoreyLiveOut:
    known(state.twin.storeys, "storey", storey_id)
    check_quantity(quantity)
    now = state.now_ns()
    live = state.live.storey(state.live_inputs(now), storey_id, quantity)
    return StoreyLiveOut(
        storey=storey_id,
        quantity=quantity,
        label=quantity_label(quantity) if quantity else None,
        unit=CANONICAL_UNITS[quantity] if quantity else None,
        limit=list(live.limit) if isinstance(live.limit, tuple) else live.limit,
        time=state.to_dt(now),
        rooms=[compliance.live_room(st, quantity) for st in live.rooms],
    )
