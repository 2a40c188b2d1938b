"""Alerts: the twin's breach episodes (`twin.live_engine.LiveEngine.alerts`) as response rows,
and the scope a request may ask for.

One alert per room × quantity × breach episode, listing every rule it breaks (a CO₂ hour over
1000 ppm that also lifts the day's class-time mean is one alert naming GB/T 18883 and
GB/T 17226). An episode reaching `now` is open (end None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from api.labels import quantity_label
from api.schemas import AlertOut, AlertRuleOut, Label
from twin.live_engine import RoomAlert

MAX_ALERT_ROOMS = 500  # rooms with data one alerts build may cover (the roll-up counts none beyond)


def alert_out(a: RoomAlert, local: Callable[[int], datetime]) -> AlertOut:
    """An alert as a response row (times in the campus's local time zone)."""
    e, place, rules = a.episode, a.place, a.rules
    return AlertOut(
        room=place.space.global_id,
        room_number=place.space.room_number,
        campus=place.campus.id,
        building=place.building.global_id,
        quantity=e.quantity,
        label=quantity_label(e.quantity),
        device=a.device,
        point=a.point,
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
        start=local(a.start),
        end=local(e.end) if e.end is not None else None,
        worst=round(e.worst, 3),
        unit=e.unit,
        severity="severe" if e.severity == "severe" else "warning",
    )


def alert_rows(alerts: Sequence[RoomAlert], local: Callable[[int], datetime]) -> list[AlertOut]:
    return [alert_out(a, local) for a in alerts]
