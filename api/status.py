"""Room status from latest points: one value per quantity, with staleness. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from api.labels import QUANTITY_LABELS, quantity_label
from api.schemas import ValueOut
from contract.telemetry import SeriesKey
from store.base import SeriesInfo, StoredPoint
from twin.live import RoomState

_ORDER = {q: i for i, q in enumerate(QUANTITY_LABELS)}
_QUALITY_RANK = {"good": 2, "uncertain": 1, "bad": 0}


def _better(a: StoredPoint, b: StoredPoint) -> bool:
    """Is `a` a better 'current value' than `b`? A usable value first, then the newer one."""
    ra = (a.value is not None and a.quality != "bad", a.ts)
    rb = (b.value is not None and b.quality != "bad", b.ts)
    return ra > rb


def pick_latest(
    series: Sequence[SeriesInfo], latest: Mapping[SeriesKey, StoredPoint]
) -> dict[str, StoredPoint]:
    """Per quantity, the point that best describes the room now (several sensors may report it)."""
    best: dict[str, StoredPoint] = {}
    for s in series:
        p = latest.get(s.key)
        if p is None:
            continue
        cur = best.get(p.quantity)
        if cur is None or _better(p, cur):
            best[p.quantity] = p
    return best


def value_rows(
    points: Mapping[str, StoredPoint], now_ns: int, stale_after_s: float, to_dt: Callable[[int], datetime]
) -> list[ValueOut]:
    rows = []
    for q in sorted(points, key=lambda q: (_ORDER.get(q, 99), q)):
        p = points[q]
        age = max(0.0, (now_ns - p.ts) / 1e9)
        rows.append(
            ValueOut(
                quantity=q,
                label=quantity_label(q),
                unit=p.unit,
                value=p.value,
                time=to_dt(p.ts),
                age_s=round(age, 3),
                stale=age > stale_after_s,
                quality=p.quality,
                reason=p.reason,
                device=p.key.device,
                point=p.key.point,
            )
        )
    return rows


def current_values(rows: Sequence[ValueOut]) -> dict[str, float]:
    """Values that count as 'now': fresh, not bad, present."""
    return {r.quantity: r.value for r in rows if r.value is not None and not r.stale and r.quality != "bad"}


def occupied(values: Mapping[str, float]) -> bool | None:
    found = [values[q] for q in ("occupancy", "presence") if q in values]
    return any(v > 0 for v in found) if found else None


def rows_from_state(st: RoomState, to_dt: Callable[[int], datetime]) -> list[ValueOut]:
    """The twin's live state of a room as response rows, one per quantity."""
    values = st.values
    return [
        ValueOut(
            quantity=q,
            label=quantity_label(q),
            unit=s.unit,
            value=s.value,
            time=to_dt(s.ts),
            age_s=round(s.age_s, 3),
            stale=s.stale,
            quality=s.quality,
            reason=None,
            device=s.device,
            point=s.point,
        )
        for q, s in sorted(values.items(), key=lambda kv: (_ORDER.get(kv[0], 99), kv[0]))
    ]
