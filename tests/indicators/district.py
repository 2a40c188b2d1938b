"""A generated district: three schools with known room mixes and simulated data in SQLite.

Numbers the tests expect are derived by hand in test_district.py from what is built here.
Readings every 10 min over Mon 2026-09-07 and Tue 2026-09-08 (local time, UTC+8).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np

from contract.bindings import Binding, BindingTable, RoomTags
from contract.telemetry import CANONICAL_UNITS, SeriesKey
from store.base import Store, StoredPoint
from twin.model import Building, Campus, Evidence, Space, Storey
from twin.standards import intervals as iv
from twin.standards.occupancy import class_intervals, load_timetable

CST = timezone(timedelta(hours=8))
NS = 10**9
STEP = 600 * NS
START = int(datetime(2026, 9, 7, tzinfo=CST).timestamp()) * NS
END = START + 2 * 86400 * NS
MONDAY_END = START + 86400 * NS
PERIOD = "2026-09-07..2026-09-08"

# campus id → [(room number, room type)]
MIX: dict[str, list[tuple[str, str]]] = {
    "sz-s1": [
        ("A-101", "smart_classroom"),
        ("A-102", "smart_classroom"),
        ("A-103", "general_classroom"),
        ("A-104", "multimedia_classroom"),
        ("A-105", "general_classroom"),
        ("A-106", "general_classroom"),
        ("A-107", "recording_classroom"),
        ("A-108", "computer_room"),
        ("A-109", "office"),
        ("B-101", "new_lab"),
    ],
    "sz-s2": [
        ("A-101", "smart_classroom"),
        ("A-102", "new_lab"),
        ("A-103", "general_classroom"),
        ("A-104", "general_classroom"),
        ("A-105", "general_classroom"),
        ("A-106", "general_classroom"),
        ("A-107", "computer_room"),
        ("A-108", "computer_room"),
    ],
    "sz-s3": [
        ("C-101", "general_classroom"),
        ("C-102", "general_classroom"),
        ("C-103", "multimedia_classroom"),
        ("C-104", "library"),
    ],
}
NAMES = {"sz-s1": "第一示范学校", "sz-s2": "第二学校", "sz-s3": "第三学校"}
# (campus, device, room number, agent)
BOUND = [
    ("sz-s1", "A-101-air", "A-101", "gw-A"),
    ("sz-s1", "A-102-air", "A-102", "gw-A"),
    ("sz-s1", "A-103-co2", "A-103", "gw-A"),
    ("sz-s1", "A-104-mm", "A-104", "gw-A"),  # bound, never reports
    ("sz-s1", "B-101-air", "B-101", "gw-A"),
    ("sz-s2", "A-101-air", "A-101", "gw-S2"),  # bound, gateway offline all period
    ("sz-s3", "C-101-th", "C-101", "gw-B"),
    ("sz-s3", "C-102-th", "C-102", "gw-B"),
]


def gid(campus: str, number: str) -> str:
    return f"{campus}:{number}"


def campuses() -> list[Campus]:
    out = []
    for cid, rooms in MIX.items():
        spaces = [
            Space(
                gid(cid, n),
                n,
                t,
                room_type=t,
                storey_id=f"{cid}-1F",
                building_id=f"{cid}-B",
                evidence=[Evidence("test-mix", "LongName", t)],
            )
            for n, t in rooms
        ]
        b = Building(
            f"{cid}-B", "教学楼", cid, f"{cid}.ifc", [Storey(f"{cid}-1F", "1F", 0.0, f"{cid}-B", spaces)]
        )
        out.append(Campus(cid, NAMES[cid], "IFC4", [b]))
    return out


def bindings() -> BindingTable:
    types = {(c, n): t for c, rooms in MIX.items() for n, t in rooms}
    return BindingTable(
        bindings=[
            Binding(
                site=c,
                device=d,
                tags=RoomTags(
                    campus=c,
                    building=f"{c}-B",
                    storey=f"{c}-1F",
                    room=gid(c, n),
                    room_number=n,
                    room_type=types[c, n],
                ),
            )
            for c, d, n, _ in BOUND
        ]
    )


def _series(
    site: str,
    device: str,
    point: str,
    quantity: str,
    agent: str,
    value: Callable[[int], float],
    t0: int = START,
    t1: int = END,
) -> list[StoredPoint]:
    return [
        StoredPoint(
            SeriesKey(site, device, point),
            t,
            float(value(t)),
            quantity,
            CANONICAL_UNITS[quantity],
            agent=agent,
        )
        for t in range(t0, t1, STEP)
    ]


def fill(store: Store) -> None:
    lessons = class_intervals(load_timetable(), START, END, "general_classroom")

    def in_class(t: int) -> bool:
        return bool(iv.contains(lessons, np.array([t]))[0])

    def monday_class(t: int) -> bool:
        return t < MONDAY_END and in_class(t)

    pts: list[StoredPoint] = []
    pts += _series("sz-s1", "A-101-air", "co2", "co2", "gw-A", lambda t: 800)
    pts += _series("sz-s1", "A-101-air", "desk_illuminance", "illuminance", "gw-A", lambda t: 350)
    pts += _series("sz-s1", "A-102-air", "co2", "co2", "gw-A", lambda t: 1200 if monday_class(t) else 800)
    pts += _series(
        "sz-s1",
        "A-102-air",
        "desk_illuminance",
        "illuminance",
        "gw-A",
        lambda t: 250 if monday_class(t) else 400,
    )
    pts += _series(
        "sz-s1", "A-103-co2", "co2", "co2", "gw-A", lambda t: 900, t1=MONDAY_END
    )  # silent on Tuesday
    pts += _series("sz-s1", "B-101-air", "temperature", "temperature", "gw-A", lambda t: 25)
    pts += _series("sz-s3", "C-101-th", "temperature", "temperature", "gw-B", lambda t: 25)
    pts += _series(
        "sz-s3", "C-102-th", "temperature", "temperature", "gw-B", lambda t: 30 if monday_class(t) else 25
    )
    # a gateway whose device is not bound to any room still makes sz-s3 an IoT school
    pts += _series("sz-s3", "X-9-em", "power", "power", "gw-X", lambda t: 500, t1=START + 6 * STEP)
    # outside the period: must not count
    pts += _series("sz-s2", "A-101-air", "co2", "co2", "gw-S2", lambda t: 700, t0=END, t1=END + 6 * STEP)
    store.write(pts)
