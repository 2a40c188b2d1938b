"""Write-back round trip, latest values from a real SQLite store, floor plans, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element as ue
import pytest

from contract.bindings import Binding
from contract.telemetry import SeriesKey
from store.base import StoredPoint
from store.sqlite import SQLiteStore
from twin.binding import bind_campus
from twin.floorplan import floor_plans, storey_svg
from twin.ifc_loader import load_campus
from twin.model import Campus
from twin.rooms import load_rules, type_rooms
from twin.writeback import export_ifc

TS = 1_795_000_000_000_000_000


def _bound(files: list[Path], binding_file: Path | None = None) -> tuple[Campus, list[Binding]]:
    c = load_campus("t-school", "T", files)
    type_rooms(c, load_rules())
    bindings, _ = bind_campus(c, binding_file)
    return c, bindings


def _keyset(bindings: list[Binding]) -> list[tuple[object, ...]]:
    return sorted(
        (b.site, b.device, b.point or "", b.tags.room, b.tags.room_number, b.role or "") for b in bindings
    )


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3"])
def test_round_trip_generated_bind_export_reopen(small_spec: object, tmp_path: Path, schema: str) -> None:
    from twin.generator import generate_campus

    files = [g.path for g in generate_campus(small_spec, tmp_path / "src", schema=schema)]  # type: ignore[arg-type]
    bf = tmp_path / "b.yaml"
    bf.write_text(
        "bindings:\n  - {device: A-101-air, room: A-102}\n  - {device: LUX-9, point: illuminance, room: B-102}\n",
        encoding="utf-8",
    )
    _, bindings = _bound(files, bf)
    out = [tmp_path / "out" / p.name for p in files]
    results = [export_ifc(src, dst, bindings) for src, dst in zip(files, out, strict=True)]
    assert sum(r.bindings_written for r in results) == len(bindings)
    _, again = _bound(out)
    assert _keyset(again) == _keyset(bindings)
    # the moved device kept its quantities (typed sensors), now in A-102
    f = ifcopenshell.open(str(out[0]))
    moved = [
        e
        for e in f.by_type("IfcDistributionControlElement")
        if ue.get_psets(e)["CampusTwin_Sensor"]["DeviceId"] == "A-101-air"
    ]
    assert {e.ContainedInStructure[0].RelatingStructure.Name for e in moved} == {"A-102"}
    assert len(moved) == 9  # the classroom-air-monitor profile's points
    # re-exporting the export changes nothing (old sensors replaced, not duplicated)
    twice = tmp_path / "twice.ifc"
    r2 = export_ifc(out[0], twice, bindings)
    assert r2.sensors_removed == r2.sensors_written == results[0].sensors_written
    _, third = _bound([twice, out[1]])
    assert _keyset(third) == _keyset(bindings)


def test_latest_values_from_store(small_campus_dir: Path, tmp_path: Path) -> None:
    files = sorted(small_campus_dir.glob("*.ifc"))
    _, bindings = _bound(files)
    store = SQLiteStore(tmp_path / "s.db")
    try:
        pts = [
            StoredPoint(SeriesKey("t-school", "A-101-air", "co2"), TS, 800.0, "co2", "ppm"),
            StoredPoint(SeriesKey("t-school", "A-101-air", "co2"), TS + 60_000_000_000, 812.5, "co2", "ppm"),
            StoredPoint(SeriesKey("t-school", "A-101-air", "temperature"), TS, 23.4, "temperature", "°C"),
        ]
        store.write(pts)
        export_ifc(files[0], tmp_path / "a.ifc", bindings, store)
    finally:
        store.close()
    f = ifcopenshell.open(str(tmp_path / "a.ifc"))
    psets = [ue.get_psets(e)["CampusTwin_Sensor"] for e in f.by_type("IfcSensor")]
    air = {p["Point"]: p for p in psets if p["DeviceId"] == "A-101-air"}
    # point-level bindings from the generated IfcSensors: every profile point stays, the ones
    # the store has data for carry their latest value
    assert set(air) == {
        "humidity",
        "temperature",
        "noise",
        "pm25",
        "pm10",
        "pressure",
        "illuminance",
        "co2",
        "tvoc",
    }
    assert air["co2"]["LatestValue"] == pytest.approx(812.5)
    assert air["co2"]["LatestTime"] == "2026-11-18T11:07:40+00:00"
    assert air["temperature"]["LatestValue"] == pytest.approx(23.4)
    assert "LatestValue" not in air["noise"]
    assert "BindingLevel" not in air["co2"] and air["co2"]["Unit"] == "ppm"
    co2 = next(e for e in f.by_type("IfcSensor") if e.Name == "A-101-air co2")
    assert co2.PredefinedType == "CO2SENSOR"
    others = [p for p in psets if p["DeviceId"] != "A-101-air"]
    assert others and all("LatestValue" not in p for p in others)
    _, again = _bound([tmp_path / "a.ifc", files[1]])
    assert _keyset(again) == _keyset(bindings)


def test_floor_plans_cached_in_storey_coordinates(small_campus_dir: Path, tmp_path: Path) -> None:
    src = next(p for p in small_campus_dir.glob("*-B.ifc"))
    path = tmp_path / src.name
    shutil.copy(src, path)
    cache = tmp_path / "cache"
    plans = floor_plans(path, cache)
    (plan,) = plans  # building B has one storey
    by_name = {s.name: s for s in plan.spaces}
    lab = by_name["B-101"]  # 12 x 8 m at the storey origin, although building B sits at y=30
    xs = [p[0] for p in lab.outlines[0]]
    ys = [p[1] for p in lab.outlines[0]]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((0, 12, 0, 8))
    assert lab.area_m2 == pytest.approx(96.0)
    assert len(list(cache.glob("*.json"))) == 1
    assert floor_plans(path, cache) == plans  # served from cache
    svg = storey_svg(plan, {lab.global_id: "comfort-bad"})
    assert svg.count("<path") == 2 and 'class="comfort-bad"' in svg and "B-101" in svg
    with open(path, "ab") as fh:  # a changed file gets a new cache entry
        fh.write(b"\n")
    floor_plans(path, cache)
    assert len(list(cache.glob("*.json"))) == 2


def test_cli_inspect_json_shape(shared_ifc_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from campus_twin.cli import main

    assert main(["twin", "inspect", "--json", str(shared_ifc_dir / "AC20-FZK-Haus.ifc")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"schema", "buildings", "problems"} and doc["schema"] == "IFC4"
    (b,) = doc["buildings"]
    assert set(b) == {"global_id", "name", "storeys"}
    assert [len(st["spaces"]) for st in b["storeys"]] == [6, 1]
    st = b["storeys"][0]
    assert set(st) == {"global_id", "name", "elevation", "spaces"}
    sp = next(s for s in st["spaces"] if s["long_name"] == "Buero")
    assert set(sp) == {"global_id", "name", "long_name", "room_type", "area_m2", "evidence"}
    assert sp["room_type"] == "office"
    assert sp["evidence"] == [{"rule": "name-office", "attribute": "LongName", "value": "Buero"}]


def test_cli_generate_bind_export(
    demo_spec: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from campus_twin.cli import main
    from contract.bindings import BindingTable
    from tests.twin.tests_paths import DEMO_SPEC_PATH

    assert main(["twin", "generate", str(DEMO_SPEC_PATH), "--out", str(tmp_path / "ifc")]) == 0
    cfg = tmp_path / "twin.yaml"
    cfg.write_text(
        "campuses:\n  - id: sz-demo-school\n    name: 示范中学\n"
        "    ifc: [ifc/sz-demo-school-A.ifc, ifc/sz-demo-school-B.ifc]\n"
        f"    devices: {DEMO_SPEC_PATH}\n",
        encoding="utf-8",
    )
    assert main(["twin", "bind", str(cfg), "--out", str(tmp_path / "b.json")]) == 0
    table = BindingTable.load(tmp_path / "b.json")
    from contract.campus import devices_of, expand

    assert {b.device for b in table.bindings} == {d.id for d in devices_of(expand(demo_spec))}  # type: ignore[arg-type]
    assert (
        main(
            ["twin", "export", str(cfg), "--out", str(tmp_path / "x"), "--bindings", str(tmp_path / "b.json")]
        )
        == 0
    )
    assert (tmp_path / "x" / "sz-demo-school" / "sz-demo-school-A.ifc").is_file()
    cfg.write_text(cfg.read_text(encoding="utf-8") + "    bindings: nope.yaml\n", encoding="utf-8")
    assert main(["twin", "bind", str(cfg), "--out", str(tmp_path / "b2.json")]) == 2  # ConfigError
    assert "nope.yaml" in capsys.readouterr().err
