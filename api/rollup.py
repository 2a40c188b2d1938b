"""Status roll-ups for the home, campus and building pages: rooms by status and open alerts.

The API formats, it does not evaluate: room statuses are exactly what the storey live plan
shows (the standards engine via `get_storey_live`), open alerts exactly what `/alerts?open=true`
lists. The route caches a campus roll-up for `verdict_cache_s` through `api/expensive.py`, so a
page polling it costs a dict read and concurrent first requests share one computation.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from api.errors import ApiError

if TYPE_CHECKING:
    from api.state import AppState


class Rollup(BaseModel):
    rooms: int
    by_status: dict[str, int] = Field(description="rooms per status of the live plan (standards engine)")
    open_alerts: int | None = Field(description="breach episodes still going on; null = scope too large")


class CampusRollupOut(BaseModel):
    campus: str
    name: str
    problems: int = Field(description="model problems found loading the campus IFC")
    total: Rollup
    buildings: dict[str, Rollup]
    storeys: dict[str, Rollup]
    time: datetime


def _rollup(statuses: list[str], alerts: int | None) -> Rollup:
    return Rollup(rooms=len(statuses), by_status=dict(Counter(statuses)), open_alerts=alerts)


def compute(state: AppState, campus_id: str) -> CampusRollupOut:
    from api.routes.hierarchy import get_storey_live
    from api.routes.ops import list_alerts

    campus = state.twin.campuses[campus_id]
    storey_status: dict[str, list[str]] = {}
    for b in campus.buildings:
        for st in b.storeys:
            live = get_storey_live(state, st.global_id, None)
            storey_status[st.global_id] = [str(r.status) for r in live.rooms]
    alerts_by_storey: Counter[str] | None
    try:
        page = list_alerts(state, campus=campus_id, open_only=True, limit=1000, offset=0)
        alerts_by_storey = Counter(
            p.storey.global_id
            for a in page.items
            if (p := state.twin.spaces.get(a.room)) is not None and p.storey is not None
        )
    except ApiError:  # more rooms with data than one alerts query covers
        alerts_by_storey = None
    storeys: dict[str, Rollup] = {}
    buildings: dict[str, Rollup] = {}
    for b in campus.buildings:
        b_status: list[str] = []
        for st in b.storeys:
            s = storey_status[st.global_id]
            b_status += s
            storeys[st.global_id] = _rollup(
                s, alerts_by_storey[st.global_id] if alerts_by_storey is not None else None
            )
        b_alerts = (
            sum(alerts_by_storey[st.global_id] for st in b.storeys) if alerts_by_storey is not None else None
        )
        buildings[b.global_id] = _rollup(b_status, b_alerts)
    all_status = [s for v in storey_status.values() for s in v]
    total = _rollup(all_status, sum(alerts_by_storey.values()) if alerts_by_storey is not None else None)
    return CampusRollupOut(
        campus=campus.id,
        name=campus.name,
        problems=len(campus.problems),
        total=total,
        buildings=buildings,
        storeys=storeys,
        time=state.to_dt(state.now_ns()),
    )
