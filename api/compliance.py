"""Live room state and compliance as the API shows them: the twin's kept live state
(`twin.live_engine.LiveEngine`: room states, the standards engine's verdicts) formatted for
responses. Nothing is evaluated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from api.labels import quantity_label
from api.schemas import BreachOut, Label, LiveRoom, VerdictOut
from twin.live import RoomState
from twin.standards.evaluator import Reason, Status, Verdict

Verdict3 = Literal["ok", "fail", "unknown"]
_MAP: dict[str, Verdict3] = {Status.COMPLIANT: "ok", Status.NON_COMPLIANT: "fail"}


def overall(statuses: Sequence[str]) -> Verdict3:
    """Deprecated three-valued summary of 5-valued statuses (kept for `compliance`)."""
    mapped = [_MAP.get(s, "unknown") for s in statuses]
    if "fail" in mapped:
        return "fail"
    if "ok" in mapped:
        return "ok"
    return "unknown"


def label(reason: Reason | None) -> Label | None:
    return Label(zh=reason.zh, en=reason.en) if reason is not None else None


def verdict_out(v: Verdict, quantity: str = "") -> VerdictOut:
    judged = v.judged
    return VerdictOut(
        quantity=quantity or v.quantity,
        label=quantity_label(quantity or v.quantity),
        rule=v.rule_id,
        rule_label=Label(zh=v.label_zh, en=v.label_en),
        status=v.status.value,
        reason=label(v.reason),
        measured=round(v.value, 3) if judged and v.value is not None else None,
        limit=list(v.limit) if isinstance(v.limit, tuple) else v.limit,
        unit=v.unit,
        share=round(v.compliant_share, 4) if v.compliant_share is not None else None,
        value=round(v.value, 3) if v.value is not None else None,
        basis=v.basis,
        requirement=f"{v.comparator} {v.limit:g} {v.unit}"
        if not isinstance(v.limit, tuple)
        else f"{v.limit[0]:g}–{v.limit[1]:g} {v.unit}",
        standard=v.standard,
        clause=v.clause,
        device=v.device,
        point=v.point,
    )


def breaches(st: RoomState) -> list[BreachOut]:
    return [
        BreachOut(
            rule=v.rule_id,
            standard=v.standard,
            clause=v.clause,
            quantity=v.quantity,
            measured=round(v.value, 3),
            limit=list(v.limit) if isinstance(v.limit, tuple) else v.limit,
            unit=v.unit,
            label=Label(zh=v.label_zh, en=v.label_en),
        )
        for v in st.verdicts
        if v.status is Status.NON_COMPLIANT and v.value is not None
    ]


def live_room(st: RoomState, quantity: str | None) -> LiveRoom:
    """A room of the storey plan: coloured by its status (or one quantity's), with why."""
    if quantity is None:
        return LiveRoom(
            id=st.global_id, value=None, stale=st.stale, status=st.status.value, reason=label(st.reason)
        )
    cur = st.values.get(quantity)
    sub = st.for_quantity(quantity)
    return LiveRoom(
        id=st.global_id,
        value=cur.value if cur else None,
        stale=cur.stale if cur else False,
        status=sub.status.value,
        reason=label(sub.reason),
    )
