"""Live room state: what each room of a campus measures now, how fresh it is, whether it is
occupied, and where it stands against the standards at this moment — and why.

Reads the store (latest points and today's readings), joins series to rooms through the
binding table (device/point → IfcSpace GlobalId; the store's room tags as fallback) and asks
the standards engine (`twin.standards.engine.Engine.live_room`) for each rule's verdict on its
current window: the running 1-h window of class time, today's class-time mean, the latest
desk reading …; a rule that does not apply now says why (not in class, holiday, out of season).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import numpy as np

from contract.bindings import BindingIndex, BindingTable
from contract.school_time import SchoolTime
from contract.telemetry import SeriesKey
from store.base import SeriesInfo, Store, StoredPoint
from twin.model import Campus, Space
from twin.standards.engine import Engine, Episode
from twin.standards.evaluator import Reason, Series, Status, Verdict
from twin.standards.occupancy import HOLD_NS, OCCUPANCY_QUANTITIES
from twin.standards.schema import StandardsFile
from twin.standards.settings import campus_engine

NS = 10**9
# room status precedence: the worst verdict decides, then the most informative n/a
STATUS_ORDER = (
    Status.NON_COMPLIANT,
    Status.COMPLIANT,
    Status.INSUFFICIENT,
    Status.NO_CALENDAR,
    Status.NOT_APPLICABLE,
    Status.NO_SENSOR,
)


@dataclass(frozen=True, slots=True)
class SeriesState:
    """The newest point of one bound series."""

    device: str
    point: str
    quantity: str
    unit: str
    value: float | None
    ts: int
    age_s: float
    interval_s: float  # expected reading interval (inferred from recent points, else the default)
    stale: bool  # age > stale_factor × interval
    quality: str


@dataclass(slots=True)
class RoomState:
    global_id: str
    room_number: str
    room_type: str | None
    long_name: str | None
    building_id: str | None
    storey_id: str | None
    series: list[SeriesState] = field(default_factory=list)
    occupied: bool | None = None
    occupancy_source: str | None = None  # "sensor", "timetable" or None
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def status(self) -> Status:
        """The room's status: any breach, else any compliant rule, else why not judged."""
        found = {v.status for v in self.verdicts}
        return next((s for s in STATUS_ORDER if s in found), Status.NO_SENSOR)

    @property
    def reason(self) -> Reason | None:
        """Why: the worst breach in words, or the n/a reason (not in class, holiday …)."""
        st = self.status
        found = [v for v in self.verdicts if v.status is st and v.reason is not None]
        return max(found, key=_excess).reason if found else None

    @property
    def values(self) -> dict[str, SeriesState]:
        """Per quantity the freshest fresh reading (else the freshest stale one)."""
        out: dict[str, SeriesState] = {}
        for s in sorted(self.series, key=lambda s: (not s.stale, s.value is not None, s.ts)):
            out[s.quantity] = s
        return out

    @property
    def stale(self) -> bool:
        return any(s.stale for s in self.series)

    def for_quantity(self, quantity: str) -> RoomState:
        """The room as one quantity shows it (a plan coloured by CO₂: status and reason of the
        CO₂ rules only)."""
        return RoomState(
            self.global_id,
            self.room_number,
            self.room_type,
            self.long_name,
            self.building_id,
            self.storey_id,
            [s for s in self.series if s.quantity == quantity],
            self.occupied,
            self.occupancy_source,
            [v for v in self.verdicts if v.quantity == quantity],
        )

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["values"] = {q: asdict(s) for q, s in self.values.items()}
        for v in d["verdicts"]:
            v["status"] = str(v["status"])
        d["status"] = str(self.status)
        d["reason"] = asdict(self.reason) if self.reason else None
        return d


def _excess(v: Verdict) -> float:
    """How far past its limit a verdict's value is, relative to the limit (0 when inside)."""
    if v.value is None:
        return 0.0
    if isinstance(v.limit, tuple):
        lo, hi = v.limit
        return max(lo - v.value, v.value - hi, 0.0) / max(hi - lo, 1e-9)
    over = v.value - v.limit if v.comparator == "<=" else v.limit - v.value
    return max(over, 0.0) / max(abs(v.limit), 1e-9)


def _index(campus: Campus, bindings: BindingIndex | BindingTable | None) -> BindingIndex:
    """The given bindings, else the campus's own (set by `twin.config.load_twin`)."""
    if isinstance(bindings, BindingTable):
        return BindingIndex(bindings)
    return bindings if bindings is not None else BindingIndex(BindingTable(bindings=list(campus.bindings)))


