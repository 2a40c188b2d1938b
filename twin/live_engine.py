"""The kept live state of a loaded twin: every room's `RoomState`, each storey's and campus's
room statuses, and the alerts (breach episodes). The API asks here and only renders.

It evaluates rooms one by one (`twin.live.room_state` → the standards engine's
`Engine.live_room`) from the host's room→series map (`LiveInputs.by_room`), so a request about
one room or one storey of a 10k-room campus reads only that room's or storey's series.

States are kept in memory, per room, never older than `cache_s`: a background thread
(`LiveEngine.start`) re-evaluates every room whose state is past half that age, in small chunks
(one `latest` query per chunk, a pause between chunks so requests get the GIL), so a request
normally only reads a state already there; a room not yet there (or past the age because the
refresher is behind) is evaluated on the request, by the same code. On a campus too large to
re-evaluate within `cache_s` (10k rooms: ~50 s a pass on a loaded 2-core machine) the refresher
pauses as long as each pass took (at most half a core) and a kept state may be up to three
passes old (`max_age_s`). Reading intervals are kept per series (`twin.live.IntervalCache`),
class time per room type and day (the engine).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from contract.bindings import BindingIndex
from contract.school_time import SchoolTime, load_school_time
from store.base import SeriesInfo, Store
from twin.index import SpacePlace, TwinIndex
from twin.live import IntervalCache, RoomState, plan_limit, room_episodes, room_state
from twin.model import Campus
from twin.standards import StandardsFile, load_standards
from twin.standards.engine import Engine, Episode
from twin.standards.evaluator import Status
from twin.standards.schema import Rule
from twin.standards.settings import campus_engine

log = logging.getLogger(__name__)
REFRESH_CHUNK = 32  # rooms per background evaluation step
MAX_CACHED = 50_000


@dataclass(frozen=True, slots=True)
class LiveInputs:
    """What the live state reads besides the store, as the host has it now: the loaded twin,
    which series belong to which room (the API's `SeriesIndex.by_room`), the binding table
    (sensor roles) and the time."""

    twin: TwinIndex
    by_room: Mapping[str, Sequence[SeriesInfo]]
    bindings: BindingIndex
    now_ns: int


@dataclass(frozen=True, slots=True)
class StoreyState:
    """A storey's rooms now, in the storey's order, and the limit a plan coloured by one
    quantity marks (None: no rule of that quantity applies, or no quantity asked)."""

    storey_id: str
    rooms: list[RoomState]
    limit: float | tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class CampusState:
    """Room statuses of each storey of a campus, and the open alerts of each storey (None:
    more rooms with data than `max_alert_rooms`, not counted)."""

    campus: Campus
    storeys: dict[str, list[Status]]
    open_alerts: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class RoomAlert:
    """One alert: a breach episode of a room, with the rules it breaks and the device of its
    point."""

    place: SpacePlace
    episode: Episode
    rules: tuple[Rule, ...]
    device: str
    start: int  # the episode's start, or the period's when it began before

    @property
    def point(self) -> str:
        return self.episode.points[0] if self.episode.points else ""


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
        self.intervals = IntervalCache()
        self._cache: dict[str, tuple[float, RoomState]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0  # completed background passes (tests wait on it)
        self.last_sweep_s = 0.0  # how long the last pass took
        self._campus_engines: dict[str, Engine] = {}
        # bumped by clear(): a state evaluated from inputs older than the last clear (a pass of
        # the refresher that began before a rebinding) is served once but never kept
        self._generation = 0

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
            self._generation += 1
            self._cache.clear()
            self._campus_engines.clear()  # a twin reload may change a campus's settings

    # ------------------------------------------------------------ rooms, storeys, campuses
    def rooms(self, inputs: LiveInputs, places: Sequence[SpacePlace]) -> dict[str, RoomState]:
        """The state of each room, keyed by GlobalId: kept, else evaluated now."""
        gen = self._generation
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
            out.update(self._evaluate(todo, inputs, mono, gen))
        return out

    def room(self, inputs: LiveInputs, place: SpacePlace) -> RoomState:
        return self.rooms(inputs, [place])[place.space.global_id]

    def storey(self, inputs: LiveInputs, storey_id: str, quantity: str | None = None) -> StoreyState:
        """The rooms of a storey now (KeyError: no such storey)."""
        campus, _, storey = inputs.twin.storeys[storey_id]
        places = [inputs.twin.spaces[sp.global_id] for sp in storey.spaces]
        states = self.rooms(inputs, places)
        limit = None
        if quantity is not None:
            types = [sp.room_type for sp in storey.spaces]
            limit = plan_limit(self.for_campus(campus), types, quantity, inputs.now_ns)
        return StoreyState(storey_id, [states[sp.global_id] for sp in storey.spaces], limit)

    def campus(self, inputs: LiveInputs, campus_id: str, since: int, max_alert_rooms: int) -> CampusState:
        """Room statuses per storey and open alerts (episodes since `since` still going on) per
        storey of a campus (KeyError: no such campus)."""
        campus = inputs.twin.campuses[campus_id]
        storeys = {
            st.global_id: [r.status for r in self.storey(inputs, st.global_id).rooms]
            for b in campus.buildings
            for st in b.storeys
        }
        with_data = [
            p
            for p in inputs.twin.spaces.values()
            if p.campus.id == campus_id and p.space.global_id in inputs.by_room
        ]
        open_alerts: dict[str, int] | None = None
        if len(with_data) <= max_alert_rooms:
            found = self.alerts(inputs, with_data, since, inputs.now_ns, open_only=True)
            open_alerts = dict(Counter(a.place.storey.global_id for a in found if a.place.storey is not None))
        return CampusState(campus, storeys, open_alerts)

    def alerts(
        self,
        inputs: LiveInputs,
        places: Sequence[SpacePlace],
        start: int,
        end: int,
        quantity: str | None = None,
        open_only: bool = False,
    ) -> list[RoomAlert]:
        """Breach episodes of the rooms reaching into [start, end), newest first."""
        out: list[RoomAlert] = []
        for p in places:
            infos = inputs.by_room.get(p.space.global_id, [])
            roles = {i.key: inputs.bindings.role(i.key.site, i.key.device, i.key.point) for i in infos}
            devices = {i.key.point: i.key.device for i in infos}
            eng = self.for_campus(p.campus)
            found = room_episodes(
                eng, self.store, p.space.room_type, infos, start, end, inputs.now_ns, roles, quantity
            )
            for e in found:
                if open_only and e.end is not None:
                    continue
                point = e.points[0] if e.points else ""
                rules = tuple(eng.rule(r) for r in e.rules)
                out.append(RoomAlert(p, e, rules, devices.get(point, ""), max(e.start, start)))
        out.sort(key=lambda a: (a.start, a.place.space.room_number), reverse=True)
        return out

    def _evaluate(
        self, places: Sequence[SpacePlace], inputs: LiveInputs, mono: float, generation: int
    ) -> dict[str, RoomState]:
        keys = [i.key for p in places for i in inputs.by_room.get(p.space.global_id, [])]
        latest = self.store.latest(keys) if keys else {}
        out: dict[str, RoomState] = {}
        for p in places:
            infos = inputs.by_room.get(p.space.global_id, [])
            roles = {i.key: inputs.bindings.role(i.key.site, i.key.device, i.key.point) for i in infos}
            out[p.space.global_id] = room_state(
                p.space,
                infos,
                latest,
                self.store,
                inputs.now_ns,
                self.for_campus(p.campus),
                roles,
                interval_of=self.intervals.get,
            )
        with self._lock:
            if generation != self._generation:
                return out
            if len(self._cache) > MAX_CACHED:
                self._cache.clear()
            for gid, st in out.items():
                self._cache[gid] = (mono, st)
        return out

    def max_age_s(self) -> float:
        """How old a kept state may be when served: `cache_s`, or on a campus too large to
        re-evaluate within it, three times the refresher's last pass (a pass, an equal pause,
        the next pass: a kept state is never older)."""
        if self._thread is None:
            return self.cache_s
        return max(self.cache_s, 3 * self.last_sweep_s)

    # ------------------------------------------------------------ background refresh
    def start(self, source: Callable[[], LiveInputs]) -> None:
        """Keep every room's state in memory, re-evaluated before it is `cache_s` old;
        `source` gives the host's inputs as they are now (called once per chunk)."""
        if self._thread is not None or self.cache_s <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(source,), name="live-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self, source: Callable[[], LiveInputs]) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.refresh_due(source, pause=self._stop.wait)
            except Exception:  # the refresher must survive a store hiccup; requests fall back
                log.exception("live state refresh failed; rooms are evaluated on request meanwhile")
            self.sweeps += 1
            self.last_sweep_s = time.monotonic() - began
            # at most half the time refreshing: a campus too big to re-evaluate within
            # `cache_s` must not keep a core busy (its states then age up to `max_age_s`)
            self._stop.wait(max(self.cache_s / 4 - self.last_sweep_s, self.last_sweep_s, 0.05))

    def refresh_due(
        self, source: Callable[[], LiveInputs], pause: Callable[[float], object] = time.sleep
    ) -> int:
        """Re-evaluate the rooms whose state is missing or past half `cache_s`; returns how many."""
        mono = time.monotonic()
        due = [
            p
            for gid, p in source().twin.spaces.items()
            if (hit := self._cache.get(gid)) is None or mono - hit[0] >= self.cache_s / 2
        ]
        for i in range(0, len(due), REFRESH_CHUNK):
            if self._stop.is_set():
                break
            gen = self._generation
            self._evaluate(due[i : i + REFRESH_CHUNK], source(), time.monotonic(), gen)
            pause(0.001)  # let request threads have the GIL between chunks
        return len(due)
