"""Room status (latest values, staleness, compliance) and history (aggregated from the store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import compliance
from api.deps import check_quantity, get_state, query_window, viewer
from api.errors import ERROR_RESPONSES, NOT_FOUND, ApiError, bad_param
from api.labels import quantity_label
from api.routes.hierarchy import place_of
from api.schemas import HistoryOut, HistoryPoint, HistorySeries, RoomStatusOut
from api.state import AppState
from api.status import rows_from_state
from api.timeparse import parse_duration_s
from api.views import room_out
from store.base import Agg, StoreError
from store.windows import MAX_EVERY_NS

router = APIRouter(dependencies=[Depends(viewer)], responses=ERROR_RESPONSES, tags=["rooms"])
State = Annotated[AppState, Depends(get_state)]
NS = 1_000_000_000
MAX_WINDOWS = 5000
MAX_RAW_SPAN_S = 86_400
AUTO_WINDOWS = 288


@router.get("/rooms/{room_id}/status", operation_id="getRoomStatus", responses=NOT_FOUND)
def room_status(state: State, room_id: str) -> RoomStatusOut:
    place = place_of(state, room_id)
    now = state.now_ns()
    st = state.live.room(state.live_inputs(now), place)
    verdicts = [compliance.verdict_out(v) for v in st.verdicts]
    return RoomStatusOut(
        room=room_out(place, state.series_index()),
        time=state.to_dt(now),
        occupied=st.occupied,
        occupancy_source=st.occupancy_source,
        values=rows_from_state(st, state.to_dt),
        status=st.status.value,
        reason=compliance.label(st.reason),
        breaches=compliance.breaches(st),
        verdicts=verdicts,
        compliance=compliance.overall([v.status for v in verdicts]),
    )


def _every_ns(every: str | None, span_ns: int) -> int | None:
    if every == "raw":
        if span_ns > MAX_RAW_SPAN_S * NS:
            raise bad_param(
                "every", f"raw points only for spans up to {MAX_RAW_SPAN_S // 3600} h; give every=5m"
            )
        return None
    if every is None:
        return max(60, -(-span_ns // (AUTO_WINDOWS * NS))) * NS
    try:
        every_ns = parse_duration_s(every) * NS
    except ValueError as exc:
        raise bad_param("every", str(exc)) from None
    if every_ns > MAX_EVERY_NS:
        raise bad_param("every", f"at most {MAX_EVERY_NS // (86_400 * NS)} days")
    if span_ns // every_ns > MAX_WINDOWS:
        raise bad_param("every", f"{span_ns // every_ns} windows exceed {MAX_WINDOWS}; choose a longer every")
    return every_ns


@router.get("/rooms/{room_id}/history", operation_id="getRoomHistory", responses=NOT_FOUND)
def room_history(
    state: State,
    room_id: str,
    quantity: Annotated[str, Query(max_length=32, description="e.g. co2, temperature, illuminance")],
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="ISO 8601; no offset = API timezone")
    ] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40, description="ISO 8601; default now")] = None,
    every: Annotated[
        str | None, Query(max_length=10, description="window, e.g. 5m, 1h; `raw` for points; default auto")
    ] = None,
    agg: Annotated[Agg, Query(description="aggregate per window")] = Agg.MEAN,
) -> HistoryOut:
    place = place_of(state, room_id)
    check_quantity(quantity)
    start_ns, end_ns = query_window(state, start, end, state.now_ns())
    every_ns = _every_ns(every, end_ns - start_ns)
    out = []
    for s in state.series_index().by_room.get(place.space.global_id, []):
        if s.quantity != quantity:
            continue
        try:
            windows = state.store.range(s.key, start_ns, end_ns, every_ns, agg, tz=state.tz)
        except ValueError as exc:  # outside store.windows.check_range
            raise bad_param("every", str(exc)) from None
        except StoreError as exc:
            raise ApiError(503, f"store query failed: {exc}") from None
        out.append(
            HistorySeries(
                device=s.key.device,
                point=s.key.point,
                quantity=s.quantity,
                unit=s.unit,
                points=[
                    HistoryPoint(time=state.to_dt(w.start), value=w.value, count=w.count) for w in windows
                ],
            )
        )
    return HistoryOut(
        room=place.space.global_id,
        quantity=quantity,
        label=quantity_label(quantity),
        start=state.to_dt(start_ns),
        end=state.to_dt(end_ns),
        every_s=every_ns / NS if every_ns else None,
        agg=agg.value,
        series=out,
    )
