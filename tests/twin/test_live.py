"""Live room state over a real SQLite store: latest values, staleness, occupancy, verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import Store, StoredPoint
from store.sqlite import SQLiteStore
from twin.live import IntervalCache, room_states
from twin.model import Building, Campus, Space, Storey
from twin.standards import load_standards
from twin.standards.evaluator import Status
from twin.standards.occupancy import load_timetable

CST = timezone(timedelta(hours=8))
NS = 10**9
NOW = int(datetime(2026, 9, 7, 9, 0, tzinfo=CST).timestamp()) * NS  # Monday, in lesson 08:50-09:30
SITE = "sz-a"


def campus() -> Campus:
    spaces = [
        Space("R1", "A-101", "智慧教室", room_type="smart_classroom"),
        Space("R2", "A-102", "普通教室", room_type="general_classroom"),
        Space("R3", "A-103", "教师办公室", room_type="office"),
        Space("R4", "A-104", "普通教室", room_type="general_classroom"),
    ]
    for s in spaces:
        s.storey_id, s.building_id = "S1", "B1"
    b = Building("B1", "教学楼A", SITE, "a.ifc", storeys=[Storey("S1", "1F", 0.0, "B1", spaces)])
    return Campus(SITE, "测试学校", buildings=[b])


def tags(gid: str, number: str, rtype: str) -> RoomTags:
    return RoomTags(campus=SITE, building="B1", storey="S1", room=gid, room_number=number, room_type=rtype)


def bindings() -> BindingTable:
    return BindingTable(
        bindings=[
            Binding(site=SITE, device="A-101-air", tags=tags("R1", "A-101", "smart_classroom")),
            Binding(site=SITE, device="A-101-occ", tags=tags("R1", "A-101", "smart_classroom")),
            Binding(
                site=SITE, device="A-102-co2", point="co2", tags=tags("R2", "A-102", "general_classroom")
            ),
            Binding(site=SITE, device="A-102-lux", tags=tags("R2", "A-102", "general_classroom")),
        ]
    )


def pt(device: str, point: str, quantity: str, ts: int, value: float | None, **kw: object) -> StoredPoint:
    return StoredPoint(
        key=SeriesKey(kw.pop("site", SITE), device, point),  # type: ignore[arg-type]
        ts=ts,
        value=value,
        quantity=quantity,
        unit=CANONICAL_UNITS[quantity],
        agent="gw-A",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "live.db")
    hour = [NOW - k * 60 * NS for k in range(61)]  # last hour, one reading a minute
    pts = [pt("A-101-air", "co2", "co2", t, 1200.0) for t in hour]
    pts += [pt("A-101-air", "illuminance", "illuminance", t, 280.0) for t in hour]  # wall monitor
    pts += [pt("A-101-air", "blackboard_illuminance", "illuminance", NOW, 520.0)]
    pts += [pt("A-101-occ", "presence", "presence", NOW - 30 * NS, 1.0)]
    pts += [pt("A-102-co2", "co2", "co2", t, 800.0) for t in hour]
    pts += [pt("A-102-co2", "temperature", "temperature", NOW, 24.0)]  # point not bound
    pts += [pt("A-102-lux", "illuminance", "illuminance", NOW - 20 * NS, 350.0)]
    # bound only through the store's room tags (ingest enriched it)
    pts += [pt("A-103-th", "temperature", "temperature", NOW - 600 * NS, 30.0, tags={"room": "R3"})]
    # another campus: never joined to this one
    pts += [pt("A-101-air", "co2", "co2", NOW, 5000.0, site="other")]
    s.write(pts)
    yield s
    s.close()


def test_latest_values_staleness_and_occupancy(store: Store) -> None:
    states = room_states(campus(), bindings(), store, NOW, load_standards(), timetable=load_timetable())
    assert set(states) == {"R1", "R2", "R3", "R4"}
    r1, r2, r3, r4 = (states[k] for k in ("R1", "R2", "R3", "R4"))
    assert r1.values["co2"].value == 1200.0 and r1.values["co2"].interval_s == 60.0
    assert not r1.values["co2"].stale and r1.values["co2"].age_s == 0
    assert (r1.occupied, r1.occupancy_source) == (True, "sensor")
    assert (r2.occupied, r2.occupancy_source) == (True, "timetable")
    assert set(r2.values) == {"co2", "illuminance"}  # A-102-co2/temperature is not bound
    t = r3.values["temperature"]
    assert t.stale and t.age_s == 600 and t.interval_s == 60.0
    assert r4.series == [] and r4.verdicts == []


def test_verdicts_on_the_current_window(store: Store) -> None:
    """09:00 is 80 min into class time (早读 07:30, lessons 08:00, 08:55): the running 1-h
    window is the last 60 class minutes; the daily mean has too little data so far."""
    states = room_states(campus(), bindings(), store, NOW, load_standards(), timetable=load_timetable())
    v1 = {v.rule_id: v for v in states["R1"].verdicts}
    # the wall monitor's lux is not the desk plane; the named blackboard point is judged
    assert v1["gb7793-desk-illuminance"].status is Status.NO_SENSOR
    assert v1["gb7793-desk-illuminance"].reason is not None
    bb = v1["gb7793-blackboard-illuminance"]
    assert bb.status is Status.COMPLIANT and bb.point == "blackboard_illuminance" and bb.value == 520.0
    co2 = v1["gbt18883-co2-1h"]
    assert co2.status is Status.NON_COMPLIANT and co2.value == 1200.0 and co2.basis == "running 1h window"
    assert (
        co2.standard == "GB/T 18883-2022"
        and co2.reason is not None
        and "1200 ppm > 1000 ppm" in co2.reason.zh
    )
    assert v1["gbt17226-co2-daily"].status is Status.INSUFFICIENT
    assert states["R1"].status is Status.NON_COMPLIANT
    v2 = {v.rule_id: v for v in states["R2"].verdicts}
    assert v2["gbt18883-co2-1h"].status is Status.COMPLIANT and v2["gbt18883-co2-1h"].value == 800.0
    assert v2["gb7793-desk-illuminance"].status is Status.COMPLIANT  # the desk lux transmitter
    # an office has no class time; September is summer in the 夏热冬暖 zone
    v3 = {v.rule_id: v for v in states["R3"].verdicts}
    assert v3["gbt18883-temperature-summer"].status is Status.NOT_APPLICABLE
    assert v3["gbt18883-temperature-winter"].status is Status.NOT_APPLICABLE
    assert v3["gbt18883-temperature-winter"].reason is not None
    assert v3["gbt18883-temperature-winter"].reason.en == "out of season"


def test_outside_class_stale_sensor_falls_back_to_timetable(store: Store) -> None:
    lunch = NOW + int(3.5 * 3600) * NS  # 12:30
    states = room_states(campus(), bindings(), store, lunch, load_standards(), timetable=load_timetable())
    assert (states["R1"].occupied, states["R1"].occupancy_source) == (False, "timetable")
    assert all(s.stale for s in states["R1"].series)
    # class-time rules are not judged at lunch, and say so with the latest value
    assert {v.status for v in states["R2"].verdicts} == {Status.NOT_APPLICABLE, Status.NO_SENSOR}
    co2 = {v.rule_id: v for v in states["R2"].verdicts}["gbt18883-co2-1h"]
    assert co2.reason is not None and co2.reason.en == "not in class"
    assert states["R2"].status is Status.NOT_APPLICABLE and states["R2"].reason == co2.reason
    # without standards or a fresh sensor, occupancy is unknown
    states = room_states(campus(), bindings(), store, lunch)
    assert states["R2"].occupied is None and states["R2"].occupancy_source is None
    d = states["R1"].to_dict()
    assert isinstance(d["values"], dict) and d["values"]["co2"]["stale"] is True


def test_interval_cache_keeps_verdicts_and_infers_each_series_once(store: Store) -> None:
    """A kept live state re-evaluated every few seconds must not re-read every series' recent
    points to infer its reading interval: the cache infers once per refresh period, and the
    states are the same as without it."""
    reads: list[SeriesKey] = []
    real_range = store.range

    def counting_range(key: SeriesKey, *a: Any, **kw: Any) -> Any:
        reads.append(key)
        return real_range(key, *a, **kw)

    std, tt = load_standards(), load_timetable()
    plain = room_states(campus(), bindings(), store, NOW, std, timetable=tt)
    cache = IntervalCache(refresh_s=600)
    store.range = counting_range  # type: ignore[method-assign]
    first = room_states(campus(), bindings(), store, NOW, std, timetable=tt, intervals=cache)
    n_first = len(reads)
    again = room_states(campus(), bindings(), store, NOW + 5 * NS, std, timetable=tt, intervals=cache)
    n_series = sum(len(s.series) for s in first.values())
    assert n_first - (len(reads) - n_first) == n_series  # the second pass skipped every inference
    for gid, st in plain.items():
        assert first[gid].to_dict() == st.to_dict()
        assert [s.interval_s for s in again[gid].series] == [s.interval_s for s in st.series]
    reads.clear()
    room_states(campus(), bindings(), store, NOW + 601 * NS, std, timetable=tt, intervals=cache)
    assert len(reads) == n_first  # past the refresh period: inferred again


def _at(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 10, 0, tzinfo=CST).timestamp()) * NS


def test_plan_limit_is_the_rule_of_the_storeys_rooms_in_season() -> None:
    """A plan coloured by one quantity marks the limit its rooms are judged by: the desk plane's
    300 lx (not the blackboard's 500), a reading room's 40 dB(A) on a library floor, the season's
    temperature range of the campus's climate zone, and nothing where no rule applies."""
    from twin.live import plan_limit
    from twin.standards.engine import Engine
    from twin.standards.settings import CampusStandards, campus_engine

    eng = Engine(load_standards(), load_timetable())  # hot-summer/warm-winter: summer Mar–Nov
    classrooms = ["general_classroom", "general_classroom", "office", None]
    nov, jan, oct_ = _at(2026, 11, 23), _at(2027, 1, 11), _at(2026, 10, 12)
    assert plan_limit(eng, classrooms, "illuminance", nov) == 300
    assert plan_limit(eng, classrooms, "co2", nov) == 1000
    assert plan_limit(eng, classrooms, "noise", nov) == 45
    assert plan_limit(eng, ["library", "library", "general_classroom"], "noise", nov) == 40
    assert plan_limit(eng, classrooms, "temperature", nov) == (22, 28)
    assert plan_limit(eng, classrooms, "temperature", jan) == (16, 24)
    cold = campus_engine(CampusStandards(climate_zone="cold"), load_standards(), load_timetable())
    assert plan_limit(cold, classrooms, "temperature", oct_) is None  # neither summer nor winter
    assert plan_limit(eng, ["corridor", None], "co2", nov) == 1000  # the 1-h rule: every room
    assert plan_limit(eng, ["corridor", None], "noise", nov) is None  # no rule for these rooms


def test_room_state_for_one_quantity_judges_only_its_rules(store: Store) -> None:
    states = room_states(campus(), bindings(), store, NOW, load_standards(), timetable=load_timetable())
    r1 = states["R1"]
    co2 = r1.for_quantity("co2")
    assert co2.verdicts and {v.quantity for v in co2.verdicts} == {"co2"}
    assert {s.quantity for s in co2.series} == {"co2"}
    assert co2.status in {v.status for v in co2.verdicts}


def test_a_verdict_names_the_device_it_judged(tmp_path: Path) -> None:
    """Two devices of a room report a point named `illuminance`: the wall monitor first, the desk
    transmitter second. The desk rule judges the desk one and names it (not the first device
    with that point name)."""
    table = BindingTable(
        bindings=[
            Binding(site=SITE, device=d, role=role, tags=tags("R2", "A-102", "general_classroom"))
            for d, role in (("A-102-air", "wall"), ("A-102-lux", "desk"))
        ]
    )
    s = SQLiteStore(tmp_path / "two.db")
    try:
        s.write([pt("A-102-air", "illuminance", "illuminance", NOW - 30 * NS, 900.0)])
        s.write([pt("A-102-lux", "illuminance", "illuminance", NOW - 20 * NS, 350.0)])
        st = room_states(campus(), table, s, NOW, load_standards(), timetable=load_timetable())["R2"]
    finally:
        s.close()
    desk = next(v for v in st.verdicts if v.rule_id == "gb7793-desk-illuminance")
    assert (desk.status, desk.device, desk.point, desk.value) == (
        Status.COMPLIANT,
        "A-102-lux",
        "illuminance",
        350.0,
    )