def bound_series(
    campus: Campus, bindings: BindingIndex | BindingTable | None, infos: Iterable[SeriesInfo]
) -> dict[str, list[SeriesInfo]]:
    """Series of the campus per room GlobalId: binding table first (None: the campus's own
    bindings), the store's room tag second."""
    idx = _index(campus, bindings)
    gids = {s.global_id for s in campus.spaces()}
    out: dict[str, list[SeriesInfo]] = {}
    for info in infos:
        if info.key.site != campus.id:
            continue
        tags = idx.lookup(info.key.site, info.key.device, info.key.point)
        room = tags.room if tags is not None else info.tags.get("room")
        if room in gids:
            out.setdefault(room, []).append(info)
    return out


def declared_roles(
    campus: Campus, bindings: BindingIndex | BindingTable | None, infos: Iterable[SeriesInfo]
) -> dict[SeriesKey, str | None]:
    """The role each series' binding declares (point, else device; None: not declared — the
    engine then falls back to the name patterns of twin/standards/roles.yaml)."""
    idx = _index(campus, bindings)
    return {i.key: idx.role(i.key.site, i.key.device, i.key.point) for i in infos}


class IntervalCache:
    """Each series' inferred reading interval, re-inferred at most every `refresh_s` (it changes
    only when a device is reconfigured; inferring it reads the series' recent points)."""

    def __init__(self, refresh_s: float = 600.0) -> None:
        self.refresh_ns = int(refresh_s * NS)
        self._known: dict[SeriesKey, tuple[int, int]] = {}  # key -> (inferred at, interval ns)

    def get(self, store: Store, key: SeriesKey, now_ns: int, default_ns: int) -> int:
        hit = self._known.get(key)
        if hit is not None and 0 <= now_ns - hit[0] < self.refresh_ns:
            return hit[1]
        found = _interval_ns(store, key, now_ns, default_ns)
        if len(self._known) > 200_000:
            self._known.clear()
        self._known[key] = (now_ns, found)
        return found


def _interval_ns(store: Store, key: SeriesKey, now_ns: int, default_ns: int) -> int:
    """Median spacing of the last readings (within 30 default intervals), else the default."""
    wins = store.range(key, now_ns - 30 * default_ns, now_ns + 1)
    if len(wins) >= 3:
        return max(int(np.median(np.diff([w.start for w in wins]))), 1)
    return default_ns


def _series_state(p: StoredPoint, now_ns: int, interval_ns: int, stale_factor: float) -> SeriesState:
    age = (now_ns - p.ts) / NS
    return SeriesState(
        device=p.key.device,
        point=p.key.point,
        quantity=p.quantity,
        unit=p.unit,
        value=p.value,
        ts=p.ts,
        age_s=age,
        interval_s=interval_ns / NS,
        stale=age > stale_factor * interval_ns / NS or p.value is None,
        quality=p.quality,
    )


def _basis(averaging: str) -> str:
    if averaging == "instant":
        return "latest reading"
    return {
        "1h": "running 1h window",
        "8h": "running 8h window",
        "class_day": "class time today so far",
        "24h": "local day so far",
    }[averaging]


def live_verdicts(
    engine: Engine,
    room_type: str | None,
    series: Sequence[Series],
    now_ns: int,
    latest: Mapping[str, float | None],
) -> list[Verdict]:
    """The engine's live verdicts as the live state shows them: with the window judged
    (`basis`) and the latest fresh reading of the point (shown with an n/a verdict)."""
    return [
        replace(v, latest=latest.get(v.point), basis=_basis(engine.rule(v.rule_id).averaging))
        for v in engine.live_room(room_type, series, now_ns)
    ]


def read_series(
    store: Store,
    infos: Sequence[SeriesInfo],
    start: int,
    end: int,
    roles: Mapping[SeriesKey, str | None],
) -> list[Series]:
    """The readings in [start, end) of a room's series as the standards engine takes them."""
    out = []
    for info in infos:
        pts = [w for w in store.range(info.key, start, end) if w.value is not None]
        out.append(
            Series(
                info.key.point,
                info.quantity,
                np.array([w.start for w in pts], dtype=np.int64),
                np.array([w.value for w in pts], dtype=np.float64),
                roles.get(info.key),
                info.key.device,
            )
        )
    return out


def today_series(
    store: Store,
    infos: Sequence[SeriesInfo],
    engine: Engine,
    now_ns: int,
    role_of: Mapping[SeriesKey, str | None],
) -> list[Series]:
    """Today's readings (local day, plus the presence hold before midnight) of a room's series."""
    return read_series(store, infos, engine.day_start(now_ns) - HOLD_NS, now_ns + 1, role_of)


