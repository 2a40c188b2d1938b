"""Per-school facts for a reporting period, read once from the twin and the store.

Everything an indicator or a report table needs — rooms by type with evidence, which devices
are bound where, how many readings each bound series sent against how many were expected,
which agents reported, and the compliance verdict of each series for each applicable rule
over class hours — so indicator computation downstream is pure and every figure can name the
rooms and devices behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from contract.bindings import BindingTable
from contract.telemetry import SeriesKey
from store.base import Agg, SeriesInfo, Store, StoredPoint
from twin.indicators.history import SeriesHistory, grain_ns
from twin.live import bound_series, declared_roles
from twin.model import Campus
from twin.standards.engine import Presence, presence_of
from twin.standards.evaluator import Series, Verdict, evaluate_series
from twin.standards.occupancy import OCCUPANCY_QUANTITIES, Timetable
from twin.standards.schema import StandardsFile
from twin.standards.settings import campus_engine

NS = 10**9


@dataclass(slots=True)
class SeriesFacts:
    device: str
    point: str  # "*" for a bound device that never reported any point
    quantity: str | None
    unit: str | None
    agent: str | None
    received: int  # readings with a value in the period
    expected: int  # period (up to now) / expected interval
    verdicts: list[Verdict] = field(default_factory=list)


@dataclass(slots=True)
class RoomFacts:
    global_id: str
    room_number: str
    room_type: str | None
    long_name: str | None
    building: str | None
    storey: str | None
    evidence: list[str]
    bound_devices: list[str]
    series: list[SeriesFacts] = field(default_factory=list)

    @property
    def bound(self) -> bool:
        return bool(self.bound_devices)

    @property
    def live(self) -> bool:
        """Bound sensors of the room sent data in the period."""
        return any(s.received > 0 for s in self.series)

    @property
    def live_devices(self) -> list[str]:
        return sorted({s.device for s in self.series if s.received > 0})


@dataclass(slots=True)
class SchoolFacts:
    campus_id: str
    name: str
    ifc_files: list[str]
    rooms: list[RoomFacts]
    agents: dict[str, int]  # agent → readings received in the period (bound or not)
    start: int
    end: int

    @property
    def ifc_loaded(self) -> bool:
        return bool(self.ifc_files) and bool(self.rooms)


def _bound_devices(campus: Campus, table: BindingTable | None) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for b in table.bindings if table is not None else campus.bindings:
        if b.site == campus.id:
            out.setdefault(b.tags.room, set()).add(b.device)
    return out


def gather_school(
    campus: Campus,
    bindings: BindingTable | None,
    store: Store | None,
    start: int,
    end: int,
    *,
    standards: StandardsFile,
    timetable: Timetable,
    interval_s: float = 60.0,
    now_ns: int | None = None,
    bulk: bool = True,
) -> SchoolFacts:
    """Facts of one school over [start, end). Readings are expected once per `interval_s` from
    every bound series up to `now_ns` (a period still running is not held against the school).

    `bulk` reads history as store-side windows (twin.indicators.history); False reads every
    raw point (the reference the bulk path is tested and benchmarked against). `store` None:
    a report from the model and inputs alone (no readings, no gateways)."""
    interval_ns = int(interval_s * NS)
    until = min(end, now_ns) if now_ns is not None else end
    expected = max(until - start, 0) // interval_ns
    engine = campus_engine(campus.standards, standards, timetable)
    tz = ZoneInfo(standards.timezone)
    grains: dict[tuple[object, ...], int | None] = {}  # per room type and rule: their boundaries
    infos_all = [i for i in store.series() if i.key.site == campus.id] if store is not None else []
    by_room = bound_series(campus, bindings, infos_all)
    declared = declared_roles(campus, bindings, [i for infos in by_room.values() for i in infos])
    latest = store.latest([i.key for i in infos_all]) if store is not None and infos_all else {}
    devices = _bound_devices(campus, bindings)
    agents: dict[str, int] = {}
    rooms: list[RoomFacts] = []
    for space in campus.spaces():
        infos = by_room.get(space.global_id, [])
        room = RoomFacts(
            global_id=space.global_id,
            room_number=space.room_number,
            room_type=space.room_type,
            long_name=space.long_name,
            building=space.building_id,
            storey=space.storey_id,
            evidence=[f"{e.rule}: {e.attribute}={e.value}" for e in space.evidence],
            bound_devices=sorted(devices.get(space.global_id, set()) | {i.key.device for i in infos}),
        )
        presence = _presence(store, infos, start, end)
        histories: dict[object, SeriesHistory] = {}
        facts: dict[object, SeriesFacts] = {}
        for info in infos:
            assert store is not None  # a room has series only from a store
            histories[info.key] = SeriesHistory(store, info.key, start, end, -1 if bulk else None)
            history = histories[info.key]
            p = latest.get(info.key)
            agent = p.agent if p is not None else None
            received = history.received
            facts[info.key] = SeriesFacts(
                info.key.device, info.key.point, info.quantity, info.unit, agent, received, expected
            )
            if agent and received:
                agents[agent] = agents.get(agent, 0) + received
            room.series.append(facts[info.key])
        # one verdict per rule for the room, on its representative series (engine's roles),
        # listed under the first of them
        for rule in engine.rules_for(space.room_type, {i.quantity for i in infos}):
            chosen = [
                i
                for i in infos
                if i.quantity == rule.quantity
                and rule.applies.matches_role(
                    engine.roles.role_of(i.key.device, i.key.point, i.quantity, declared.get(i.key))
                )
            ]
            if not chosen:
                continue
            app, why = engine.applicable(rule, space.room_type, start, end, presence)
            gkey = (space.room_type, rule.id)
            if presence is None and bulk and gkey not in grains:
                grains[gkey] = grain_ns([rule], {rule.id: app}, start, end, tz, interval_ns)
            series = []
            for i in chosen:
                h = histories[i.key].with_grain(grains.get(gkey) if presence is None and bulk else None)
                ts, vals = h.readings(rule, app)
                series.append(Series(i.key.point, i.quantity, ts, vals, declared.get(i.key), i.key.device))
            facts[chosen[0].key].verdicts.append(
                evaluate_series(
                    rule,
                    series,
                    app,
                    start,
                    end,
                    tz,
                    tolerance=standards.tolerance,
                    interval_ns=interval_ns,
                    na_reason=why,
                )
            )
        reported = {s.device for s in room.series}
        for dev in sorted(devices.get(space.global_id, set()) - reported):
            room.series.append(SeriesFacts(dev, "*", None, None, None, 0, expected))
        rooms.append(room)
    # a gateway whose devices are not (yet) bound to rooms still reports: count it too
    bound_keys = {i.key for infos in by_room.values() for i in infos}
    unbound = [i for i in infos_all if i.key not in bound_keys]
    for agent, n in (_agent_counts(store, unbound, latest, start, end) if store is not None else {}).items():
        agents[agent] = agents.get(agent, 0) + n
    files = sorted({b.source_file for b in campus.buildings})
    return SchoolFacts(campus.id, campus.name, files, rooms, agents, start, end)


def store_agents(store: Store, sites: list[str], start: int, end: int) -> dict[str, dict[str, int]]:
    """Per site, the gateways (agents) that sent readings in [start, end) → readings: IoT
    presence of a school from the store alone, with or without a BIM model."""
    wanted = set(sites)
    infos = [i for i in store.series() if i.key.site in wanted]
    latest = store.latest([i.key for i in infos]) if infos else {}
    return {s: _agent_counts(store, [i for i in infos if i.key.site == s], latest, start, end) for s in sites}


def _agent_counts(
    store: Store, infos: list[SeriesInfo], latest: dict[SeriesKey, StoredPoint], start: int, end: int
) -> dict[str, int]:
    out: dict[str, int] = {}
    for info in infos:
        p = latest.get(info.key)
        if p is None or not p.agent:
            continue
        n = sum(w.count for w in store.range(info.key, start, end, every=end - start, agg=Agg.COUNT))
        if n:
            out[p.agent] = out.get(p.agent, 0) + n
    return out


def _presence(store: Store | None, infos: list[SeriesInfo], start: int, end: int) -> Presence | None:
    """The room's presence/occupancy sensor readings (raw), if it has such a sensor."""
    occ = [i for i in infos if i.quantity in OCCUPANCY_QUANTITIES]
    if not occ or store is None:
        return None
    series = []
    for i in occ:
        pts = [w for w in store.range(i.key, start - 15 * 60 * NS, end) if w.value is not None]
        series.append(
            Series(
                i.key.point,
                i.quantity,
                np.array([w.start for w in pts], dtype=np.int64),
                np.array([w.value for w in pts], dtype=np.float64),
            )
        )
    return presence_of(series)


def period_ns(text: str, tz: str = "Asia/Shanghai") -> tuple[int, int]:
    """'2026-09-01..2026-11-30' → [local midnight of the first day, local midnight after the last)."""
    from datetime import date, datetime, timedelta

    try:
        a, b = text.split("..")
        d0, d1 = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
    except ValueError:
        raise ValueError(f"period {text!r} is not YYYY-MM-DD..YYYY-MM-DD") from None
    if d1 < d0:
        raise ValueError(f"period {text!r} ends before it starts")
    zone = ZoneInfo(tz)
    start = datetime(d0.year, d0.month, d0.day, tzinfo=zone)
    end = datetime(d1.year, d1.month, d1.day, tzinfo=zone) + timedelta(days=1)
    return int(start.timestamp()) * NS, int(end.timestamp()) * NS
