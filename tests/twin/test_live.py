"""Live room state over a real SQLite store: latest values, staleness, occupancy, verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import Store, StoredPoint
from store.sqlite import SQLiteStore
from twin.live import non_compliant, parse_query, room_states, rooms_where
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
    pts += [pt("A-101-air", "illuminance", "illuminance", t, 280.0) for t in hour]
    pts += [pt("A-101-air", "board_illuminance", "illuminance", NOW, 520.0)]
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


def test_instant_and_trailing_verdicts(store: Store) -> None:
    states = room_states(campus(), bindings(), store, NOW, load_standards(), timetable=load_timetable())
    v1 = {(v.rule_id, v.point): v for v in states["R1"].verdicts}
    assert v1[("gb7793-desk-illuminance", "illuminance")].status is Status.NON_COMPLIANT
    assert ("gb7793-desk-illuminance", "board_illuminance") not in v1
    assert v1[("gb7793-blackboard-illuminance", "board_illuminance")].status is Status.COMPLIANT
    co2 = v1[("gbt18883-co2-1h", "co2")]
    assert co2.status is Status.NON_COMPLIANT and co2.value == 1200.0 and co2.basis == "trailing 1h mean"
    assert co2.standard == "GB/T 18883-2022"
    assert v1[("gbt17226-co2-daily", "co2")].status is Status.INSUFFICIENT  # one hour of a day
    v2 = {v.rule_id: v for v in states["R2"].verdicts}
    assert v2["gbt18883-co2-1h"].status is Status.COMPLIANT and v2["gbt18883-co2-1h"].value == 800.0
    assert v2["gb7793-desk-illuminance"].status is Status.COMPLIANT
    # a single stale reading is not an hour of data
    v3 = {v.rule_id: v for v in states["R3"].verdicts}
    assert v3["gbt18883-temperature-summer"].status is Status.INSUFFICIENT
    assert "gbt18883-temperature-winter" not in v3  # September
    bad = {(st.room_number, v.rule_id) for st, v in non_compliant(states)}
    assert bad == {("A-101", "gb7793-desk-illuminance"), ("A-101", "gbt18883-co2-1h")}


def test_queries(store: Store) -> None:
    states = room_states(campus(), bindings(), store, NOW, load_standards(), timetable=load_timetable())
    assert [st.room_number for st, _ in rooms_where(states, *parse_query("co2>1000"))] == ["A-101"]
    assert [st.room_number for st, _ in rooms_where(states, "co2", ">", 500)] == ["A-101", "A-102"]
    dark = rooms_where(states, "illuminance", "<", 300, occupied_only=True)
    assert [(st.room_number, s.value) for st, s in dark] == [("A-101", 280.0)]
    assert rooms_where(states, "temperature", ">", 25) == []  # only a stale reading
    assert [st.room_number for st, _ in rooms_where(states, "temperature", ">", 25, include_stale=True)] == [
        "A-103"
    ]
    with pytest.raises(ValueError, match="QUANTITY OP NUMBER"):
        parse_query("co2 above 1000")


def test_outside_class_stale_sensor_falls_back_to_timetable(store: Store) -> None:
    lunch = NOW + int(3.5 * 3600) * NS  # 12:30
    states = room_states(campus(), bindings(), store, lunch, load_standards(), timetable=load_timetable())
    assert (states["R1"].occupied, states["R1"].occupancy_source) == (False, "timetable")
    assert all(s.stale for s in states["R1"].series)
    assert states["R2"].verdicts == []  # occupied-only rules are not judged on an empty room
    # without a timetable or a fresh sensor, occupancy is unknown
    states = room_states(campus(), bindings(), store, lunch, load_standards())
    assert states["R2"].occupied is None and states["R2"].occupancy_source is None
    d = states["R1"].to_dict()
    assert isinstance(d["values"], dict) and d["values"]["co2"]["stale"] is True
