from pathlib import Path

from contract.campus import CampusSpec, devices_of, expand
from contract.telemetry import ID_PATTERN
from contract.yamlio import load_model

DEMO = Path(__file__).resolve().parents[2] / "examples" / "campus" / "demo-campus.yaml"


def test_demo_campus_expands_deterministically() -> None:
    spec = load_model(CampusSpec, DEMO)
    rooms = expand(spec)
    assert rooms == expand(spec)
    # A: 3 floors x 5 rooms; B: 2 floors x 4 rooms
    assert len(rooms) == 3 * 5 + 2 * 4
    numbers = [r.number for r in rooms]
    assert len(set(numbers)) == len(numbers)
    assert numbers[0] == "A-101" and "B-204" in numbers
    devices = devices_of(rooms)
    assert len({d.id for d in devices}) == len(devices)
    import re

    assert all(re.match(ID_PATTERN, d.id) for d in devices)
    modbus_a = [(d.server_index, d.unit_id) for d in devices if d.building == "A" and d.protocol == "modbus"]
    assert len(set(modbus_a)) == len(modbus_a)
    assert all(1 <= u <= 247 for _, u in modbus_a)


def test_rooms_do_not_overlap_on_a_floor() -> None:
    rooms = [r for r in expand(load_model(CampusSpec, DEMO)) if r.building == "A" and r.floor == 1]
    for i, a in enumerate(rooms):
        for b in rooms[i + 1 :]:
            overlap_x = a.x_m < b.x_m + b.width_m and b.x_m < a.x_m + a.width_m
            overlap_y = a.y_m < b.y_m + b.depth_m and b.y_m < a.y_m + a.depth_m
            assert not (overlap_x and overlap_y), (a.number, b.number)