def room_state(
    space: Space,
    infos: Sequence[SeriesInfo],
    latest: Mapping[SeriesKey, StoredPoint],
    store: Store,
    now_ns: int,
    engine: Engine | None,
    roles: Mapping[SeriesKey, str | None],
    *,
    interval_of: Callable[[Store, SeriesKey, int, int], int],
    default_interval_s: float = 60.0,
    stale_factor: float = 3.0,
) -> RoomState:
    """One room at `now_ns` from its bound series (`infos`) and their newest points (`latest`).

    Occupancy comes from a fresh occupancy/presence reading of the room, else from the school
    time (class time of the room type on a school day). Verdicts: `Engine.live_room`; without
    an engine the room carries values only. `interval_of`: the series' reading interval
    (`IntervalCache.get`)."""
    st = RoomState(
        global_id=space.global_id,
        room_number=space.room_number,
        room_type=space.room_type,
        long_name=space.long_name,
        building_id=space.building_id,
        storey_id=space.storey_id,
    )
    default_ns = int(default_interval_s * NS)
    for info in infos:
        p = latest.get(info.key)
        if p is not None:
            st.series.append(
                _series_state(p, now_ns, interval_of(store, info.key, now_ns, default_ns), stale_factor)
            )
    occ = [s for s in st.series if s.quantity in OCCUPANCY_QUANTITIES and not s.stale]
    if occ:
        st.occupied, st.occupancy_source = any((s.value or 0) > 0 for s in occ), "sensor"
    elif engine is not None:
        st.occupied, st.occupancy_source = engine.in_class(space.room_type, now_ns), "timetable"
    if engine is not None and infos:
        series = today_series(store, infos, engine, now_ns, roles)
        fresh = {s.point: (None if s.stale else s.value) for s in st.series}
        st.verdicts = live_verdicts(engine, space.room_type, series, now_ns, fresh)
    return st


def room_states(
    campus: Campus,
    bindings: BindingIndex | BindingTable | None,
    store: Store,
    now_ns: int,
    standards: StandardsFile | None = None,
    *,
    timetable: SchoolTime | None = None,
    engine: Engine | None = None,
    default_interval_s: float = 60.0,
    stale_factor: float = 3.0,
    intervals: IntervalCache | None = None,
) -> dict[str, RoomState]:
    """State of every space of `campus` at `now_ns` (`room_state`), keyed by IfcSpace GlobalId.

    Without standards (and no engine) rooms carry values only. `intervals` keeps the series'
    inferred reading intervals between calls (else they are inferred afresh). The API's kept
    live state is `twin.live_engine.LiveEngine`, which calls `room_state` the same way.
    """
    if engine is None and standards is not None:
        engine = campus_engine(campus.standards, standards, timetable, campus=campus.id)
    by_room = bound_series(campus, bindings, store.series())
    roles = declared_roles(campus, bindings, [i for infos in by_room.values() for i in infos])
    keys = [i.key for infos in by_room.values() for i in infos]
    latest = store.latest(keys) if keys else {}
    interval_of = (intervals or IntervalCache(0.0)).get
    return {
        space.global_id: room_state(
            space,
            by_room.get(space.global_id, []),
            latest,
            store,
            now_ns,
            engine,
            roles,
            interval_of=interval_of,
            default_interval_s=default_interval_s,
            stale_factor=stale_factor,
        )
        for space in campus.spaces()
    }


def room_episodes(
    engine: Engine,
    store: Store,
    room_type: str | None,
    infos: Sequence[SeriesInfo],
    start: int,
    end: int,
    now: int,
    roles: Mapping[SeriesKey, str | None],
    quantity: str | None = None,
) -> list[Episode]:
    """A room's breach episodes (the alerts) reaching into [start, end): the engine's windows
    evaluated from the local midnight before `start` (no window cut), episodes that end before
    `start` dropped; one reaching `now` is open (end None)."""
    wanted = {r.quantity for r in engine.rules_for(room_type)}
    if quantity is not None:
        wanted &= {quantity}
    keep = [s for s in infos if s.quantity in wanted or s.quantity in OCCUPANCY_QUANTITIES]
    if not any(s.quantity in wanted for s in keep):
        return []
    t0 = engine.day_start(start)
    data = read_series(store, keep, t0 - HOLD_NS, end, roles)
    verdicts = engine.evaluate_room(room_type, data, t0, end)
    if quantity is not None:
        verdicts = [v for v in verdicts if v.quantity == quantity]
    eps = engine.episodes(verdicts, now=now if end >= now else None)
    return [e for e in eps if e.end is None or e.end > start]


def plan_limit(
    engine: Engine, room_types: Sequence[str | None], quantity: str, now_ns: int
) -> float | tuple[float, float] | None:
    """The limit a plan coloured by `quantity` marks: of the rooms' most common type with a rule
    of that quantity, the first such rule (standards file order: the desk plane before the
    blackboard) in season now; None when none applies (temperature in spring)."""
    month = datetime.fromtimestamp(now_ns // NS, engine.tz).month
    for room_type, _ in Counter(room_types).most_common():
        rules = engine.rules_for(room_type, {quantity})
        for rule in rules:
            season = rule.applies.season
            if season is None or month in engine.standards.season_months(season):
                return rule.limit
        if rules:
            return None
    return None
