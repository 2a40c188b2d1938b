"""The generated campus, checked with bare ifcopenshell (independent of the twin loader)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ifcopenshell
import ifcopenshell.util.element as ue
import pytest

from contract.campus import CampusSpec, devices_of, expand
from contract.telemetry import CANONICAL_UNITS
from contract.yamlio import ConfigError
from device_profiles.loader import load_library
from edge_agent.config import Subscription
from edge_agent.sources.mqtt.formats import decode
from simulators import mqtt_formats
from twin.generator import SENSOR_PSET, build_campus_model, generate_campus
from twin.sensor_kinds import MQTT_POINTS

T_NS = 1_795_000_000 * 10**9
TZ = ZoneInfo("Asia/Shanghai")


def _expected_points(spec: CampusSpec) -> set[tuple[str, str, str]]:
    """(device, point, quantity) written by hand from the library profiles and the agent's keys."""
    library = load_library()
    out = set()
    for d in devices_of(expand(spec)):
        if d.protocol == "modbus":
            assert d.profile is not None
            out |= {(d.id, p.name, str(p.quantity)) for p in library[d.profile].points if p.quantity}
        else:
            for q in d.quantities:
                out.add((d.id, q, "presence" if q == "occupancy" else q))
    return out


def _open_all(folder: Path) -> list[ifcopenshell.file]:
    return [ifcopenshell.open(str(p)) for p in sorted(folder.glob("*.ifc"))]


def test_hierarchy_and_names_match_the_spec(small_spec: CampusSpec, small_campus_dir: Path) -> None:
    files = _open_all(small_campus_dir)
    assert [f.schema for f in files] == ["IFC4", "IFC4"]
    rooms = {r.number: r for r in expand(small_spec)}
    spaces = [s for f in files for s in f.by_type("IfcSpace")]
    assert sorted(s.Name for s in spaces) == sorted(rooms)
    for s in spaces:
        room = rooms[s.Name]
        assert s.LongName == room.name_zh
        assert s.ObjectType == room.type
        storey = s.Decomposes[0].RelatingObject
        assert storey.is_a("IfcBuildingStorey")
        assert storey.Elevation == pytest.approx(room.elevation_m)
        building = storey.Decomposes[0].RelatingObject
        assert building.Name == room.building
    for f in files:
        (site,) = f.by_type("IfcSite")
        assert site.Name == "t-school" and site.LongName.startswith("测试学校")
    assert sum(len(f.by_type("IfcBuildingStorey")) for f in files) == 3


def test_sensors_carry_the_pset_and_sit_in_their_room(small_spec: CampusSpec, small_campus_dir: Path) -> None:
    files = _open_all(small_campus_dir)
    expected = _expected_points(small_spec)
    found = set()
    for f in files:
        for sensor in f.by_type("IfcSensor"):
            pset = ue.get_psets(sensor)[SENSOR_PSET]
            space = sensor.ContainedInStructure[0].RelatingStructure
            assert space.is_a("IfcSpace")
            assert pset["DeviceId"].startswith(space.Name + "-")
            assert pset["Site"] == "t-school"
            found.add((pset["DeviceId"], pset["Point"], pset["Quantity"]))
            assert pset["Unit"] == CANONICAL_UNITS[pset["Quantity"]]
            assert sensor.Name == f"{pset['DeviceId']} {pset['Point']}"
            if pset["Quantity"] == "co2":
                assert sensor.PredefinedType == "CO2SENSOR"
            if pset["Quantity"] == "pm25":
                assert (sensor.PredefinedType, sensor.ObjectType) == ("USERDEFINED", "PM25")
    assert found == expected
    # the classroom air monitor's nine profile points, each its own IfcSensor
    assert {p for d, p, _ in found if d == "A-101-air"} == {
        "humidity", "temperature", "noise", "pm25", "pm10", "pressure", "illuminance", "co2", "tvoc"
    }  # fmt: skip
    assert ("A-101-occ", "occupancy", "presence") in found


def test_some_spaces_lack_quantities_and_smart_rooms_have_av_equipment(small_campus_dir: Path) -> None:
    with_qto = without = 0
    for f in _open_all(small_campus_dir):
        for s in f.by_type("IfcSpace"):
            qto = ue.get_psets(s, qtos_only=True).get("Qto_SpaceBaseQuantities")
            if qto:
                with_qto += 1
                assert qto["NetFloorArea"] > 0 and qto["Height"] > 0
            else:
                without += 1
            assert s.Representation is not None
            av = [
                e for r in s.ContainsElements for e in r.RelatedElements if e.is_a("IfcAudioVisualAppliance")
            ]
            assert bool(av) == (s.ObjectType == "smart_classroom")
    assert with_qto > without > 0


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4X3"])
def test_other_schemas_and_single_file(small_spec: CampusSpec, tmp_path: Path, schema: str) -> None:
    (g,) = generate_campus(small_spec, tmp_path, per_building=False, schema=schema)  # type: ignore[arg-type]
    f = ifcopenshell.open(str(g.path))
    assert f.schema == schema
    assert len(f.by_type("IfcBuilding")) == 2
    assert len(f.by_type("IfcSpace")) == g.spaces == len(expand(small_spec))
    assert len(f.by_type("IfcDistributionControlElement")) == g.sensors > 0


