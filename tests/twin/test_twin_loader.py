"""IFC loading: the shared public sample, generated campuses in every schema, messy files."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import pytest

from contract.campus import CampusSpec, expand
from tests.twin.messy_ifc import write_messy
from twin.ifc_loader import load_campus, load_ifc


def test_fzk_haus_counts_match_ifcopenshell(shared_ifc_dir: Path) -> None:
    path = shared_ifc_dir / "AC20-FZK-Haus.ifc"
    raw = ifcopenshell.open(str(path))
    stages: list[str] = []
    lf = load_ifc(path, "fzk", progress=lambda _p, stage, _d, _t: stages.append(stage))
    assert lf.schema == "IFC4" and lf.problems == []
    assert stages[0] == "open" and stages[-1] == "done" and "spaces" in stages
    (b,) = lf.buildings
    assert len(b.storeys) == len(raw.by_type("IfcBuildingStorey")) == 2
    spaces = b.all_spaces()
    assert len(spaces) == len(raw.by_type("IfcSpace")) == 7
    assert {s.global_id for s in spaces} == {s.GlobalId for s in raw.by_type("IfcSpace")}
    by_name = {s.long_name: s for s in spaces}
    assert set(by_name) == {"Schlafzimmer", "Bad", "Buero", "Wohnen", "Flur", "Küche", "Galerie"}
    # ArchiCAD writes the IFC2X3-style "BaseQuantities" set; the loader takes it over geometry
    assert by_name["Schlafzimmer"].area_m2 == pytest.approx(21.410325)
    assert by_name["Schlafzimmer"].quantity_source == "BaseQuantities"
    assert by_name["Schlafzimmer"].volume_m3 == pytest.approx(55.18125)
    assert [st.elevation_m for st in b.storeys] == pytest.approx([0.0, 2.7])
    assert "Pset_SpaceCommon" in by_name["Bad"].psets


def test_every_shared_sample_loads(shared_ifc_dir: Path) -> None:
    files = sorted(shared_ifc_dir.glob("*.ifc"))
    assert files
    for path in files:
        raw = ifcopenshell.open(str(path))
        lf = load_ifc(path, "any")
        spaces = [s for b in lf.buildings for s in b.all_spaces()]
        storeys = [st for b in lf.buildings for st in b.storeys]
        assert len(spaces) == len(raw.by_type("IfcSpace")), path
        assert len(storeys) == len(raw.by_type("IfcBuildingStorey")), path


@pytest.mark.parametrize("schema", ["IFC2X3", "IFC4", "IFC4X3"])
def test_generated_campus_in_each_schema(small_spec: CampusSpec, tmp_path: Path, schema: str) -> None:
    from twin.generator import generate_campus

    files = generate_campus(small_spec, tmp_path, schema=schema)  # type: ignore[arg-type]
    campus = load_campus("t-school", "Test", [g.path for g in files], geometry=True)
    assert campus.schema == schema and campus.problems == []
    rooms = {r.number: r for r in expand(small_spec)}
    spaces = {s.name: s for s in campus.spaces()}
    assert set(spaces) == set(rooms)
    no_qto = {n for g in files for n in g.spaces_without_qto}
    assert no_qto
    for number, s in spaces.items():
        r = rooms[number]
        assert s.area_m2 == pytest.approx(r.area_m2, rel=1e-6)
        assert s.height_m == pytest.approx(r.height_m, rel=1e-6)
        assert s.volume_m3 == pytest.approx(r.area_m2 * r.height_m, rel=1e-6)
        assert s.quantity_source == ("geometry" if number in no_qto else "Qto_SpaceBaseQuantities")
        assert {x["device_id"] for x in s.sensors} == {d.id for d in r.devices}
    b = next(b for b in campus.buildings if b.name == "A")
    assert [st.elevation_m for st in b.storeys] == pytest.approx([0.0, 3.9])


def test_messy_file_loads_everything_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "messy.ifc"
    ids = write_messy(path)
    lf = load_ifc(path, "m", geometry=True)
    assert lf.schema == "IFC4"
    all_spaces = {s.global_id: s for b in lf.buildings for s in b.all_spaces()}
    assert set(all_spaces) == set(ids.values())  # nothing dropped
    msgs: dict[str | None, str] = {}
    for p in lf.problems:
        msgs[p.entity] = msgs.get(p.entity, "") + p.message + "; "
    assert "no Name" in msgs[ids["no_name"]]
    no_name = all_spaces[ids["no_name"]]
    assert no_name.room_number == ids["no_name"] and no_name.area_m2 is None
    assert any(p.entity == ids["no_name"] and "area unknown" in p.message for p in lf.problems)
    assert "without a storey" in msgs[ids["on_building"]]
    assert "nested in space 'M-101'" in msgs[ids["nested"]]
    (m,) = [b for b in lf.buildings if b.name == "M"]
    eg = m.storeys[0]
    assert eg.elevation_m == pytest.approx(3.0)  # 3000 mm
    assert ids["nested"] in {s.global_id for s in eg.spaces}  # nested space found under its storey
    assert [s.global_id for s in m.spaces_without_storey] == [ids["on_building"]]
    orphan = next(b for b in lf.buildings if b.global_id.startswith("unassigned:"))
    assert [s.global_id for s in orphan.all_spaces()] == [ids["in_orphan"]]
    assert any("not part of any IfcBuilding" in p.message for p in lf.problems)
    normal = all_spaces[ids["normal"]]
    assert normal.area_m2 == pytest.approx(20.0) and normal.quantity_source == "geometry"
    assert normal.zones == ["Science wing"]
    assert all_spaces[ids["on_building"]].classifications == ["Uniclass:SL_20_15:Office spaces"]


def test_messy_ifc2x3(tmp_path: Path) -> None:
    path = tmp_path / "messy2x3.ifc"
    ids = write_messy(path, "IFC2X3")
    lf = load_ifc(path, "m")
    assert lf.schema == "IFC2X3"
    got = {s.global_id for b in lf.buildings for s in b.all_spaces()}
    assert got == set(ids.values())
    assert any("without a storey" in p.message for p in lf.problems)


def test_unreadable_and_empty_files_are_problems_not_crashes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ifc"
    bad.write_text("this is not IFC")
    lf = load_ifc(bad, "x")
    assert lf.buildings == [] and lf.problems[0].kind == "not_ifc"
    assert "cannot use IFC file" in lf.problems[0].message
    missing = load_ifc(tmp_path / "nope.ifc", "x")
    assert missing.problems[0].kind == "missing"
    campus = load_campus("x", "x", [bad, tmp_path / "nope.ifc"])
    assert len(campus.problems) == 2 and campus.spaces() == []


def test_same_file_twice_reports_duplicate_global_ids(small_campus_dir: Path) -> None:
    path = sorted(small_campus_dir.glob("*.ifc"))[0]
    campus = load_campus("x", "x", [path, path])
    dups = [p for p in campus.problems if f"is also in {path}" in p.message]
    assert len(dups) == len(ifcopenshell.open(str(path)).by_type("IfcSpace"))
