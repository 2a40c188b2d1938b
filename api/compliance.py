"""Live room state and compliance through the twin's `twin.live.room_states` (the standards
engine): this module only formats its results for the API.

`room_states` evaluates a whole campus, while the API asks about one room (or one storey) at a
time on campuses of 10k+ rooms. So it is called with a campus reduced to the rooms asked about
and a store view whose `series()` lists only their series (from the API's room→series index).

The live state is kept in memory, per room, never older than `verdict_cache_s`: a background
thread (`LiveEngine.start`) re-evaluates every room whose state is past half that age, in small
chunks (one `latest` query per chunk, a pause between chunks so requests get the GIL), so a
request normally only formats a state already there; a room not yet there (or past the age
because the refresher is behind) is evaluated on the request, as before. On a campus too large
to re-evaluate within `verdict_cache_s` (10k rooms: ~50 s a pass on a loaded 2-core machine)
the refresher pauses as long as each pass took (at most half a core) and a kept state may be
up to three passes old (`max_age_s`). The same engine
(`twin.live.room_states` → `Engine.live_room`) decides in both paths. Reading intervals are
kept per series (`twin.live.IntervalCache`), class time per room type and day (the engine).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from api.labels import quantity_label
from api.schemas import BreachOut, Label, LiveRoom, VerdictOut
from api.twin_index import SpacePlace
from contract.bindings import BindingIndex
from contract.school_time import SchoolTime, load_school_time
from contract.telemetry import SeriesKey
from store.base import Agg, RoomTagMap, RowGroup, SeriesInfo, Store, StoredPoint, Window
from twin.live import IntervalCache, LiveVerdict, RoomState, room_states
from twin.model import Building, Campus, Storey
from twin.standards import StandardsFile, load_standards
from twin.standards.engine import Engine
from twin.standards.evaluator import Reason, Status
from twin.standards.settings import campus_engine

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)
Verdict3 = Literal["ok", "fail", "unknown"]
REFRESH_CHUNK = 32  # rooms per background evaluation step
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


class _SeriesView:
    """A store whose `series()` is the given list; reads go to the real store."""

    def __init__(self, store: Store, infos: Sequence[SeriesInfo]) -> None:
        self._store, self._infos = store, list(infos)

    def write(self, points: Sequence[StoredPoint]) -> None:
        raise RuntimeError("read-only view")

    def write_rows(self, groups: Sequence[RowGroup], tags: RoomTagMap) -> None:
        raise RuntimeError("read-only view")

    def latest(self, keys: Sequence[SeriesKey] | None = None) -> dict[SeriesKey, StoredPoint]:
        return self._store.latest(keys if keys is not None else [i.key for i in self._infos])

    def range(
        self,
        key: SeriesKey,
        start: int,
        end: int,
        every: int | None = None,
        agg: Agg = Agg.MEAN,
        tz: tzinfo | None = None,
    ) -> list[Window]:
        return self._store.range(key, start, end, every, agg, tz)

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
        self.timetable: SchoolTime = load_school_time(timetable_file)
        self.engine = Engine(self.standards, self.timetable)
        self.rule_quantity = {r.id: r.quantity for r in self.standards.rules}
        self.tz = self.engine.tz
        self.intervals = IntervalCache()
        self._cache: dict[str, tuple[float, RoomState]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0  # completed background passes (tests wait on it)
        self.last_sweep_s = 0.0  # how long the last pass took
        self._campus_engines: dict[str, Engine] = {}

    def for_campus(self, campus: Campus) -> Engine:
        """The engine with the campus's own settings (twin config `standards:`), else the shared one."""
        if campus.standards is None:
            return self.engine
        eng = self._campus_engines.get(campus.id)
        if eng is None:
            eng = self._campus_engines[campus.id] = campus_engine(
                campus.standards, self.standards, self.timetable
            )
        return eng

    def in_class(self, now: int, room_type: str | None = "general_classroom") -> bool:
        """Is `now` class time (the occupancy fallback without a sensor)?"""
        return self.engine.in_class(room_type, now)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._campus_engines.clear()  # a twin reload may change a campus's settings

    def states(
        self,
        places: Sequence[SpacePlace],
        by_room: Mapping[str, list[SeriesInfo]],
        bindings: BindingIndex,
        now: int,
    ) -> dict[str, RoomState]:
        mono = time.monotonic()
        max_age = self.max_age_s()
        out: dict[str, RoomState] = {}
        todo: list[SpacePlace] = []
        for p in places:
            hit = self._cache.get(p.space.global_id)
            if hit is not None and mono - hit[0] < max_age:
                out[p.space.global_id] = hit[1]
            else:
                todo.append(p)
        if todo:
            out.update(self._evaluate(todo, by_room, bindings, now, mono))
        return out

    def _evaluate(
        self,
        places: Sequence[SpacePlace],
        by_room: Mapping[str, list[SeriesInfo]],
        bindings: BindingIndex,
        now: int,
        mono: float,
    ) -> dict[str, RoomState]:
        out: dict[str, RoomState] = {}
        by_campus: dict[str, list[SpacePlace]] = {}
        for p in places:
            by_campus.setdefault(p.campus.id, []).append(p)
        for campus_id, group in by_campus.items():
            mini = Campus(id=campus_id, name=group[0].campus.name)
            b = Building(global_id="api-view", name=None, campus=campus_id, source_file="")
            b.storeys.append(Storey("api-view", None, None, "api-view", [p.space for p in group]))
            mini.buildings.append(b)
            infos = [i for p in group for i in by_room.get(p.space.global_id, [])]
            engine = self.for_campus(group[0].campus)
            view = _SeriesView(self.store, infos)
            fresh = room_states(mini, bindings, view, now, engine=engine, intervals=self.intervals)
            with self._lock:
                if len(self._cache) > 50_000:
                    self._cache.clear()
                for gid, st in fresh.items():
                    self._cache[gid] = (mono, st)
            out.update(fresh)
        return out

    def max_age_s(self) -> float:
        """How old a kept state may be when served: `cache_s`, or on a campus too large to
        re-evaluate within it, three times the refresher's last pass (a pass, an equal pause,
        the next pass: a kept state is never older)."""
        if self._thread is None:
            return self.cache_s
        return max(self.cache_s, 3 * self.last_sweep_s)

    # ------------------------------------------------------------ background refresh
    def start(self, state: AppState) -> None:
        """Keep every room's state in memory, re-evaluated before it is `cache_s` old."""
        if self._thread is not None or self.cache_s <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(state,), name="live-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self, state: AppState) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.refresh_due(state, pause=self._stop.wait)
            except Exception:  # the refresher must survive a store hiccup; requests fall back
                log.exception("live state refresh failed; rooms are evaluated on request meanwhile")
            self.sweeps += 1
            self.last_sweep_s = time.monotonic() - began
            # at most half the time refreshing: a campus too big to re-evaluate within
            # `cache_s` must not keep a core busy (its states then age up to `max_age_s`)
            self._stop.wait(max(self.cache_s / 4 - self.last_sweep_s, self.last_sweep_s, 0.05))

    def refresh_due(self, state: AppState, pause: Callable[[float], object] = time.sleep) -> int:
        """Re-evaluate the rooms whose state is missing or past half `cache_s`; returns how many."""
        mono = time.monotonic()
        due = [
            p
            for gid, p in state.twin.spaces.items()
            if (hit := self._cache.get(gid)) is None or mono - hit[0] >= self.cache_s / 2
        ]
        by_room, bindings = state.series_index().by_room, state.binding_index
        for i in range(0, len(due), REFRESH_CHUNK):
            if self._stop.is_set():
                break
            self._evaluate(due[i : i + REFRESH_CHUNK], by_room, bindings, state.now_ns(), time.monotonic())
            pause(0.001)  # let request threads have the GIL between chunks
        return len(due)


def verdict_out(v: LiveVerdict, quantity: str = "") -> VerdictOut:
    judged = v.status in (Status.COMPLIANT, Status.NON_COMPLIANT)
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
        share=round(v.share, 4) if v.share is not None else None,
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
    sub = RoomState(st.global_id, st.room_number, st.room_type, st.long_name, st.building_id, st.storey_id)
    sub.verdicts = [v for v in st.verdicts if v.quantity == quantity]
    return LiveRoom(
        id=st.global_id,
        value=cur.value if cur else None,
        stale=cur.stale if cur else False,
        status=sub.status.value,
        reason=label(sub.reason),
    )


def room_states_for(state: AppState, places: Sequence[SpacePlace], now: int) -> dict[str, RoomState]:
    return state.live.states(places, state.series_index().by_room, state.binding_index, now)
