"""Alerts: the standards engine's breach episodes of a room, formatted for the API.

One alert per room × quantity × breach episode, listing every rule it breaks (a CO₂ hour over
1000 ppm that also lifts the day's class-time mean is one alert naming GB/T 18883 and
GB/T 17226). Windows are the engine's (1-h of class time, class-time day, L90 of empty time …),
evaluated from the local midnight before `start` so no window is cut; episodes that end
before `start` are dropped. An episode reaching `now` is open (end None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np

from api.compliance import LiveEngine
from api.labels import quantity_label
from api.schemas import AlertOut, AlertRuleOut, Label
from api.twin_index import SpacePlace
from store.base import SeriesInfo, SeriesKey
from twin.standards.engine import Episode
from twin.standards.evaluator import Series
from twin.standards.occupancy import HOLD_NS


def room_episodes(
    engine: LiveEngine,
    place: SpacePlace,
    series: Sequence[SeriesInfo],
    start: int,
    end: int,
    now: int,
    quantity: str | None = None,
    roles: Mapping[SeriesKey, str | None] | None = None,
) -> list[Episode]:
    eng = engine.for_campus(place.campus)
    wanted = {r.quantity for r in eng.rules_for(place.space.room_type)}
    if quantity is not None:
        wanted &= {quantity}
    keep = [s for s in series if s.quantity in wanted or s.quantity in ("presence", "occupancy")]
    if not any(s.quantity in wanted for s in keep):
        return []
    t0 = eng.day_start(start)
    data = []
    for info in keep:
        pts = [w for w in engine.store.range(info.key, t0 - HOLD_NS, end) if w.value is not None]
        data.append(
            Series(
                info.key.point,
                info.quantity,
                np.array([w.start for w in pts], dtype=np.int64),
                np.array([w.value for w in pts], dtype=np.float64),
                (roles or {}).get(info.key),
                info.key.device,
            )
        )
    verdicts = eng.evaluate_room(place.space.room_type, data, t0, end)
    if quantity is not None:
        verdicts = [v for v in verdicts if eng.rule(v.rule_id).quantity == quantity]
    eps = eng.episodes(verdicts, now=now if end >= now else None)
    return [e for e in eps if e.end is None or e.end > start]


def alert_rows(
    engine: LiveEngine,
    place: SpacePlace,
    series: Sequence[SeriesInfo],
    start: int,
    end: int,
    now: int,
    quantity: str | None,
    local: Callable[[int], datetime],
    roles: Mapping[SeriesKey, str | None] | None = None,
) -> list[AlertOut]:
    """The room's episodes as `AlertOut` rows (times in the campus's local time zone)."""
    devices = {s.key.point: s.key.device for s in series}
    out = []
    for e in room_episodes(engine, place, series, start, end, now, quantity, roles):
        rules = [engine.engine.rule(r) for r in e.rules]
        point = e.points[0] if e.points else ""
        out.append(
            AlertOut(
                room=place.space.global_id,
                room_number=place.space.room_number,
                campus=place.campus.id,
                building=place.building.global_id,
                quantity=e.quantity,
                label=quantity_label(e.quantity),
                device=devices.get(point, ""),
                point=point,
                rules=[
                    AlertRuleOut(
                        rule=r.id,
                        standard=r.standard,
                        clause=r.clause,
                        requirement=r.limit_text(),
                        label=Label(zh=r.label_zh, en=r.label_en),
                    )
                    for r in rules
                ],
                rule=rules[0].id,
                requirement=rules[0].limit_text(),
                standard=rules[0].standard,
                clause=rules[0].clause,
                start=local(max(e.start, start)),
                end=local(e.end) if e.end is not None else None,
                worst=round(e.worst, 3),
                unit=e.unit,
                severity="severe" if e.severity == "severe" else "warning",
            )
        )
    return out
