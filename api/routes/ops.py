"""Operations views: alerts (threshold breaches), devices and agents with health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.agent_health import AgentHealthBook
from api.alerts import MAX_ALERT_ROOMS, alert_rows
from api.deps import check_quantity, get_state, query_window, viewer
from api.errors import ERROR_RESPONSES, bad_param
from api.schemas import AgentOut, AlertOut, DeviceOut, Page
from api.scope import CURRENT, campuses_in_scope, scope_key
from api.state import AppState
from api.views import page
from store.base import StoredPoint
from twin.index import SpacePlace

router = APIRouter(dependencies=[Depends(viewer)], responses=ERROR_RESPONSES, tags=["operations"])
State = Annotated[AppState, Depends(get_state)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
IdQ = Annotated[str | None, Query(max_length=128)]
NS = 1_000_000_000
MAX_ALERT_SPAN_S = 31 * 86_400


@router.get("/alerts", operation_id="listAlerts")
async def get_alerts(
    state: State,
    campus: IdQ = None,
    building: IdQ = None,
    storey: IdQ = None,
    room: IdQ = None,
    quantity: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="ISO 8601; default to − 24 h")
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="ISO 8601; default now")] = None,
    open_only: Annotated[bool, Query(alias="open", description="only breaches still going on")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AlertOut]:
    """Breach episodes, newest first; one build per filter and period shared by every viewer
    for `verdict_cache_s` (paging and concurrent requests reuse it, api/expensive.py)."""
    now = state.now_ns()
    scope = _alert_scope(state, campus, building, storey, room, quantity, start, end, now)
    # the period is keyed at the cache's granularity: a default "last 24 h" asked a second
    # later is the same entry
    grain = max(int(state.settings.verdict_cache_s * NS), 1)
    key = (
        "alerts",
        scope_key(),
        campus,
        building,
        storey,
        room,
        quantity,
        open_only,
        scope[1] // grain,
        scope[2] // grain,
    )
    rows = await state.alerts.get(key, lambda: _alert_rows(state, *scope, now, quantity, open_only))
    return page(Page[AlertOut], rows, limit, offset)


def _alert_scope(
    state: AppState,
    campus: str | None,
    building: str | None,
    storey: str | None,
    room: str | None,
    quantity: str | None,
    start: str | None,
    end: str | None,
    now: int,
) -> tuple[list[SpacePlace], int, int]:
    """The rooms with data in scope and the period, checked (bad input: 422 naming the field)."""
    check_quantity(quantity)
    start_ns, end_ns = query_window(state, start, end, now)
    if end_ns - start_ns > MAX_ALERT_SPAN_S * NS:
        raise bad_param("from", f"period longer than {MAX_ALERT_SPAN_S // 86400} days")
    by_room = state.series_index().by_room
    seen = campuses_in_scope(CURRENT.get())  # a school's alerts are built from its rooms only
    places = [
        p
        for p in state.twin.spaces.values()
        if campus in (None, p.campus.id)
        and building in (None, p.building.global_id)
        and storey in (None, p.storey.global_id if p.storey else None)
        and room in (None, p.space.global_id)
        and p.space.global_id in by_room
        and (seen is None or p.campus.id in seen)
    ]
    if len(places) > MAX_ALERT_ROOMS:
        raise bad_param(
            "campus",
            f"{len(places)} rooms with data in scope; narrow to ≤{MAX_ALERT_ROOMS} (building/storey)",
        )
    return places, start_ns, end_ns


def _alert_rows(
    state: AppState,
    places: list[SpacePlace],
    start_ns: int,
    end_ns: int,
    now: int,
    quantity: str | None,
    open_only: bool,
) -> list[AlertOut]:
    found = state.live.alerts(state.live_inputs(now), places, start_ns, end_ns, quantity, open_only)
    return alert_rows(found, state.to_dt)


@router.get("/devices", operation_id="listDevices")
def list_devices(
    state: State,
    campus: IdQ = None,
    building: IdQ = None,
    room: IdQ = None,
    stale: Annotated[bool | None, Query(description="only stale (true) or fresh (false) devices")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DeviceOut]:
    series = state.series_index()
    latest = state.store.latest()
    newest: dict[tuple[str, str], StoredPoint] = {}
    points: dict[tuple[str, str], list[str]] = {}
    for k, p in latest.items():
        dk = (k.site, k.device)
        points.setdefault(dk, []).append(k.point)
        cur = newest.get(dk)
        if cur is None or p.ts > cur.ts:
            newest[dk] = p
    now = state.now_ns()
    rows = []
    for dk, ref in sorted(series.devices.items()):
        place = state.twin.spaces.get(ref.room) if ref.room else None
        if campus not in (None, ref.site) or room not in (None, ref.room):
            continue
        if building is not None and (place is None or place.building.global_id != building):
            continue
        last = newest.get(dk)
        age = (now - last.ts) / NS if last else None
        is_stale = age is None or age > state.settings.stale_after_s
        if stale is not None and is_stale is not stale:
            continue
        rows.append(
            DeviceOut(
                site=ref.site,
                id=ref.device,
                room=ref.room,
                room_number=place.space.room_number if place else None,
                agent=last.agent if last else None,
                last_seen=state.to_dt(last.ts) if last else None,
                age_s=round(age, 3) if age is not None else None,
                stale=is_stale,
                quality=last.quality if last else None,
                reason=last.reason if last else None,
                points=sorted(points.get(dk, [])),
            )
        )
    return page(Page[DeviceOut], rows, limit, offset)


@router.get("/agents", operation_id="listAgents")
def list_agents(state: State, campus: IdQ = None, limit: Limit = 100, offset: Offset = 0) -> Page[AgentOut]:
    latest = state.store.latest()
    seen: dict[tuple[str, str], int] = {}
    devices: dict[tuple[str, str], set[str]] = {}
    for k, p in latest.items():
        if p.agent:
            ak = (k.site, p.agent)
            seen[ak] = max(seen.get(ak, 0), p.ts)
            devices.setdefault(ak, set()).add(k.device)
    book: AgentHealthBook | None = state.agent_health
    reported = {(a.site, a.agent): a for a in book.agents()} if book else {}
    rows = []
    for ak in sorted(set(seen) | set(reported)):
        if campus not in (None, ak[0]):
            continue
        r = reported.get(ak)
        h = r.health if r else None
        status_ts = max((t for t in (r.status_ts, r.health_ts) if t), default=None) if r else None
        rows.append(
            AgentOut(
                site=ak[0],
                id=ak[1],
                state=r.state if r else "unknown",
                last_seen=state.to_dt(seen[ak]) if ak in seen else None,
                status_time=state.to_dt(status_ts) if status_ts else None,
                queue_depth=h.queue_depth if h else None,
                oldest_unsent_age_s=h.oldest_unsent_age_s if h else None,
                dropped_total=h.dropped_total if h else None,
                quarantined_total=h.quarantined_total if h else None,
                devices=len(devices.get(ak, ())),
            )
        )
    return page(Page[AgentOut], rows, limit, offset)
