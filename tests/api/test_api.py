"""The API over the generated demo campus and a real SQLite store: hierarchy, status, history,
conditions, alerts, devices/agents, auth and roles, admin rebinding and reload."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import Role, TokenRegistry, load_tokens
from api.settings import TokensConfig
from store.sqlite import SQLiteStore
from tests.api.api_seed import (
    ADMIN_TOKEN,
    DARK_ROOM,
    HOT_ROOM,
    NOW_NS,
    STEP_NS,
    VIEWER_TOKEN,
    FixedClock,
    make_settings,
)

V1 = "/api/v1"


def room_id(client: TestClient, viewer: dict[str, str], number: str) -> str:
    rooms = client.get(f"{V1}/rooms", headers=viewer, params={"limit": 1000}).json()["items"]
    return next(r["id"] for r in rooms if r["number"] == number)


# ------------------------------------------------------------------ auth
def test_health_needs_no_token(client: TestClient) -> None:
    r = client.get(f"{V1}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["rooms"] == 23 and body["time"].endswith("+08:00")


@pytest.mark.parametrize(
    "path", ["/campuses", "/rooms", "/devices", "/agents", "/alerts", "/quantities", "/rooms/x/status"]
)
def test_every_other_endpoint_needs_a_token(client: TestClient, path: str) -> None:
    r = client.get(V1 + path)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    bad = client.get(V1 + path, headers={"Authorization": "Bearer not-a-real-token-xxxxxxxx"})
    assert bad.status_code == 401 and bad.json()["detail"] == "unknown token"
    basic = client.get(V1 + path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_viewer_cannot_change_state(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.post(f"{V1}/admin/reload", headers=viewer)
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = client.put(f"{V1}/admin/bindings/sz-demo-school/X-1", headers=viewer, json={"room": "A-101"})
    assert r.status_code == 403


def test_tokens_hashed_from_file_and_env(tmp_path: Path) -> None:
    reg = load_tokens(
        TokensConfig(file=None, env="T"),
        {"T": "viewer:plain-token-1234567890,admin:sha256:" + "ab" * 32},
    )
    assert isinstance(reg, TokenRegistry) and len(reg) == 2
    p = reg.authenticate("plain-token-1234567890")
    assert p is not None and p.role is Role.VIEWER and not p.can(Role.ADMIN)
    assert reg.authenticate("plain-token-123456789") is None
    with pytest.raises(ValueError, match="item 1"):
        load_tokens(TokensConfig(file=None, env="T"), {"T": "root:whatever-long-enough"})
    f = tmp_path / "tokens.yaml"
    f.write_text("tokens:\n  - {name: a, role: admin}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokens.yaml:2:\d+"):
        load_tokens(TokensConfig(file=f, env=None), {})


# ------------------------------------------------------------------ hierarchy
def test_hierarchy(client: TestClient, viewer: dict[str, str]) -> None:
    campuses = client.get(f"{V1}/campuses", headers=viewer).json()
    assert campuses["total"] == 1 and campuses["items"][0]["id"] == "sz-demo-school"
    buildings = client.get(f"{V1}/buildings", headers=viewer, params={"campus": "sz-demo-school"}).json()
    assert buildings["total"] == 2
    storeys = client.get(
        f"{V1}/storeys", headers=viewer, params={"building": buildings["items"][0]["id"]}
    ).json()
    assert storeys["total"] in (2, 3)
    page = client.get(f"{V1}/rooms", headers=viewer, params={"limit": 5, "offset": 5}).json()
    assert page["total"] == 23 and len(page["items"]) == 5 and page["offset"] == 5
    room = client.get(f"{V1}/rooms/{room_id(client, viewer, 'A-101')}", headers=viewer).json()
    assert room["type"] == "smart_classroom"
    assert room["type_label"] == {"zh": "智慧教室", "en": "Smart classroom"}
    assert room["area_m2"] == pytest.approx(67.5)
    assert "A-101-air" in room["devices"]


def test_not_found_and_bad_params_are_clear(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(f"{V1}/rooms/nope/status", headers=viewer)
    assert r.status_code == 404 and r.json() == {
        "error": "not_found",
        "detail": "room 'nope' not found",
        "fields": [],
    }
    r = client.get(f"{V1}/rooms", headers=viewer, params={"limit": 0})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "limit"


# ------------------------------------------------------------------ status and history
def test_room_status_values_and_verdicts(client: TestClient, viewer: dict[str, str]) -> None:
    s = client.get(f"{V1}/rooms/{room_id(client, viewer, HOT_ROOM)}/status", headers=viewer).json()
    assert s["time"] == "2026-11-23T10:20:00+08:00"
    co2 = next(v for v in s["values"] if v["quantity"] == "co2")
    assert co2["value"] > 1300 and co2["unit"] == "ppm" and co2["label"]["en"] == "CO₂" and not co2["stale"]
    assert s["occupied"] is True and s["occupancy_source"] == "sensor"
    co2_1h = next(v for v in s["verdicts"] if v["rule"] == "gbt18883-co2-1h")
    assert (
        co2_1h["status"] == "non_compliant" and co2_1h["standard"] == "GB/T 18883-2022" and co2_1h["clause"]
    )
    assert "ppm > 1000 ppm" in co2_1h["reason"]["zh"] and co2_1h["limit"] == 1000
    assert s["status"] == "non_compliant" and s["reason"]["zh"] and s["compliance"] == "fail"
    assert any(b["rule"] == "gbt18883-co2-1h" and b["measured"] > 1000 for b in s["breaches"])
    ok = client.get(f"{V1}/rooms/{room_id(client, viewer, 'A-102')}/status", headers=viewer).json()
    assert all(v["status"] != "non_compliant" for v in ok["verdicts"] if v["quantity"] == "co2")


def test_status_goes_stale_when_time_moves_on(
    twin_dir: Path, sqlite_store: SQLiteStore, viewer: dict[str, str]
) -> None:
    app = create_app(make_settings(twin_dir), store=sqlite_store, clock=FixedClock(NOW_NS + 6 * 3600 * 10**9))
    with TestClient(app) as c:
        s = c.get(f"{V1}/rooms/{room_id(c, viewer, HOT_ROOM)}/status", headers=viewer).json()
    assert s["values"] and all(v["stale"] for v in s["values"])
    assert all(v["age_s"] >= 6 * 3600 for v in s["values"])


def test_history_aggregates_in_local_time(client: TestClient, viewer: dict[str, str]) -> None:
    rid = room_id(client, viewer, HOT_ROOM)
    r = client.get(
        f"{V1}/rooms/{rid}/history",
        headers=viewer,
        params={"quantity": "co2", "from": "2026-11-23T08:00:00", "to": "2026-11-23T10:00:00", "every": "1h"},
    )
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["start"] == "2026-11-23T08:00:00+08:00" and h["every_s"] == 3600
    pts = h["series"][0]["points"]
    assert [p["time"] for p in pts] == ["2026-11-23T08:00:00+08:00", "2026-11-23T09:00:00+08:00"]
    assert all(p["count"] == 12 and 1250 < p["value"] < 1550 for p in pts)
    raw = client.get(
        f"{V1}/rooms/{rid}/history",
        headers=viewer,
        params={
            "quantity": "co2",
            "from": "2026-11-23T09:00:00+08:00",
            "to": "2026-11-23T10:00:00+08:00",
            "every": "raw",
        },
    ).json()
    assert len(raw["series"][0]["points"]) == 3600 * 10**9 // STEP_NS
    mx = client.get(
        f"{V1}/rooms/{rid}/history", headers=viewer, params={"quantity": "co2", "every": "1d", "agg": "max"}
    )
    assert mx.status_code == 200 and mx.json()["agg"] == "max"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"quantity": "radon"}, "quantity"),
        ({"quantity": "co2", "every": "5 minutes"}, "every"),
        ({"quantity": "co2", "every": "1s"}, "every"),
        ({"quantity": "co2", "every": "999999w"}, "every"),  # past 64-bit ns: was a 500
        ({"quantity": "co2", "from": "yesterday"}, "from"),
        ({"quantity": "co2", "from": "2026-11-23T10:00:00", "to": "2026-11-23T09:00:00"}, "from"),
        ({"quantity": "co2", "agg": "sum"}, "agg"),
        ({"quantity": "co2", "every": "raw", "from": "2026-11-01"}, "every"),
    ],
)
def test_history_rejects_bad_params(
    client: TestClient, viewer: dict[str, str], params: dict[str, str], field: str
) -> None:
    r = client.get(f"{V1}/rooms/{room_id(client, viewer, HOT_ROOM)}/history", headers=viewer, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["fields"][0]["field"] == field


# ------------------------------------------------------------------ conditions
def test_rooms_by_condition(client: TestClient, viewer: dict[str, str]) -> None:
    hot = client.get(f"{V1}/rooms", headers=viewer, params={"condition": "co2>1000"}).json()
    assert [r["number"] for r in hot["items"]] == [HOT_ROOM]
    assert hot["items"][0]["matched"]["co2"] > 1000
    same = client.get(
        f"{V1}/rooms", headers=viewer, params={"quantity": "co2", "op": "gt", "value": 1000}
    ).json()
    assert [r["number"] for r in same["items"]] == [HOT_ROOM]
    dark = client.get(
        f"{V1}/rooms", headers=viewer, params={"condition": "illuminance<300", "occupied": "true"}
    ).json()
    assert DARK_ROOM in [r["number"] for r in dark["items"]]
    both = client.get(
        f"{V1}/rooms", headers=viewer, params={"condition": "co2>1000 and temperature<100"}
    ).json()
    assert both["total"] == 1


@pytest.mark.parametrize(
    "condition",
    ["co2>", "co2 >> 5", "__import__('os')>1", "radon>1", "co2>1e999", "co2>1;drop table series", "x" * 400],
)
def test_condition_grammar_rejects(client: TestClient, viewer: dict[str, str], condition: str) -> None:
    r = client.get(f"{V1}/rooms", headers=viewer, params={"condition": condition})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"


# ------------------------------------------------------------------ alerts, devices, agents
def test_alerts_have_start_end_and_standard(client: TestClient, viewer: dict[str, str]) -> None:
    a = client.get(f"{V1}/alerts", headers=viewer).json()
    rules = {(x["room_number"], r["rule"]) for x in a["items"] for r in x["rules"]}
    assert (HOT_ROOM, "gbt18883-co2-1h") in rules
    assert (DARK_ROOM, "gb7793-desk-illuminance") in rules
    # one episode per room × quantity, listing every rule it breaks: no duplicates
    assert len({(x["room"], x["quantity"], x["start"]) for x in a["items"]}) == a["total"]
    co2 = [x for x in a["items"] if x["room_number"] == HOT_ROOM and x["quantity"] == "co2"]
    assert len(co2) == 1 and {r["rule"] for r in co2[0]["rules"]} == {"gbt18883-co2-1h", "gbt17226-co2-daily"}
    dark = [x for x in a["items"] if x["room_number"] == DARK_ROOM and x["quantity"] == "illuminance"]
    # the dark room is dark since 早读 (07:30), across the short breaks, and still is (open)
    assert [(x["start"], x["end"], x["worst"]) for x in dark] == [("2026-11-23T07:30:00+08:00", None, 120.0)]
    # seen at 10:00, in the 大课间: the episode ended with the lesson at 09:40
    early = client.get(f"{V1}/alerts", headers=viewer, params={"to": "2026-11-23T10:00:00+08:00"}).json()
    dark = [x for x in early["items"] if x["room_number"] == DARK_ROOM and x["quantity"] == "illuminance"]
    assert [(x["start"], x["end"]) for x in dark] == [
        ("2026-11-23T07:30:00+08:00", "2026-11-23T09:40:00+08:00")
    ]
    open_only = client.get(
        f"{V1}/alerts", headers=viewer, params={"open": "true", "to": "2026-11-23T10:00:00+08:00"}
    ).json()
    assert open_only["total"] < early["total"] and all(x["end"] is None for x in open_only["items"])


def test_devices_and_agents(client: TestClient, viewer: dict[str, str]) -> None:
    d = client.get(f"{V1}/devices", headers=viewer, params={"limit": 1000}).json()
    air = next(x for x in d["items"] if x["id"] == "A-101-air")
    assert air["room_number"] == "A-101" and air["agent"] == "gw-A" and not air["stale"]
    assert {"co2", "temperature"} <= set(air["points"])
    agents = client.get(f"{V1}/agents", headers=viewer).json()
    assert {a["id"] for a in agents["items"]} == {"gw-A", "gw-B"}


# ------------------------------------------------------------------ admin
def state_roles(app: Any) -> dict[tuple[str, str | None], str | None]:
    return {(b.device, b.point): b.role for b in app.state.campus.loaded.bindings.bindings}


def test_admin_rebinds_and_reloads(twin_dir: Path, sqlite_store: SQLiteStore, admin: dict[str, str]) -> None:
    app = create_app(
        make_settings(twin_dir, bindings_export=twin_dir / "bindings.json"),
        store=sqlite_store,
        clock=FixedClock(),
    )
    viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    with TestClient(app) as c:
        target = room_id(c, viewer, "A-102")
        r = c.put(f"{V1}/admin/bindings/sz-demo-school/A-101-air", headers=admin, json={"room": "A-102"})
        assert r.status_code == 200, r.text
        assert r.json()["room"] == target
        assert "A-101-air" in c.get(f"{V1}/rooms/{target}", headers=viewer).json()["devices"]
        text = (twin_dir / "bindings.yaml").read_text(encoding="utf-8")
        assert text.startswith("# operator bindings") and "A-101-air" in text and target in text
        assert "A-101-air" in (twin_dir / "bindings.json").read_text(encoding="utf-8")
        # the binding file survives a reload: the twin reads it back
        r = c.post(f"{V1}/admin/reload", headers=admin)
        assert r.status_code == 200 and r.json()["rooms"] == 23
        assert "A-101-air" in c.get(f"{V1}/rooms/{target}", headers=viewer).json()["devices"]
        # moving the wall monitor keeps where it measures (its profile's role), across the reload
        assert "role: wall" in (twin_dir / "bindings.yaml").read_text(encoding="utf-8")
        assert '"role": "wall"' in (twin_dir / "bindings.json").read_text(encoding="utf-8")
        r = c.put(
            f"{V1}/admin/bindings/sz-demo-school/A-101-air",
            headers=admin,
            json={"room": "A-102", "point": "illuminance", "role": "desk"},
        )
        assert r.status_code == 200 and r.json()["role"] == "desk", r.text
        assert state_roles(app)[("A-101-air", "illuminance")] == "desk"
        bad_role = c.put(
            f"{V1}/admin/bindings/sz-demo-school/A-101-air",
            headers=admin,
            json={"room": "A-102", "role": "floor"},
        )
        assert bad_role.status_code == 422
        bad = c.put(f"{V1}/admin/bindings/sz-demo-school/A-101-air", headers=admin, json={"room": "Z-999"})
        assert bad.status_code == 404
        bad_id = c.put(f"{V1}/admin/bindings/sz-demo-school/bad%20id", headers=admin, json={"room": "A-101"})
        assert bad_id.status_code == 422
        # undo, so other tests see the generated binding
        c.put(f"{V1}/admin/bindings/sz-demo-school/A-101-air", headers=admin, json={"room": "A-101"})
    assert ADMIN_TOKEN not in (twin_dir / "bindings.yaml").read_text(encoding="utf-8")


@pytest.mark.slow  # builds two apps
def test_cors_off_by_default_and_on_when_configured(twin_dir: Path, sqlite_store: SQLiteStore) -> None:
    headers = {"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(make_settings(twin_dir), store=sqlite_store)) as c:
        r = c.options(f"{V1}/campuses", headers=headers)
        assert "access-control-allow-origin" not in r.headers
    app = create_app(make_settings(twin_dir, cors_origins=["http://ops.school"]), store=sqlite_store)
    with TestClient(app) as c:
        r = c.options(f"{V1}/campuses", headers={**headers, "Origin": "http://ops.school"})
        assert r.headers["access-control-allow-origin"] == "http://ops.school"


def test_ui_served(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "数字孪生校园" in r.text
    assert client.get("/static/app.js").status_code == 200


def test_indicators(client: TestClient, viewer: dict[str, str]) -> None:
    r = client.get(f"{V1}/campuses/sz-demo-school/indicators", headers=viewer, params={"days": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["start"] == "2026-11-22T10:20:00+08:00"
    ids = {i["id"]: i for i in body["indicators"]}
    assert ids["rooms_total"]["value"] == 23
    assert 0 < ids["sensor_coverage"]["value"] <= 1
    assert len(ids) > 3 and all(i["label"]["zh"] for i in body["indicators"])
    assert client.get(f"{V1}/campuses/nope/indicators", headers=viewer).status_code == 404


@pytest.mark.integration
def test_indicators_built_in_a_worker_process_match_the_thread_build(
    twin_dir: Path, sqlite_store: SQLiteStore, client: TestClient, viewer: dict[str, str]
) -> None:
    """With its own store the API builds indicators in a worker process (off its GIL); the
    report is the same as the in-thread build over the same store file."""
    params = {"days": 1}
    in_thread = client.get(f"{V1}/campuses/sz-demo-school/indicators", headers=viewer, params=params).json()
    app = create_app(make_settings(twin_dir), clock=FixedClock())  # opens the store itself
    with TestClient(app) as c:
        assert app.state.campus.builds is not None
        r = c.get(f"{V1}/campuses/sz-demo-school/indicators", headers=viewer, params=params)
        assert r.status_code == 200, r.text
        assert r.json() == in_thread
        assert app.state.campus.builds._pool is not None  # it did go through the worker


@pytest.mark.slow  # reads each bad file in a child reader
def test_reload_lists_each_bad_ifc_file(
    twin_dir: Path, sqlite_store: SQLiteStore, admin: dict[str, str], tmp_path: Path
) -> None:
    """An operator adds a truncated export and a stray non-IFC file: the reload still succeeds
    and names both files with what is wrong with each."""
    good = yaml.safe_load((twin_dir / "twin.yaml").read_text(encoding="utf-8"))
    cut = tmp_path / "cut.ifc"
    whole = Path(good["campuses"][0]["ifc"][0]).read_text(encoding="utf-8")
    cut.write_text(whole[: len(whole) // 2], encoding="utf-8")
    stray = tmp_path / "notes.ifc"
    stray.write_text("meeting notes, not a model\n", encoding="utf-8")
    good["campuses"][0]["ifc"] += [str(cut), str(stray)]
    good["campuses"][0]["bindings"] = str(twin_dir / "bindings.yaml")
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(good), encoding="utf-8")
    shutil.copy(twin_dir / "tokens.yaml", tmp_path / "tokens.yaml")
    app = create_app(make_settings(tmp_path), store=sqlite_store, clock=FixedClock())
    with TestClient(app) as c:
        r = c.post(f"{V1}/admin/reload", headers=admin)
        assert r.status_code == 200, r.text
        body = r.json()
        # what the truncated copy holds is served too, as its own objects (campus, file, GlobalId),
        # behind its problem and the "also in" problems naming both copies
        from twin.ifc_loader import load_ifc

        partial = sum(len(b.all_spaces()) for b in load_ifc(cut, "x").buildings)
        assert partial and body["rooms"] == 23 + partial
        by_file = {p["file"]: p for p in body["problems"]}
        assert set(by_file) == {str(cut), str(stray)}, body["problems"]
        assert all(p["kind"] and p["message"] for p in by_file.values())
        assert by_file[str(cut)]["kind"] != by_file[str(stray)]["kind"]
