"""Live room state: what each room of a campus measures now, how fresh it is, whether it is
occupied, and whether it complies with the standards at this moment.

Reads the store (latest points and a short recent history), joins series to rooms through the
binding table (device/point → IfcSpace GlobalId; the store's room tags as fallback), and
evaluates the rules of `standards.yaml` that apply now: instant rules on the latest reading,
averaged rules on the trailing window (e.g. the last hour's mean).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from contract.bindings import BindingIndex, BindingTable
from contract.telemetry import SeriesKey
from store.base import SeriesInfo, Store, StoredPoint
from twin.model import Campus, Space
from twin.standards.evaluator import STATUS_ZH, Status, passes
from twin.standards.occupancy import Timetable
from twin.standards.schema import AVERAGING_NS, Rule, StandardsFile

NS = 10**9
OCCUPANCY_QUANTITIES = ("occupancy", "presence")


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


@dataclass(frozen=True, slots=True)
class LiveVerdict:
    rule_id: str
    status: Status
    value: float | None
    basis: str  # "latest" or "trailing 1h mean" …
    limit: float | tuple[float, float]
    comparator: str
    unit: str
    standard: str
    clause: str
    label_zh: str
    label_en: str
    device: str
    point: str

    @property
    def status_zh(self) -> str:
        return STATUS_ZH[self.status]


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
    verdicts: list[LiveVerdict] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["values"] = {q: asdict(s) for q, s in self.values.items()}
        for v in d["verdicts"]:
            v["status"] = str(v["status"])
        return d


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


def _rule_applies_now(rule: Rule, space: Space, occupied: bool | None, local: datetime) -> bool:
    a = rule.applies
    if not a.matches_room(space.room_type):
        return False
    if a.months is not None and local.month not in a.months:
        return False
    if a.hours is not None and not a.hours[0] <= local.hour < a.hours[1]:
        return False
    if a.occupancy == "occupied":
        return occupied is True
    if a.occupancy == "unoccupied":
        return occupied is False
    return True


def _trailing_mean(store: Store, rule: Rule, key: SeriesKey, now_ns: int, interval_ns: int) -> float | None:
    span = AVERAGING_NS[rule.averaging]
    vals = np.array([w.value for w in store.range(key, now_ns - span, now_ns + 1) if w.value is not None])
    if len(vals) * interval_ns < rule.min_coverage * span:
        return None
    if rule.mean == "energy":
        return float(10 * np.log10(np.mean(10 ** (vals / 10))))
    return float(vals.mean())


def _verdict(rule: Rule, s: SeriesState, value: float | None, basis: str) -> LiveVerdict:
    if value is None:
        status = Status.INSUFFICIENT
    else:
        status = Status.COMPLIANT if bool(passes(rule, np.array([value]))[0]) else Status.NON_COMPLIANT
    return LiveVerdict(
        status=status,
        value=value,
        basis=basis,
        **rule.verdict_fields(),
        device=s.device,
        point=s.point,
    )


def room_states(
    campus: Campus,
    bindings: BindingIndex | BindingTable | None,
    store: Store,
    now_ns: int,
    standards: StandardsFile | None = None,
    *,
    timetable: Timetable | None = None,
    default_interval_s: float = 60.0,
    stale_factor: float = 3.0,
) -> dict[str, RoomState]:
    """State of every space of `campus` at `now_ns`, keyed by IfcSpace GlobalId.

    Occupancy comes from a fresh occupancy/presence reading of the room, else from the
    timetable (class hours), else stays unknown (None) and occupied-only rules are not judged.
    """
    by_room = bound_series(campus, bindings, store.series())
    keys = [i.key for infos in by_room.values() for i in infos]
    latest = store.latest(keys) if keys else {}
    default_ns = int(default_interval_s * NS)
    tz = ZoneInfo(standards.timezone if standards else (timetable.timezone if timetable else "Asia/Shanghai"))
    local = datetime.fromtimestamp(now_ns / NS, tz)
    in_class = None
    if timetable is not None:
        lessons = timetable.intervals(now_ns - 24 * 3600 * NS, now_ns + 24 * 3600 * NS)
        in_class = bool(((lessons[:, 0] <= now_ns) & (now_ns < lessons[:, 1])).any())

    out: dict[str, RoomState] = {}
    for space in campus.spaces():
        st = RoomState(
            global_id=space.global_id,
            room_number=space.room_number,
            room_type=space.room_type,
            long_name=space.long_name,
            building_id=space.building_id,
            storey_id=space.storey_id,
        )
        for info in by_room.get(space.global_id, []):
            p = latest.get(info.key)
            if p is not None:
                st.series.append(
                    _series_state(p, now_ns, _interval_ns(store, info.key, now_ns, default_ns), stale_factor)
                )
        occ = [s for s in st.series if s.quantity in OCCUPANCY_QUANTITIES and not s.stale]
        if occ:
            st.occupied, st.occupancy_source = any((s.value or 0) > 0 for s in occ), "sensor"
        elif in_class is not None:
            st.occupied, st.occupancy_source = in_class, "timetable"
        if standards is not None:
            for rule in standards.rules:
                if not _rule_applies_now(rule, space, st.occupied, local):
                    continue
                for s in st.series:
                    if s.quantity != rule.quantity or not rule.applies.matches_point(s.point):
                        continue
                    if rule.averaging == "instant":
                        st.verdicts.append(_verdict(rule, s, None if s.stale else s.value, "latest"))
                    else:
                        key = SeriesKey(campus.id, s.device, s.point)
                        mean = _trailing_mean(store, rule, key, now_ns, int(s.interval_s * NS))
                        st.verdicts.append(_verdict(rule, s, mean, f"trailing {rule.averaging} mean"))
        out[space.global_id] = st
    return out


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def rooms_where(
    states: Mapping[str, RoomState],
    quantity: str,
    op: str,
    limit: float,
    *,
    occupied_only: bool = False,
    include_stale: bool = False,
) -> list[tuple[RoomState, SeriesState]]:
    """Rooms whose current `quantity` satisfies `op limit`, worst first — e.g.
    `rooms_where(s, "co2", ">", 1000)` or `rooms_where(s, "illuminance", "<", 300, occupied_only=True)`."""
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    cmp = _OPS[op]
    hits = []
    for st in states.values():
        if occupied_only and st.occupied is not True:
            continue
        for s in st.series:
            if (
                s.quantity == quantity
                and s.value is not None
                and (include_stale or not s.stale)
                and cmp(s.value, limit)
            ):
                hits.append((st, s))
                break
    return sorted(hits, key=lambda h: h[1].value or 0.0, reverse=op in (">", ">="))


def non_compliant(states: Mapping[str, RoomState]) -> list[tuple[RoomState, LiveVerdict]]:
    return [(st, v) for st in states.values() for v in st.verdicts if v.status is Status.NON_COMPLIANT]


def parse_query(text: str) -> tuple[str, str, float]:
    """'co2>1000' → ("co2", ">", 1000.0), for CLI and API filters."""
    m = re.fullmatch(r"\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*", text)
    if not m:
        raise ValueError(f"query {text!r} is not QUANTITY OP NUMBER, e.g. co2>1000")
    return m[1], m[2], float(m[3])
