"""Acknowledging alert episodes (admin) and listing the acknowledgements (viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.acks import AckIn, AckOut
from api.auth import Principal
from api.deps import admin, get_state, viewer
from api.errors import ERROR_RESPONSES, not_found
from api.scope import campus_of, visible
from api.state import AppState

router = APIRouter(prefix="/alerts/acks", responses=ERROR_RESPONSES, tags=["operations"])
State = Annotated[AppState, Depends(get_state)]


@router.get("", operation_id="listAlertAcks", dependencies=[Depends(viewer)])
def list_acks(state: State) -> list[AckOut]:
    """Every acknowledgement of the caller's campuses: the episode's key fields, who and when."""
    return visible(state.acks.all(), lambda a: campus_of(state, "room", a.room) or "")


@router.post("", operation_id="ackAlert")
def ack_alert(state: State, body: AckIn, who: Annotated[Principal, Depends(admin)]) -> AckOut:
    """Acknowledge one alert episode (admin); acknowledging again replaces the note and time."""
    if body.room not in state.twin.spaces:
        raise not_found("room", body.room)
    return state.acks.add(body, who.name, state.to_dt(state.now_ns()))
