"""District indicators of a campus, computed by the twin's indicators module."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import indicators_adapter
from api.deps import get_state, viewer
from api.errors import ERROR_RESPONSES, NOT_FOUND, known
from api.schemas import IndicatorOut, IndicatorsOut
from api.state import AppState

router = APIRouter(dependencies=[Depends(viewer)], responses=ERROR_RESPONSES, tags=["indicators"])
State = Annotated[AppState, Depends(get_state)]


@router.get(
    "/campuses/{campus_id}/indicators",
    operation_id="getIndicators",
    responses=NOT_FOUND,
)
async def get_indicators(
    state: State,
    campus_id: str,
    days: Annotated[int, Query(ge=1, le=366, description="period: the last N days up to now")] = 7,
) -> IndicatorsOut:
    """Cached per campus, period and minute; one build at a time (api/expensive.py), in a
    worker process when the API opened its store itself."""
    campus = known(state.twin.campuses, "campus", campus_id)
    now = state.now_ns()
    now -= now % (60 * 10**9)  # one result per minute: all viewers share it
    start = now - days * 86_400 * 10**9
    inputs = indicators_adapter.BuildInputs.of(state, campus, start, now)
    builds = state.builds
    if builds is None:  # a store handed in by the caller (tests, demo): build in a thread

        def build() -> list[IndicatorOut]:
            return indicators_adapter.compute(inputs, state.store)
    else:  # the API's own store: build in a worker process, off this process's GIL

        def build() -> list[IndicatorOut]:
            return builds.run(indicators_adapter.compute_in_worker, state.settings.store, inputs)

    items = await state.expensive.get(("indicators", campus.id, days, now), build)
    return IndicatorsOut(
        campus=campus.id,
        time=state.to_dt(now),
        start=state.to_dt(start),
        end=state.to_dt(now),
        indicators=items,
    )