def test_unknown_schema_is_refused(small_spec: CampusSpec, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not supported"):
        generate_campus(small_spec, tmp_path, schema="IFC5")  # type: ignore[arg-type]


def _spec_with(device: dict[str, Any]) -> CampusSpec:
    return CampusSpec.model_validate(
        {
            "site": "t-gen",
            "name": "x",
            "buildings": [
                {
                    "id": "A",
                    "name": "a",
                    "floors": 1,
                    "rooms_per_floor": [{"type": "office", "name_zh": "办公室"}],
                },
                {
                    "id": "B",
                    "name": "b",
                    "floors": 1,
                    "rooms_per_floor": [
                        {"type": "library", "name_zh": "图书室"},
                        {"type": "physics_lab", "name_zh": "物理实验室", "devices": [device]},
                    ],
                },
            ],
        }
    )


def test_unknown_profile_names_building_room_template_and_profile(tmp_path: Path) -> None:
    spec = _spec_with({"key": "em", "profile": "acme-meter-9000"})
    with pytest.raises(ConfigError) as exc:
        generate_campus(spec, tmp_path)
    (msg,) = exc.value.problems
    assert "buildings[1] (building B) rooms_per_floor[1] (room template physics_lab 物理实验室)" in msg
    assert "devices[0] (key 'em')" in msg and "unknown device profile 'acme-meter-9000'" in msg
    assert "eastron-sdm630" in msg  # the known profiles are listed
    assert not list(tmp_path.iterdir())  # nothing written


def test_mqtt_quantity_the_format_cannot_carry_is_refused() -> None:
    spec = _spec_with({"key": "n", "protocol": "mqtt", "format": "tasmota", "quantities": ["noise"]})
    with pytest.raises(
        ConfigError, match=r"devices\[0\] \(key 'n'\): format tasmota cannot carry \['noise'\]"
    ):
        build_campus_model(spec)


def test_profiles_come_from_the_given_library_and_mqtt_without_quantities_binds_the_device() -> None:
    library = load_library()
    custom = {"my-meter": library["eastron-sdm120"].model_copy(update={"name": "my-meter"})}
    spec = _spec_with({"key": "em", "profile": "my-meter"})
    model, info = build_campus_model(spec, profiles=custom)
    points = sorted(ue.get_psets(s)[SENSOR_PSET]["Point"] for s in model.by_type("IfcSensor"))
    assert points == sorted(p.name for p in library["eastron-sdm120"].points)
    assert info.sensors == len(points) == 8
    with pytest.raises(ConfigError, match="unknown device profile 'my-meter'"):
        build_campus_model(spec)  # not in the built-in library

    bare = _spec_with({"key": "x", "protocol": "mqtt", "format": "zigbee2mqtt"})
    model, info = build_campus_model(bare)
    (sensor,) = model.by_type("IfcSensor")
    pset = ue.get_psets(sensor)[SENSOR_PSET]
    assert (pset["DeviceId"], pset["Site"]) == ("B-102-x", "t-gen")
    assert "Point" not in pset and "Quantity" not in pset
    assert info.sensors == 1


def _simulated_payload(fmt: str, device: str, quantity: str) -> tuple[str, bytes]:
    values = {quantity: 1.0}
    if fmt == "zigbee2mqtt":
        m = mqtt_formats.zigbee2mqtt(device, values, linkquality=100, battery=90)
    elif fmt == "tasmota":
        m = mqtt_formats.tasmota(device, values, t_ns=T_NS, tz=TZ)
    else:
        m = mqtt_formats.lorawan(
            device, values, site="t", t_ns=T_NS, f_cnt=1, dedup=uuid.UUID(int=1), rssi=-80, snr=7.5
        )
    return m.topic, m.payload


@pytest.mark.parametrize("fmt", sorted(MQTT_POINTS))
def test_mqtt_point_table_matches_the_agent_decoding_simulated_payloads(fmt: str) -> None:
    """Every (format, quantity) entry, through the simulators' encoder and the agent's decoder."""
    assert set(MQTT_POINTS[fmt]) == mqtt_formats.supported(fmt)  # type: ignore[arg-type]
    sub = Subscription(format=fmt)
    for quantity, (point, published, _role) in MQTT_POINTS[fmt].items():
        topic, payload = _simulated_payload(fmt, "A-101-s", quantity)
        out = decode(sub, topic, payload, T_NS, TZ)
        assert not out.problems
        assert [(s.device, s.point, s.quantity) for s in out.samples] == [("A-101-s", point, published)]
