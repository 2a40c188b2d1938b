"""Every IFC regression case (tests/cases/ifc/<case>/) through every twin command, in process.

Per case: the loader's file-level diagnosis, no traceback and the expected exit code from
inspect, plans, types, bind and export, every space with geometry on a plan, and every written
sensor inside its space — checked with ifcopenshell geometry and a ray-parity test written here,
independently of twin.sensor_placement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element as ue
import ifcopenshell.util.placement
import ifcopenshell.util.unit as uu
import numpy as np
import pytest

from campus_twin.cli import main
from tests.twin.ifc_variants import SHARED_IFC, case_dirs, load_case, materialise
from twin.floorplan import compute_plans
from twin.ifc_loader import load_ifc
from twin.model import Campus
from twin.rooms import load_rules, type_rooms

CASES = case_dirs()
# a campus set or a native crash is read by the API (tests/twin/test_ifc_api_campuses.py)
FILE_CASES = [c for c in CASES if not {"campus_set", "crash"} & set(load_case(c))]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))  # an exception escaping here is the traceback a user would see
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def _twin_config(tmp: Path, ifc: Path, spaces: list[tuple[str, str]]) -> Path:
    """A one-campus twin config binding one CO2 point per space (by GlobalId)."""
    lines = ["bindings:"] + [
        f"  - {{device: d{i}, point: co2, space: '{gid}'}}" for i, (gid, _) in enumerate(spaces)
    ]
    if not spaces:
        lines = ["bindings: []"]
    (tmp / "bindings.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = tmp / "twin.yaml"
    cfg.write_text(
        f"campuses:\n  - {{id: case, name: case, ifc: ['{ifc}'], bindings: bindings.yaml}}\n"
        f"cache_dir: {tmp / 'cache'}\n",
        encoding="utf-8",
    )
    return cfg


def _world_mesh(shape: Any) -> tuple[np.ndarray, np.ndarray]:
    verts = np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)
    faces = np.asarray(shape.geometry.faces, dtype=np.int64).reshape(-1, 3)
    return verts, faces


def _inside(point: np.ndarray, verts: np.ndarray, faces: np.ndarray) -> bool:
    """Ray-parity point-in-solid test (Möller–Trumbore), ray slightly off vertical to dodge edges."""
    d = np.array([0.0123, 0.0217, 1.0])
    tri = verts[faces]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    t = point - tri[:, 0]
    u = np.einsum("ij,ij->i", t, p) * inv
    q = np.cross(t, e1)
    v = (q @ d) * inv
    dist = np.einsum("ij,ij->i", e2, q) * inv
    hits = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (dist > 0)
    return bool(hits.sum() % 2 == 1)


def check_sensors_inside(path: Path, expected: int | None, predefined: str | None = "CO2SENSOR") -> None:
    """Every CampusTwin sensor's world position lies inside its containing space's solid, with a
    body, the PredefinedType of its quantity (`predefined`, or any but NOTDEFINED when None) and,
    on IFC2X3, one owner history naming campus-twin."""
    f = ifcopenshell.open(str(path))
    scale = uu.calculate_unit_scale(f)
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    sensors = [
        e for e in f.by_type("IfcDistributionControlElement") if "CampusTwin_Sensor" in ue.get_psets(e)
    ]
    assert len(sensors) == expected if expected is not None else sensors
    for el in sensors:
        space = ue.get_container(el)
        assert space is not None and space.is_a("IfcSpace")
        pos = ifcopenshell.util.placement.get_local_placement(el.ObjectPlacement)[:3, 3] * scale
        assert el.ObjectPlacement.PlacementRelTo == space.ObjectPlacement  # relative to its space
        verts, faces = _world_mesh(ifcopenshell.geom.create_shape(settings, space))
        assert _inside(pos, verts, faces), f"{el.Name} at {pos} outside space {space.Name}"
        assert el.Representation is not None  # a body viewers can show
        body = _world_mesh(ifcopenshell.geom.create_shape(settings, el))[0]
        assert np.allclose(body.mean(axis=0), pos, atol=0.05)
        typed = ue.get_type(el).PredefinedType if f.schema == "IFC2X3" else el.PredefinedType
        assert typed == predefined if predefined else typed != "NOTDEFINED"
        if f.schema == "IFC2X3":
            assert el.OwnerHistory.OwningApplication.ApplicationIdentifier == "campus-twin"
    if f.schema == "IFC2X3" and sensors:
        ours = {e.OwnerHistory.id() for e in sensors}
        assert len(ours) == 1  # one owner history for the whole change


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.name for c in FILE_CASES])
def test_ifc_case(case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect: dict[str, Any] = load_case(case)["expect"]
    path = materialise(case, tmp_path)
    lf = load_ifc(path, "case")
    kinds = [p.kind for p in lf.problems if p.kind]
    assert kinds == ([expect["kind"]] if "kind" in expect else [])
    if "schema" in expect:
        assert next(p.schema for p in lf.problems if p.kind) == expect["schema"]
    if "line" in expect:  # the problem names the line where the body breaks
        assert f"line {expect['line']}" in next(p.message for p in lf.problems if p.kind)
    if "problem" in expect:  # listed (by inspect --geometry too), naming every object involved
        lfg = load_ifc(path, "case", geometry=True)
        (msg,) = [p.message for p in lfg.problems if expect["problem"] in p.message]
        assert expect["problem"] in _run(capsys, "twin", "inspect", str(path), "--geometry")[1]
        assert all(n in msg for n in expect.get("names", [])), msg
    spaces = [s for b in lf.buildings for s in b.all_spaces()]
    if "spaces" in expect:
        assert len(spaces) == expect["spaces"]
    if expect.get("no_orphans"):
        assert not any("orphan" in p.message or "without a storey" in p.message for p in lf.problems)
    if "area_source" in expect:
        assert {s.quantity_source for s in spaces} == {expect["area_source"]}
    if "types" in expect:
        campus = Campus("case", "case", buildings=lf.buildings)
        type_rooms(campus, load_rules())
        assert {s.name: s.room_type for s in spaces if s.name in expect["types"]} == expect["types"]

    rc = expect["rc"]
    assert _run(capsys, "twin", "inspect", str(path), "--json")[0] == rc["inspect"]
    got_rc, _, err = _run(capsys, "twin", "plans", str(path), "--out", str(tmp_path / "plans"))
    assert got_rc == rc["plans"]
    if got_rc:
        assert expect["kind"] in err
    assert _run(capsys, "twin", "types", str(path), "--unmatched")[0] == rc["types"]

    if "plan_spaces" in expect:
        plans = compute_plans(path)
        drawn = {s.global_id for p in plans for s in p.spaces}
        f = ifcopenshell.open(str(path))
        with_geometry = {s.GlobalId for s in f.by_type("IfcSpace") if s.Representation is not None}
        assert drawn == with_geometry and len(drawn) == expect["plan_spaces"]
        warnings = [w for p in plans for w in p.warnings]
        assert len(warnings) == expect.get("overlap_warnings", 0), warnings
        svgs = sorted((tmp_path / "plans").glob("*.svg"))
        assert len(svgs) == len(plans)  # one file per plan, every name a plain file name
        for plan in plans:  # the real storey name is kept inside the SVG
            assert any(f"<title>{plan.name}</title>" in p.read_text(encoding="utf-8") for p in svgs)

    bound = [(s.global_id, s.room_number) for s in spaces]
    cfg = _twin_config(tmp_path, path, bound)
    _run(capsys, "twin", "bind", str(cfg), "--out", str(tmp_path / "bindings.json"))
    got_rc, _, err = _run(capsys, "twin", "export", str(cfg), "--out", str(tmp_path / "out"))
    assert got_rc == rc["export"], err
    if "export_kind" in expect:
        assert expect["export_kind"] in err
    if got_rc == 0:  # every sensor written is inside its room; refused ones are named
        check_sensors_inside(tmp_path / "out" / "case" / path.name, expect.get("sensors_written", len(bound)))
        for name in expect.get("refused", []):
            assert f"space {name!r} has no floor area" in err


def test_inspect_json_lists_file_problem_structured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc2 = materialise(next(c for c in CASES if c.name == "ifc4x3-rc2"), tmp_path)
    good = materialise(next(c for c in CASES if c.name == "storey-slash"), tmp_path)
    rc, out, _ = _run(capsys, "twin", "inspect", str(rc2), str(good), "--json")
    assert rc == 0  # the other file was inspected
    doc = json.loads(out)
    (problem,) = [p for p in doc["problems"] if p["kind"]]
    assert problem == {
        "file": str(rc2),
        "entity": None,
        "message": problem["message"],
        "kind": "unsupported_schema",
        "schema": "IFC4X3_RC2",
    }
    assert sum(len(st["spaces"]) for b in doc["buildings"] for st in b["storeys"]) == 2


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3", "IFC4X3"])
def test_generated_campus_sensors_land_inside(small_spec: Any, tmp_path: Path, schema: str) -> None:
    from twin.binding import bind_campus
    from twin.generator import generate_campus
    from twin.ifc_loader import load_campus
    from twin.writeback import export_ifc

    files = [g.path for g in generate_campus(small_spec, tmp_path / "src", schema=schema)]
    campus = load_campus("t-school", "T", files)
    bindings, _ = bind_campus(campus, None)
    for src in files:
        r = export_ifc(src, tmp_path / "out" / src.name, bindings)
        assert r.warnings == ()
        check_sensors_inside(tmp_path / "out" / src.name, r.sensors_written, predefined=None)


def test_export_refuses_binding_errors_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = materialise(next(c for c in CASES if c.name == "storey-slash"), tmp_path)
    (tmp_path / "bindings.yaml").write_text(
        "bindings:\n  - {device: d1, point: co2, room: A-101}\n  - {device: d2, point: co2, room: NOPE}\n",
        encoding="utf-8",
    )
    cfg = tmp_path / "twin.yaml"
    cfg.write_text(
        f"campuses:\n  - {{id: c, name: c, ifc: ['{path}'], bindings: bindings.yaml}}\n", encoding="utf-8"
    )
    rc, _, err = _run(capsys, "twin", "export", str(cfg), "--out", str(tmp_path / "out"))
    assert rc == 1 and "NOPE" in err and "--force" in err
    assert not (tmp_path / "out").exists()
    rc, out, _ = _run(capsys, "twin", "export", str(cfg), "--out", str(tmp_path / "out"), "--force")
    assert rc == 0 and "1 sensors for 1 bindings" in out
    check_sensors_inside(tmp_path / "out" / "c" / path.name, 1)


SHARED_FILES = sorted(SHARED_IFC.glob("*.ifc"))


@pytest.mark.parametrize(
    "source", [*SHARED_FILES, "generated"], ids=[*(p.name for p in SHARED_FILES), "generated"]
)
def test_every_sample_through_every_command(
    source: Path | str, small_spec: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file in ../shared/ifc (whatever is added there) and the generated campus: every
    command succeeds, every space with geometry is drawn, every written sensor is inside."""
    if source == "generated":
        from twin.generator import generate_campus

        (g,) = generate_campus(small_spec, tmp_path / "src", per_building=False)
        path = g.path
        check_sensors_inside(path, g.sensors, predefined=None)  # the generator's own sensors too
    else:
        path = Path(source)
    for argv in (["inspect", "--json"], ["types", "--unmatched"]):
        assert _run(capsys, "twin", argv[0], str(path), *argv[1:])[0] == 0
    assert _run(capsys, "twin", "plans", str(path), "--out", str(tmp_path / "plans"))[0] == 0
    plans = compute_plans(path)
    f = ifcopenshell.open(str(path))
    assert {s.global_id for p in plans for s in p.spaces} == {
        s.GlobalId for s in f.by_type("IfcSpace") if s.Representation is not None
    }
    spaces = [s for b in load_ifc(path, "case").buildings for s in b.all_spaces()]
    cfg = _twin_config(tmp_path, path, [(s.global_id, s.room_number) for s in spaces])
    assert _run(capsys, "twin", "bind", str(cfg), "--out", str(tmp_path / "bindings.json"))[0] == 0
    assert _run(capsys, "twin", "export", str(cfg), "--out", str(tmp_path / "out"))[0] == 0
    if source == "generated":  # its own IfcSensors are bound and written back too
        check_sensors_inside(tmp_path / "out" / "case" / path.name, None, predefined=None)
    else:
        check_sensors_inside(tmp_path / "out" / "case" / path.name, len(spaces))


