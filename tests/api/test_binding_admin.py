"""Commissioning's binding endpoints: devices reporting without a room, rooms without a sensor,
rebinding with its audit line (who, when, from, to) kept across a restart, the IFC copy
rewritten, and viewers refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element as ue
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import LoadedTwin
from campus_twin.cli import main
from contract.telemetry import SeriesKey
from store.base import StoredPoint
from store.sqlite import SQLiteStore
from tests.api.api_seed import NOW_NS, VIEWER_TOKEN, FixedClock, make_settings, seed_store

V1 = "/api/v1"
SITE = "sz-demo-school"
NEW = "LIB-air-1"  # a sensor installed in the library, reporting before anyone bound it


@pytest.fixture
def setup(tmp_path: Path, twin_dir: Path, loaded: LoadedTwin) -> Iterator[tuple[Path, SQLiteStore]]:
    """A copy of the twin (rebinding edits its binding file) and a store with one unbound device."""
    d = tmp_path / "twin"
    shutil.copytree(twin_dir, d, ignore=shutil.ignore_patterns("*.sqlite*", "ifc"))
    store = SQLiteStore(tmp_path / "s.sqlite")
    seed_store(store, loaded.campuses[0], hours=1)
    store.write(
        [
            StoredPoint(
                key=SeriesKey(SITE, NEW, q),
                ts=NOW_NS - 60 * 10**9,
                value=v,
                quantity=q,
                unit=u,
                agent="gw-B",
                tags={},
            )
            for q, v, u in (("co2", 812.0, "ppm"), ("temperature", 21.5, "°C"))
        ]
    )
    yield d, store
    store.close()


def _app(d: Path, store: SQLiteStore, **extra: object) -> TestClient:
    return TestClient(create_app(make_settings(d, **extra), store=store, clock=FixedClock()))


@pytest.mark.slow  # writes a real IFC copy of a building
def test_unbound_devices_rooms_without_sensors_and_audit(
    setup: tuple[Path, SQLiteStore], admin: dict[str, str], tmp_path: Path
) -> None:
    d, store = setup
    audit_file = tmp_path / "audit.jsonl"
    out = tmp_path / "ifc-out"
    with _app(d, store, binding_audit_file=audit_file, ifc_export=out) as c:
        unbound = c.get(f"{V1}/admin/devices/unbound", headers=admin).json()
        assert [x["id"] for x in unbound["items"]] == [NEW], unbound
        row = unbound["items"][0]
        assert row["points"] == ["co2", "temperature"] and row["agent"] == "gw-B" and not row["stale"]
        empty = c.get(f"{V1}/admin/rooms/without-sensors", headers=admin, params={"campus": SITE}).json()
        assert sorted(r["number"] for r in empty["items"]) == ["B-104", "B-204"]  # the libraries
        library = next(r for r in empty["items"] if r["number"] == "B-104")
        r = c.put(f"{V1}/admin/bindings/{SITE}/{NEW}", headers=admin, json={"room": "B-104"})
        assert r.status_code == 200, r.text
        line = r.json()["audit"]
        assert line["by"] == "ops" and line["at"].startswith("2026-11-23T10:20")
        assert line["room_number"] == "B-104" and line["previous_room"] is None
        # in effect at once: no longer unbound, the library has its sensor, its plan shows it
        assert c.get(f"{V1}/admin/devices/unbound", headers=admin).json()["items"] == []
        empty = c.get(f"{V1}/admin/rooms/without-sensors", headers=admin, params={"campus": SITE}).json()
        assert [r["number"] for r in empty["items"]] == ["B-204"]
        plan = c.get(f"{V1}/storeys/{library['storey']}/floorplan", headers=admin).json()
        assert NEW in next(x for x in plan["rooms"] if x["id"] == library["id"])["devices"]
        status = c.get(f"{V1}/rooms/{library['id']}/status", headers=admin).json()
        assert {v["quantity"] for v in status["values"]} >= {"co2", "temperature"}
        # moved on: the second line names where it came from
        r = c.put(f"{V1}/admin/bindings/{SITE}/{NEW}", headers=admin, json={"room": "B-204"})
        assert r.json()["audit"]["previous_room_number"] == "B-104"
        # the binding file says who and when; the IFC copy of building B carries the sensor
        text = (d / "bindings.yaml").read_text(encoding="utf-8")
        assert f"device: {NEW}" in text and "# bound by ops at 2026-11-23T10:20" in text
        assert r.json()["audit"]["ifc_files"] == [str(out / SITE / "sz-demo-school-B.ifc")]
        f = ifcopenshell.open(str(out / SITE / "sz-demo-school-B.ifc"))
        mine = [s for s in f.by_type("IfcSensor") if s.Tag == NEW]
        assert {ue.get_psets(s)["CampusTwin_Sensor"]["Point"] for s in mine} == {"co2", "temperature"}
        assert {ue.get_container(s).Name for s in mine} == {"B-204"}
        audit = c.get(f"{V1}/admin/bindings/audit", headers=admin, params={"device": NEW}).json()
        assert [(a["room_number"], a["previous_room_number"]) for a in audit["items"]] == [
            ("B-204", "B-104"),
            ("B-104", None),
        ]
    # the audit survives a restart (append-only JSON lines)
    assert len(audit_file.read_text(encoding="utf-8").splitlines()) == 2
    with _app(d, store, binding_audit_file=audit_file) as c:
        audit = c.get(f"{V1}/admin/bindings/audit", headers=admin, params={"room": "B-104"}).json()
        assert audit["total"] == 2 and audit["items"][0]["by"] == "ops"
    # `twin export` binds from the twin config now: the edited binding file carries the move
    assert main(["twin", "export", str(d / "twin.yaml"), "--out", str(tmp_path / "cli-out")]) == 0
    f = ifcopenshell.open(str(tmp_path / "cli-out" / SITE / "sz-demo-school-B.ifc"))
    assert {ue.get_container(s).Name for s in f.by_type("IfcSensor") if s.Tag == NEW} == {"B-204"}


def test_viewers_are_refused(setup: tuple[Path, SQLiteStore]) -> None:
    d, store = setup
    viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    with _app(d, store) as c:
        for method, path in (
            ("GET", "/admin/devices/unbound"),
            ("GET", "/admin/rooms/without-sensors"),
            ("GET", "/admin/bindings/audit"),
            ("PUT", f"/admin/bindings/{SITE}/{NEW}"),
        ):
            r = c.request(method, V1 + path, headers=viewer, json={"room": "B-104"})
            assert r.status_code == 403 and "admin" in r.json()["detail"], (method, path)
        assert c.app.state.campus.binding_audit.newest_first() == []
    assert NEW not in (d / "bindings.yaml").read_text(encoding="utf-8")
