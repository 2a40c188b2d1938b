"""Binding from IfcSensor and binding files, validation report, config/load_twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.bindings import BindingIndex, BindingTable
from contract.campus import CampusSpec, devices_of, expand
from contract.yamlio import ConfigError
from twin.binding import bind_campus, binding_table, load_device_list
from twin.config import load_twin
from twin.ifc_loader import load_campus
from twin.model import Campus
from twin.rooms import load_rules, type_rooms


def _campus(folder: Path) -> Campus:
    c = load_campus("t-school", "Test", sorted(folder.glob("*.ifc")))
    type_rooms(c, load_rules())
    return c


def test_bindings_from_ifc_cover_every_device(small_spec: CampusSpec, small_campus_dir: Path) -> None:
    campus = _campus(small_campus_dir)
    devices = [d.id for d in devices_of(expand(small_spec))]
    bindings, report = bind_campus(campus, devices=devices)
    assert sorted({b.device for b in bindings}) == sorted(devices)
    assert report.errors == []
    # one IfcSensor per published point: the air monitor's profile points, the occupancy sensor's
    points = {(b.device, b.point) for b in bindings}
    assert ("A-101-air", "co2") in points and ("A-101-air", "noise") in points
    assert ("A-101-occ", "occupancy") in points and ("A-101-occ", "illuminance") in points
    rooms = {r.number: r for r in expand(small_spec)}
    gids = {s.name: s.global_id for s in campus.spaces()}
    for b in bindings:
        room = rooms[b.device.rsplit("-", 1)[0]]
        assert b.point is not None and b.source == "ifc"
        assert b.tags.room == gids[room.number] and b.tags.room_number == room.number
        assert b.tags.room_type == room.type and b.tags.building == room.building
        assert b.tags.storey == f"{room.floor}F" and b.tags.campus == "t-school"
    # the library and office have no devices: reported (library/office are monitored types)
    without = {i.message.split()[1] for i in report.of_kind("room_without_sensor")}
    assert without == {r.number for r in rooms.values() if not r.devices}


def test_binding_file_messages_and_precedence(small_campus_dir: Path, tmp_path: Path) -> None:
    campus = _campus(small_campus_dir)
    bf = tmp_path / "bind.yaml"
    bf.write_text(
        "bindings:\n"
        "  - {device: A-101-air, room: A-102}\n"  # line 2: moves an IFC-bound device
        "  - {device: NEW-1, point: co2, room: B-102}\n"  # line 3: new point binding
        "  - {device: NEW-2, room: Z-999}\n"  # line 4: unknown room
        "  - {device: NEW-3, space: 3Zu5Bv0LOHrPC10066FoQQ}\n"  # line 5: unknown GlobalId
        "  - {device: NEW-1, point: co2, room: B-101}\n",  # line 6: conflicts with line 3
        encoding="utf-8",
    )
    bindings, report = bind_campus(campus, bf, devices=["A-101-air", "A-101-occ", "GHOST"])
    by_key = {(b.device, b.point): b for b in bindings}
    assert by_key[("A-101-air", None)].tags.room_number == "A-102"
    assert by_key[("A-101-air", None)].source == "file"
    assert by_key[("A-101-air", None)].role == "wall"  # moved, still the wall monitor its points said
    assert by_key[("NEW-1", "co2")].tags.room_number == "B-102"
    assert by_key[("A-101-occ", "occupancy")].source == "ifc"
    # the device-level file entry moved the whole device: no IFC point binding of it is left
    assert [k for k in by_key if k[0] == "A-101-air"] == [("A-101-air", None)]
    wheres = {(i.kind, i.where) for i in report.issues}
    assert ("conflict", f"{bf}:2:5") in wheres
    assert ("unknown_room", f"{bf}:4:5") in wheres
    assert ("unknown_room", f"{bf}:5:5") in wheres
    assert ("conflict", f"{bf}:6:5") in wheres
    assert [i.where for i in report.of_kind("unbound_device")] == ["GHOST"]
    assert "NEW-1" in {i.where for i in report.of_kind("unknown_device")}
    # a table ingest can use: point binding wins, device fallback works
    idx = BindingIndex(binding_table([Campus("t", "t", bindings=bindings)]))
    assert idx.lookup("t-school", "NEW-1", "co2").room_number == "B-102"  # type: ignore[union-attr]
    assert idx.lookup("t-school", "A-101-air", "temperature").room_number == "A-102"  # type: ignore[union-attr]


def test_agreeing_sources_merge_and_ambiguous_rooms(small_campus_dir: Path, tmp_path: Path) -> None:
    path = sorted(small_campus_dir.glob("*.ifc"))[0]
    campus = load_campus("t-school", "T", [path, path])  # same rooms twice → ambiguous numbers
    type_rooms(campus, load_rules())
    bf = tmp_path / "b.yaml"
    bf.write_text("bindings:\n  - {device: A-101-th2, room: A-101}\n", encoding="utf-8")
    _, report = bind_campus(campus, bf, use_ifc=False)
    (amb,) = report.of_kind("ambiguous_room")
    assert amb.where == f"{bf}:2:5" and "names 2 spaces" in amb.message
    single = _campus(small_campus_dir)
    gid = next(s.global_id for s in single.spaces() if s.name == "A-101")
    bf.write_text(f"bindings:\n  - {{device: A-101-air, space: '{gid}'}}\n", encoding="utf-8")
    bindings, report = bind_campus(single, bf)
    assert next(b for b in bindings if b.device == "A-101-air").source == "ifc+file"


def test_bad_binding_file_is_a_config_error(small_campus_dir: Path, tmp_path: Path) -> None:
    campus = _campus(small_campus_dir)
    bf = tmp_path / "b.yaml"
    bf.write_text(
        "bindings:\n  - {device: A-101-air}\n  - {device: 'bad id!', room: A-101}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as exc:
        bind_campus(campus, bf)
    assert f"{bf}:2:" in str(exc.value) and "exactly one of" in str(exc.value)
    assert f"{bf}:3:" in str(exc.value)


def test_device_lists(tmp_path: Path, demo_spec: CampusSpec) -> None:
    from tests.twin.tests_paths import DEMO_SPEC_PATH

    assert load_device_list(DEMO_SPEC_PATH) == [d.id for d in devices_of(expand(demo_spec))]
    p = tmp_path / "d.yaml"
    p.write_text("devices:\n  - {id: A-101-air}\n  - A-102-air\n", encoding="utf-8")
    assert load_device_list(p) == ["A-101-air", "A-102-air"]
    p.write_text("devices: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_device_list(p)


def test_load_twin_two_campuses(small_campus_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("bindings:\n  - {device: X-9, room: Z-1}\n", encoding="utf-8")
    cfg = tmp_path / "twin.yaml"
    files = sorted(small_campus_dir.glob("*.ifc"))
    cfg.write_text(
        "campuses:\n"
        f"  - {{id: t-school, name: 测试学校, ifc: ['{files[0]}', '{files[1]}'], bindings: b.yaml,"
        " overrides: {A-103: function_room}}\n"
        f"  - {{id: other-school, name: Other, ifc: ['{files[1]}']}}\n",
        encoding="utf-8",
    )
    c1, c2 = load_twin(cfg)
    assert c1.id == "t-school" and len(c1.buildings) == 2 and len(c2.buildings) == 1
    assert next(s for s in c1.spaces() if s.name == "A-103").room_type == "function_room"
    assert any(f"{tmp_path / 'b.yaml'}:2:5" == p.file and "Z-1" in p.message for p in c1.problems)
    assert {b.tags.campus for b in c2.bindings} == {"other-school"}
    table = binding_table([c1, c2])
    out = tmp_path / "bindings.json"
    table.save(out)
    assert BindingTable.load(out).bindings == table.bindings
    cfg.write_text("campuses:\n  - {id: x, name: x, ifc: []}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"twin.yaml:2:.*ifc"):
        load_twin(cfg)


def test_sensor_roles_from_profile_defaults_and_binding_file(small_campus_dir: Path, tmp_path: Path) -> None:
    """The generator writes the profile's default role (CampusTwin_Sensor.Role); a binding-file
    role (point, else device) beats it; the index answers point first, then device."""
    campus = _campus(small_campus_dir)
    bindings, _ = bind_campus(campus)
    roles = {(b.device, b.point): b.role for b in bindings}
    assert roles[("A-101-air", "co2")] == "wall" and roles[("A-101-air", "illuminance")] == "wall"
    assert roles[("A-101-occ", "occupancy")] is None  # no default for a presence point
    assert roles[("A-101-occ", "illuminance")] == "ceiling"  # Zigbee lux: a motion sensor's cell
    bf = tmp_path / "b.yaml"
    bf.write_text(
        "bindings:\n"
        "  - {device: A-101-air, point: illuminance, room: A-101, role: desk}\n"
        "  - {device: A-101-occ, room: A-101, role: ceiling}\n",
        encoding="utf-8",
    )
    bindings, _ = bind_campus(campus, bf)
    roles = {(b.device, b.point): b.role for b in bindings}
    assert roles[("A-101-air", "illuminance")] == "desk" and roles[("A-101-air", "co2")] == "wall"
    assert roles[("A-101-occ", None)] == "ceiling"  # the device entry replaces its IFC points
    idx = BindingIndex(binding_table([Campus("t", "t", bindings=bindings)]))
    assert idx.role("t-school", "A-101-air", "illuminance") == "desk"
    assert idx.role("t-school", "A-101-occ", "illuminance") == "ceiling"
    assert idx.role("t-school", "nobody", "x") is None


def test_bad_role_in_binding_file_names_file_line(small_campus_dir: Path, tmp_path: Path) -> None:
    campus = _campus(small_campus_dir)
    bf = tmp_path / "b.yaml"
    bf.write_text(
        "bindings:\n  - {device: A-101-air, room: A-101}\n  - {device: A-101-occ, room: A-101, role: floor}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        bind_campus(campus, bf)
    msg = str(exc.value)
    assert f"{bf}:3:" in msg and "role" in msg and "desk" in msg


def test_campus_standards_settings_in_the_twin_config(small_campus_dir: Path, tmp_path: Path) -> None:
    """`campuses[].standards` (climate zone, bell level, calendar, timetable) reaches the campus,
    paths resolved against the config; an unknown zone or field is a ConfigError naming it."""
    cfg = tmp_path / "twin.yaml"
    files = sorted(small_campus_dir.glob("*.ifc"))
    cfg.write_text(
        "campuses:\n"
        f"  - {{id: t-school, name: 北方学校, ifc: ['{files[0]}'],\n"
        "     standards: {climate_zone: cold, school_level: primary, calendar: cal/district.yaml}}\n"
        f"  - {{id: other-school, name: Other, ifc: ['{files[1]}']}}\n",
        encoding="utf-8",
    )
    c1, c2 = load_twin(cfg)
    assert c1.standards is not None and c1.standards.climate_zone == "cold"
    assert c1.standards.school_level == "primary" and c1.standards.calendar == tmp_path / "cal/district.yaml"
    assert c2.standards is None  # the shipped defaults
    cfg.write_text(
        f"campuses:\n  - {{id: t, name: t, ifc: ['{files[0]}'], standards: {{climate_zone: tropical}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"campuses\[0\]\.standards\.climate_zone: 'tropical' is not one of"
    ):
        load_twin(cfg)
    cfg.write_text(
        f"campuses:\n  - {{id: t, name: t, ifc: ['{files[0]}'], standards: {{zone: cold}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"twin.yaml:2:.*standards"):
        load_twin(cfg)
