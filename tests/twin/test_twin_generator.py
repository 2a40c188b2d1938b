"""The generated campus, checked with bare ifcopenshell (independent of the twin loader)."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element as ue
import pytest

from contract.campus import CampusSpec, devices_of, expand
from twin.generator import SENSOR_PSET, generate_campus
from twin.sensor_kinds import quantities_for


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
    expected = {
        (d.id, q) for d in devices_of(expand(small_spec)) for q in quantities_for(d.profile, d.quantities)
    }
    found = set()
    for f in files:
        for sensor in f.by_type("IfcSensor"):
            pset = ue.get_psets(sensor)[SENSOR_PSET]
            space = sensor.ContainedInStructure[0].RelatingStructure
            assert space.is_a("IfcSpace")
            assert pset["DeviceId"].startswith(space.Name + "-")
            assert pset["Site"] == "t-school"
            found.add((pset["DeviceId"], pset["Quantity"]))
            if pset["Quantity"] == "co2":
                assert sensor.PredefinedType == "CO2SENSOR"
            if pset["Quantity"] == "pm25":
                assert (sensor.PredefinedType, sensor.ObjectType) == ("USERDEFINED", "PM25")
    assert found == expected


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
