"""Status roll-ups for the home, campus and building pages: rooms by status and open alerts.

The API formats, it does not evaluate: room statuses and open alerts come from the twin's
live state (`twin.live_engine.LiveEngine.campus`), the same states the storey live plan shows
and the same episodes `/alerts?open=true` lists. The route caches a campus roll-up for `verdict_cache_s` through `api/expensive.py`, so a
page polling it costs a dict read and concurrent first requests share one computation.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, Field

from api.alerts import MAX_ALERT_ROOMS
from api.deps import DAY_NS
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
    now = state.now_ns()
    live = state.live.campus(state.live_inputs(now), campus_id, now - DAY_NS, MAX_ALERT_ROOMS)
    campus = live.campus
    storey_status = {sid: [str(s) for s in statuses] for sid, statuses in live.storeys.items()}
    alerts_by_storey = Counter(live.open_alerts) if live.open_alerts is not None else None
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
        time=state.to_dt(now),
    )
