"""Live room state and compliance through the twin's `twin.live.room_states`.

Thin adapter: `room_states` evaluates a whole campus, while the API asks about one room (or
one storey) at a time on campuses of 10k+ rooms. So it is called with a campus reduced to the
rooms asked about and a store view whose `series()` lists only their series (from the API's
room→series index) — the evaluation itself (latest values, staleness from the inferred reading
interval, occupancy from sensor or timetable, instant vs trailing-mean rules) is the twin's.
States are cached per room for `verdict_cache_s`, so a floor plan refreshing every few seconds
does not re-query the store for every room each time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from api.labels import quantity_label
from api.schemas import Label, VerdictOut
from api.twin_index import SpacePlace
from contract.bindings import BindingIndex
from contract.telemetry import SeriesKey
from store.base import Agg, SeriesInfo, Store, StoredPoint, Window
from twin.live import LiveVerdict, RoomState, room_states
from twin.model import Building, Campus, Storey
from twin.standards import StandardsFile, load_standards
from twin.standards import intervals as iv
from twin.standards.evaluator import Status
from twin.standards.occupancy import Timetable, from_sensor, load_timetable

if TYPE_CHECKING:
    from api.state import AppState

OCC_HOLD_NS = 15 * 60 * 10**9
Verdict3 = Literal["ok", "fail", "unknown"]
_MAP: dict[Status, Verdict3] = {
    Status.COMPLIANT: "ok",
    Status.NON_COMPLIANT: "fail",
    Status.INSUFFICIENT: "unknown",
}


def overall(statuses: Sequence[str]) -> Verdict3:
    if "fail" in statuses:
        return "fail"
    if "ok" in statuses:
        return "ok"
    return "unknown"


class _SeriesView:
    """A store whose `series()` is the given list; reads go to the real store."""

    def __init__(self, store: Store, infos: Sequence[SeriesInfo]) -> None:
        self._store, self._infos = store, list(infos)

    def write(self, points: Sequence[StoredPoint]) -> None:
        raise RuntimeError("read-only view")

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        return self._store.latest(keys if keys is not None else [i.key for i in self._infos])

    def range(
        self, key: SeriesKey, start: int, end: int, every: int | None = None, agg: Agg = Agg.MEAN
    ) -> list[Window]:
        return self._store.range(key, start, end, every, agg)

    def series(self, tags: Mapping[str, str] | None = None) -> list[SeriesInfo]:
        return [i for i in self._infos if not tags or all(i.tags.get(k) == v for k, v in tags.items())]

    def close(self) -> None:
        pass


class LiveEngine:
    def __init__(
        self,
        store: Store,
        cache_s: float,
        standards_file: Path | None = None,
        timetable_file: Path | None = None,
    ) -> None:
        self.store = store
        self.cache_s = cache_s
        self.standards: StandardsFile = load_standards(standards_file)
        self.timetable: Timetable = load_timetable(timetable_file)
        self.rule_quantity = {r.id: r.quantity for r in self.standards.rules}
        self.tz = ZoneInfo(self.standards.timezone)
        self._cache: dict[str, tuple[float, RoomState]] = {}
        self._lock = threading.Lock()

    def in_class(self, now: int) -> bool:
        """Is `now` inside a lesson of the timetable (the occupancy fallback without a sensor)?"""
        lessons = self.timetable.intervals(now - 86_400 * 10**9, now + 86_400 * 10**9)
        return bool(((lessons[:, 0] <= now) & (now < lessons[:, 1])).any())

    def occupied(self, series: Sequence[SeriesInfo], start: int, end: int) -> iv.Intervals:
        """Occupied intervals of a room over [start, end): its occupancy sensor, else the timetable."""
        occ = [s for s in series if s.quantity in ("occupancy", "presence")]
        if not occ:
            return self.timetable.intervals(start, end)
        ts: list[int] = []
        vals: list[float] = []
        for s in occ:
            for w in self.store.range(s.key, start - OCC_HOLD_NS, end):
                if w.value is not None:
                    ts.append(w.start)
                    vals.append(w.value)
        return from_sensor(ts, vals, OCC_HOLD_NS)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def states(
        self,
        places: Sequence[SpacePlace],
        by_room: Mapping[str, list[SeriesInfo]],
        bindings: BindingIndex,
        now: int,
    ) -> dict[str, RoomState]:
        mono = time.monotonic()
        out: dict[str, RoomState] = {}
        todo: list[SpacePlace] = []
        for p in places:
            hit = self._cache.get(p.space.global_id)
            if hit is not None and mono - hit[0] < self.cache_s:
                out[p.space.global_id] = hit[1]
            else:
                todo.append(p)
        by_campus: dict[str, list[SpacePlace]] = {}
        for p in todo:
            by_campus.setdefault(p.campus.id, []).append(p)
        for campus_id, group in by_campus.items():
            mini = Campus(id=campus_id, name=group[0].campus.name)
            b = Building(global_id="api-view", name=None, campus=campus_id, source_file="")
            b.storeys.append(Storey("api-view", None, None, "api-view", [p.space for p in group]))
            mini.buildings.append(b)
            infos = [i for p in group for i in by_room.get(p.space.global_id, [])]
            fresh = room_states(
                mini, bindings, _SeriesView(self.store, infos), now, self.standards, timetable=self.timetable
            )
            with self._lock:
                if len(self._cache) > 50_000:
                    self._cache.clear()
                for gid, st in fresh.items():
                    self._cache[gid] = (mono, st)
            out.update(fresh)
        return out


def verdict_out(v: LiveVerdict, quantity: str) -> VerdictOut:
    return VerdictOut(
        quantity=quantity,
        label=quantity_label(quantity),
        rule=v.rule_id,
        rule_label=Label(zh=v.label_zh, en=v.label_en),
        status=_MAP[v.status],
        value=round(v.value, 3) if v.value is not None else None,
        basis=v.basis,
        requirement=f"{v.comparator} {v.limit} {v.unit}"
        if not isinstance(v.limit, tuple)
        else f"{v.limit[0]:g}–{v.limit[1]:g} {v.unit}",
        standard=v.standard,
        clause=v.clause,
        device=v.device,
        point=v.point,
    )


def room_states_for(state: AppState, places: Sequence[SpacePlace], now: int) -> dict[str, RoomState]:
    return state.live.states(places, state.series_index().by_room, state.binding_index, now)