def test_export_of_a_campus_with_a_good_file_and_a_zip_without_ifc_writes_the_good_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = materialise(next(c for c in CASES if c.name == "storey-slash"), tmp_path)
    empty = materialise(next(c for c in CASES if c.name == "zip-without-ifc"), tmp_path)
    (tmp_path / "bindings.yaml").write_text(
        "bindings:\n  - {device: d1, point: co2, room: A-101}\n", encoding="utf-8"
    )
    cfg = tmp_path / "twin.yaml"
    cfg.write_text(
        f"campuses:\n  - {{id: c, name: c, ifc: ['{good}', '{empty}'], bindings: bindings.yaml}}\n",
        encoding="utf-8",
    )
    rc, out, err = _run(capsys, "twin", "export", str(cfg), "--out", str(tmp_path / "out"))
    assert rc == 1 and f"not exported: {empty}: no_model" in err
    check_sensors_inside(tmp_path / "out" / "c" / good.name, 1)
    rc, out, err = _run(capsys, "twin", "bind", str(cfg), "--out", str(tmp_path / "b.json"))
    assert rc == 0 and "1 bindings" in out and "no_model" in err


def test_an_unforeseen_error_reading_a_model_is_a_listed_file_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt export with colliding entity ids raised AttributeError deep in the loader:
    logged as a traceback, 0 rooms and no file-level problem."""
    import twin.ifc_loader

    path = materialise(next(c for c in CASES if c.name == "storey-slash"), tmp_path)

    def collide(self: object) -> list[object]:
        raise AttributeError("entity instance of type 'IfcWall' has no attribute 'LongName'")

    monkeypatch.setattr(twin.ifc_loader._FileLoader, "load", collide)
    lf = load_ifc(path, "x")
    (p,) = [p for p in lf.problems if p.kind]
    assert p.kind == "unreadable" and "AttributeError" in p.message and lf.buildings == []
    rc, _, err = _run(capsys, "twin", "types", str(path))
    assert rc == 1 and "unreadable" in err


def test_inspect_json_into_a_closed_pipe_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`twin inspect --json | head`: the reader leaves, the command ends without a traceback."""
    import os
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader (head) is gone
    with open(write, "w", encoding="utf-8", buffering=1) as closed:  # as a terminal would flush
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["twin", "inspect", str(SHARED_IFC / "AC20-FZK-Haus.ifc"), "--json"]) == 141
    assert "Traceback" not in capsys.readouterr().err
